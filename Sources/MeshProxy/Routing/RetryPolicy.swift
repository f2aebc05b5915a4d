internal import MeshXDS
public import NIOHTTP1

/// How an upstream attempt failed without a response the router could forward.
public enum UpstreamFailureKind: Sendable, Hashable {
    /// The connection to the upstream host could not be established (refused, timed out, TLS failed).
    case connectFailure
    /// The stream or connection was reset before response headers arrived. `requestSent` is false when
    /// no request bytes reached the upstream yet (what `reset-before-request` retries).
    case reset(requestSent: Bool)
    /// The upstream refused the stream (HTTP/2 `REFUSED_STREAM`).
    case refusedStream
    /// The per-try timeout expired before response headers arrived.
    case perTryTimeout
    /// A circuit breaker or connection pool limit overflowed; never retried.
    case overflow
}

/// A route's `retry_policy`: when to retry, how often, and how long to wait, as pure decisions.
///
/// Only the attempt before any response headers reach the downstream may be retried; the engine
/// enforces that, the retry budget / `max_retries` circuit breaker, host predicates and priorities.
public struct RetryPolicy: Sendable {
    /// The `retry_on` conditions, parsed from its comma-separated tokens.
    public struct Conditions: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Any 5xx response, and every failure without a response except overflow.
        public static let fiveXX = Conditions(rawValue: 1 << 0)
        /// 502, 503 and 504 responses, and every failure without a response except overflow.
        public static let gatewayError = Conditions(rawValue: 1 << 1)
        /// Resets, disconnects and per-try timeouts (no response).
        public static let reset = Conditions(rawValue: 1 << 2)
        /// Resets before the request reached the upstream, including connect failures.
        public static let resetBeforeRequest = Conditions(rawValue: 1 << 3)
        /// Connection failures.
        public static let connectFailure = Conditions(rawValue: 1 << 4)
        /// Responses carrying `x-envoy-ratelimited`.
        public static let envoyRateLimited = Conditions(rawValue: 1 << 5)
        /// 409 responses.
        public static let retriable4xx = Conditions(rawValue: 1 << 6)
        /// HTTP/2 `REFUSED_STREAM` resets.
        public static let refusedStream = Conditions(rawValue: 1 << 7)
        /// Responses whose status is in `retriable_status_codes`.
        public static let retriableStatusCodes = Conditions(rawValue: 1 << 8)
        /// Responses matching `retriable_headers`.
        public static let retriableHeaders = Conditions(rawValue: 1 << 9)
        /// HTTP/3 failures after connecting (recorded; this proxy has no HTTP/3 upstreams).
        public static let http3PostConnectFailure = Conditions(rawValue: 1 << 10)
        /// gRPC status CANCELLED (1).
        public static let grpcCancelled = Conditions(rawValue: 1 << 11)
        /// gRPC status DEADLINE_EXCEEDED (4).
        public static let grpcDeadlineExceeded = Conditions(rawValue: 1 << 12)
        /// gRPC status INTERNAL (13).
        public static let grpcInternal = Conditions(rawValue: 1 << 13)
        /// gRPC status RESOURCE_EXHAUSTED (8).
        public static let grpcResourceExhausted = Conditions(rawValue: 1 << 14)
        /// gRPC status UNAVAILABLE (14).
        public static let grpcUnavailable = Conditions(rawValue: 1 << 15)

        /// Envoy's `retry_on` token for each condition.
        public static let tokens: [(String, Conditions)] = [
            ("5xx", .fiveXX), ("gateway-error", .gatewayError), ("reset", .reset),
            ("reset-before-request", .resetBeforeRequest), ("connect-failure", .connectFailure),
            ("envoy-ratelimited", .envoyRateLimited), ("retriable-4xx", .retriable4xx),
            ("refused-stream", .refusedStream), ("retriable-status-codes", .retriableStatusCodes),
            ("retriable-headers", .retriableHeaders), ("http3-post-connect-failure", .http3PostConnectFailure),
            ("cancelled", .grpcCancelled), ("deadline-exceeded", .grpcDeadlineExceeded), ("internal", .grpcInternal),
            ("resource-exhausted", .grpcResourceExhausted), ("unavailable", .grpcUnavailable),
        ]

        /// Parses a `retry_on` string; nil names the first unknown token.
        static func parse(_ text: String) -> Result<Conditions, UnknownToken> {
            var result: Conditions = []
            for raw in text.split(separator: ",") {
                let token = raw.trimmed(" \t")
                if token.isEmpty { continue }
                guard let match = tokens.first(where: { $0.0 == token }) else { return .failure(UnknownToken(token: token)) }
                result.insert(match.1)
            }
            return .success(result)
        }

        struct UnknownToken: Error { let token: String }

        /// The conditions a request header names (`x-envoy-retry-on`, `x-envoy-retry-grpc-on`);
        /// unknown tokens are ignored, as Envoy ignores them there.
        static func lenient(_ text: String, allowed: Conditions) -> Conditions {
            var result: Conditions = []
            for raw in text.split(separator: ",") {
                if let match = tokens.first(where: { $0.0 == raw.trimmed(" \t") }), allowed.contains(match.1) { result.insert(match.1) }
            }
            return result
        }

        static let grpc: Conditions = [.grpcCancelled, .grpcDeadlineExceeded, .grpcInternal, .grpcResourceExhausted, .grpcUnavailable]
    }

    /// When to retry.
    public internal(set) var retryOn: Conditions
    /// The maximum number of retries (`num_retries`, default 1).
    public internal(set) var numRetries: Int
    /// The timeout of each attempt, nil when the route's timeout alone applies.
    public internal(set) var perTryTimeout: Duration?
    /// How long an attempt may go without any bytes, nil for no limit.
    public let perTryIdleTimeout: Duration?
    /// The backoff base interval (`retry_back_off.base_interval`, default 25 ms; at least 1 ms).
    public let baseInterval: Duration
    /// The backoff cap (`retry_back_off.max_interval`, default 10 × base).
    public let maxInterval: Duration
    /// The statuses `retriable-status-codes` retries on, in configuration order.
    public internal(set) var retriableStatusCodes: [Int]
    /// The response matchers `retriable-headers` retries on.
    public let retriableHeaders: [HeaderMatcher]
    /// Request matchers: when non-empty, only requests matching one of them may be retried.
    public let retriableRequestHeaders: [HeaderMatcher]
    /// The `retry_host_predicate` extension names (`envoy.retry_host_predicates.previous_hosts`, ...).
    public var hostPredicates: [String] { hostPredicateRules.map(\.name) }
    /// The host predicates, in configuration order.
    let hostPredicateRules: [RetryHostPredicate]
    /// How many times host selection is retried against the predicates (default 1).
    public let hostSelectionRetryMaxAttempts: Int
    /// The `retry_priority` extension name, if any (`envoy.retry_priorities.previous_priorities`).
    public var retryPriority: String? { priority?.name }
    /// The retry priority.
    let priority: RetryPriority?

    /// Envoy's default backoff base interval.
    public static let defaultBaseInterval: Duration = .milliseconds(25)

    /// The policy Envoy applies when only request headers (`x-envoy-retry-on`) ask for retries:
    /// the defaults of an empty `RetryPolicy`.
    static let requestHeaderDefault: RetryPolicy = {
        guard let policy = try? RetryPolicy(Envoy_Config_Route_V3_RetryPolicy(), "retry_policy", RouteConfigurationContext(resourceName: "x-envoy-retry-on")) else {
            preconditionFailure("the empty retry policy is valid")
        }
        return policy
    }()

    init(_ proto: Envoy_Config_Route_V3_RetryPolicy, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        switch Conditions.parse(proto.retryOn) {
        case .success(let conditions): retryOn = conditions
        case .failure(let unknown):
            throw context.invalid(field + ".retry_on", "unknown retry condition \"\(unknown.token)\"")
        }
        numRetries = proto.hasNumRetries ? Int(proto.numRetries.value) : 1
        perTryTimeout = try proto.hasPerTryTimeout ? context.duration(proto.perTryTimeout, field + ".per_try_timeout").nonZero : nil
        perTryIdleTimeout = try proto.hasPerTryIdleTimeout ? context.duration(proto.perTryIdleTimeout, field + ".per_try_idle_timeout").nonZero : nil
        if proto.hasRetryBackOff {
            let backOff = proto.retryBackOff
            guard backOff.hasBaseInterval else {
                throw context.invalid(field + ".retry_back_off.base_interval", "base_interval is required")
            }
            let base = try context.duration(backOff.baseInterval, field + ".retry_back_off.base_interval")
            guard base > .zero else { throw context.invalid(field + ".retry_back_off.base_interval", "must be greater than zero") }
            // Envoy works in whole milliseconds and rounds sub-millisecond intervals up to 1 ms.
            baseInterval = max(base.wholeMilliseconds, .milliseconds(1))
            if backOff.hasMaxInterval {
                let maximum = try context.duration(backOff.maxInterval, field + ".retry_back_off.max_interval")
                guard maximum > .zero else { throw context.invalid(field + ".retry_back_off.max_interval", "must be greater than zero") }
                maxInterval = max(maximum.wholeMilliseconds, .milliseconds(1))
                guard maxInterval >= baseInterval else {
                    throw context.invalid(field + ".retry_back_off.max_interval", "must be greater than or equal to base_interval")
                }
            } else {
                maxInterval = baseInterval * 10
            }
        } else {
            baseInterval = Self.defaultBaseInterval
            maxInterval = Self.defaultBaseInterval * 10
        }
        var codes: [Int] = []
        for (i, code) in proto.retriableStatusCodes.enumerated() {
            guard (100...599).contains(code) else {
                throw context.invalid(field + ".retriable_status_codes[\(i)]", "\(code) is not an HTTP status")
            }
            codes.append(Int(code))
        }
        retriableStatusCodes = codes
        var headers: [HeaderMatcher] = []
        for (i, matcher) in proto.retriableHeaders.enumerated() {
            headers.append(try HeaderMatcher(matcher, field + ".retriable_headers[\(i)]", context))
        }
        retriableHeaders = headers
        var requestHeaders: [HeaderMatcher] = []
        for (i, matcher) in proto.retriableRequestHeaders.enumerated() {
            requestHeaders.append(try HeaderMatcher(matcher, field + ".retriable_request_headers[\(i)]", context))
        }
        retriableRequestHeaders = requestHeaders
        var predicates: [RetryHostPredicate] = []
        for (i, predicate) in proto.retryHostPredicate.enumerated() {
            predicates.append(try RetryHostPredicate(predicate, field + ".retry_host_predicate[\(i)]", context))
        }
        hostPredicateRules = predicates
        guard proto.hostSelectionRetryMaxAttempts >= 0 else {
            throw context.invalid(field + ".host_selection_retry_max_attempts", "must not be negative")
        }
        hostSelectionRetryMaxAttempts = proto.hostSelectionRetryMaxAttempts == 0 ? 1 : Int(proto.hostSelectionRetryMaxAttempts)
        priority = proto.hasRetryPriority ? try RetryPriority(proto.retryPriority, field + ".retry_priority", context) : nil
    }


    /// Whether a request may be retried at all (`retriable_request_headers`).
    public func allowsRetry(requestHeaders: HTTPHeaders) -> Bool {
        retriableRequestHeaders.isEmpty || retriableRequestHeaders.contains { $0.matches(requestHeaders) }
    }

    /// Whether a request may be retried at all, reading pseudo-headers (`:method`, ...) from the request line.
    public func allowsRetry(for request: RouteRequest) -> Bool {
        retriableRequestHeaders.isEmpty || retriableRequestHeaders.contains { $0.matches(value: request.headerValue($0.name)) }
    }

    /// Whether a response with `status` and `headers` should be retried, in Envoy's order: a response
    /// with `x-envoy-ratelimited` only under `envoy-ratelimited`; then 5xx, gateway errors, 409,
    /// listed statuses, matching headers and gRPC statuses (from `grpc-status`).
    public func shouldRetry(status: Int, headers: HTTPHeaders) -> Bool {
        if headers.contains(name: "x-envoy-ratelimited") {
            return retryOn.contains(.envoyRateLimited)
        }
        if retryOn.contains(.fiveXX), (500...599).contains(status) { return true }
        if retryOn.contains(.gatewayError), (502...504).contains(status) { return true }
        if retryOn.contains(.retriable4xx), status == 409 { return true }
        if retryOn.contains(.retriableStatusCodes), retriableStatusCodes.contains(status) { return true }
        if retryOn.contains(.retriableHeaders), retriableHeaders.contains(where: { $0.matches(headers) }) { return true }
        if !retryOn.isDisjoint(with: .grpc), let text = headers.first(name: "grpc-status"), let code = Int(text) {
            switch code {
            case 1: return retryOn.contains(.grpcCancelled)
            case 4: return retryOn.contains(.grpcDeadlineExceeded)
            case 8: return retryOn.contains(.grpcResourceExhausted)
            case 13: return retryOn.contains(.grpcInternal)
            case 14: return retryOn.contains(.grpcUnavailable)
            default: return false
            }
        }
        return false
    }

    /// Whether an attempt that failed without a response should be retried, in Envoy's order:
    /// overflow never; connect failures under `connect-failure`; anything before the request was sent
    /// under `reset-before-request`; everything under `5xx`, `gateway-error` and `reset`; refused
    /// streams under `refused-stream`.
    public func shouldRetry(failure: UpstreamFailureKind) -> Bool {
        switch failure {
        case .overflow:
            return false
        case .connectFailure:
            if retryOn.contains(.connectFailure) || retryOn.contains(.resetBeforeRequest) { return true }
        case .reset(let requestSent):
            if !requestSent, retryOn.contains(.resetBeforeRequest) { return true }
        case .refusedStream:
            if retryOn.contains(.refusedStream) { return true }
        case .perTryTimeout:
            break
        }
        return !retryOn.isDisjoint(with: [.fiveXX, .gatewayError, .reset])
    }

    /// The wait before retry number `attempt + 1` (`attempt` 0 is the first retry): Envoy's fully
    /// jittered exponential backoff, `random % min(base × 2^attempt, max)` in whole milliseconds.
    public func backoff(attempt: Int, random: UInt64) -> Duration {
        Self.jitteredBackoff(attempt: attempt, base: baseInterval, max: maxInterval, random: random)
    }

    /// Envoy's fully jittered exponential backoff for retry number `attempt + 1`:
    /// `random % min(base × 2^attempt, max)` in whole milliseconds (at least 1 ms).
    static func jitteredBackoff(attempt: Int, base baseInterval: Duration, max maxInterval: Duration, random: UInt64) -> Duration {
        let base = baseInterval.millisecondCount
        let cap = maxInterval.millisecondCount
        var interval = base
        var step = 0
        while step < attempt, interval < cap {
            interval = interval < cap / 2 ? interval * 2 : cap
            step += 1
        }
        interval = max(min(interval, cap), 1)
        return .milliseconds(Int64(random % interval))
    }
}

extension Duration {
    /// The duration truncated to whole milliseconds.
    var wholeMilliseconds: Duration {
        let (seconds, attoseconds) = components
        return .seconds(seconds) + .milliseconds(attoseconds / 1_000_000_000_000_000)
    }

    /// Whole milliseconds, at least 1.
    var millisecondCount: UInt64 {
        let (seconds, attoseconds) = components
        return max(UInt64(max(seconds, 0)) * 1000 + UInt64(max(attoseconds, 0) / 1_000_000_000_000_000), 1)
    }

    /// Nil for zero, which Envoy reads as "not set" for per-try timeouts.
    var nonZero: Duration? { self == .zero ? nil : self }
}

extension Substring {
    func trimmed(_ set: String) -> String {
        var s = self
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return String(s)
    }
}
