import NIOHTTP1
import SwiftProtobuf
import Testing
@testable import MeshProxy

@Suite("Retry policies")
struct RetryPolicyTests {
    static func policy(_ json: String) throws -> RetryPolicy {
        let table = try RoutingFixture.table(routes: #"{"match": {"prefix": "/"}, "route": {"cluster": "c", "retry_policy": \#(json)}}"#)
        return try #require(table.route(for: RoutingFixture.request("/"))?.forward?.retryPolicy)
    }

    @Test func parsesEveryToken() throws {
        let all = RetryPolicy.Conditions.tokens.map(\.0).joined(separator: ", ")
        let policy = try Self.policy(#"{"retry_on": "\#(all)"}"#)
        #expect(policy.retryOn.rawValue == (1 << 16) - 1)
        #expect(try Self.policy(#"{"retry_on": ""}"#).retryOn.isEmpty)
    }

    @Test func defaults() throws {
        let policy = try Self.policy(#"{"retry_on": "5xx"}"#)
        #expect(policy.numRetries == 1)
        #expect(policy.perTryTimeout == nil)
        #expect(policy.baseInterval == .milliseconds(25))
        #expect(policy.maxInterval == .milliseconds(250))
        #expect(policy.hostSelectionRetryMaxAttempts == 1)
        let custom = try Self.policy(#"{"retry_on": "5xx", "num_retries": 0, "per_try_timeout": "0.8s", "per_try_idle_timeout": "1s", "retry_back_off": {"base_interval": "0.05s"}}"#)
        #expect(custom.numRetries == 0)
        #expect(custom.perTryTimeout == .milliseconds(800))
        #expect(custom.perTryIdleTimeout == .seconds(1))
        #expect(custom.baseInterval == .milliseconds(50))
        #expect(custom.maxInterval == .milliseconds(500))
        let subMillisecond = try Self.policy(#"{"retry_back_off": {"base_interval": "0.0001s"}}"#)
        #expect(subMillisecond.baseInterval == .milliseconds(1))
    }

    struct ResponseCase: Sendable, CustomTestStringConvertible {
        let retryOn: String
        let status: Int
        let headers: [(String, String)]
        let retry: Bool
        init(_ retryOn: String, _ status: Int, _ retry: Bool, _ headers: [(String, String)] = []) {
            self.retryOn = retryOn
            self.status = status
            self.headers = headers
            self.retry = retry
        }
        var testDescription: String { "\(retryOn) \(status) \(headers) → \(retry)" }
    }

    static let responseCases: [ResponseCase] = [
        ResponseCase("5xx", 500, true), ResponseCase("5xx", 503, true), ResponseCase("5xx", 404, false), ResponseCase("5xx", 200, false),
        ResponseCase("gateway-error", 502, true), ResponseCase("gateway-error", 503, true), ResponseCase("gateway-error", 504, true),
        ResponseCase("gateway-error", 500, false),
        ResponseCase("retriable-4xx", 409, true), ResponseCase("retriable-4xx", 429, false),
        ResponseCase("retriable-status-codes", 429, true), ResponseCase("retriable-status-codes", 503, true), ResponseCase("retriable-status-codes", 500, false),
        ResponseCase("5xx", 503, false, [("x-envoy-ratelimited", "true")]),
        ResponseCase("envoy-ratelimited", 429, true, [("x-envoy-ratelimited", "true")]),
        ResponseCase("envoy-ratelimited", 503, false),
        ResponseCase("retriable-headers", 200, true, [("x-retry", "yes")]),
        ResponseCase("retriable-headers", 200, false, [("x-retry", "no")]),
        ResponseCase("unavailable", 200, true, [("grpc-status", "14")]),
        ResponseCase("unavailable", 200, false, [("grpc-status", "13")]),
        ResponseCase("internal", 200, true, [("grpc-status", "13")]),
        ResponseCase("cancelled", 200, true, [("grpc-status", "1")]),
        ResponseCase("deadline-exceeded", 200, true, [("grpc-status", "4")]),
        ResponseCase("resource-exhausted", 200, true, [("grpc-status", "8")]),
        ResponseCase("resource-exhausted", 200, false),
        ResponseCase("reset,connect-failure,refused-stream", 503, false),
    ]

    @Test(arguments: responseCases)
    func responseDecisions(_ c: ResponseCase) throws {
        let policy = try Self.policy(#"{"retry_on": "\#(c.retryOn)", "retriable_status_codes": [429, 503], "retriable_headers": [{"name": "x-retry", "exact_match": "yes"}]}"#)
        #expect(policy.shouldRetry(status: c.status, headers: HTTPHeaders(c.headers)) == c.retry)
    }

    static let failureCases: [(String, UpstreamFailureKind, Bool)] = [
        ("5xx", .connectFailure, true), ("5xx", .reset(requestSent: true), true), ("5xx", .refusedStream, true), ("5xx", .perTryTimeout, true),
        ("5xx", .overflow, false),
        ("gateway-error", .connectFailure, true), ("gateway-error", .perTryTimeout, true),
        ("reset", .reset(requestSent: true), true), ("reset", .connectFailure, true), ("reset", .perTryTimeout, true), ("reset", .overflow, false),
        ("connect-failure", .connectFailure, true), ("connect-failure", .reset(requestSent: false), false), ("connect-failure", .perTryTimeout, false),
        ("reset-before-request", .reset(requestSent: false), true), ("reset-before-request", .reset(requestSent: true), false),
        ("reset-before-request", .connectFailure, true), ("reset-before-request", .perTryTimeout, false),
        ("refused-stream", .refusedStream, true), ("refused-stream", .reset(requestSent: true), false),
        ("retriable-status-codes", .connectFailure, false), ("unavailable", .reset(requestSent: true), false),
        ("", .connectFailure, false),
    ]

    @Test(arguments: failureCases)
    func failureDecisions(_ retryOn: String, _ failure: UpstreamFailureKind, _ retry: Bool) throws {
        #expect(try Self.policy(#"{"retry_on": "\#(retryOn)"}"#).shouldRetry(failure: failure) == retry)
    }

    @Test func istioDefaultPolicy() throws {
        // What Istio sends for a route without retries configured.
        let policy = try Self.policy("""
        {"retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", "num_retries": 2,
         "retriable_status_codes": [503], "host_selection_retry_max_attempts": "5",
         "retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts",
           "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}]}
        """)
        #expect(policy.numRetries == 2)
        #expect(policy.hostPredicates == ["envoy.retry_host_predicates.previous_hosts"])
        #expect(policy.hostSelectionRetryMaxAttempts == 5)
        #expect(policy.shouldRetry(status: 503, headers: [:]))
        #expect(!policy.shouldRetry(status: 500, headers: [:]))
        #expect(!policy.shouldRetry(status: 502, headers: [:]))
        #expect(policy.shouldRetry(status: 200, headers: ["grpc-status": "14"]))
        #expect(policy.shouldRetry(failure: .connectFailure))
        #expect(policy.shouldRetry(failure: .refusedStream))
        #expect(!policy.shouldRetry(failure: .reset(requestSent: true)))
        #expect(!policy.shouldRetry(failure: .perTryTimeout))
    }

    @Test func hostPredicatesAndRetryPriorityAreParsed() throws {
        let policy = try Self.policy("""
        {"retry_on": "5xx", "retry_host_predicate": [
           {"name": "envoy.retry_host_predicates.omit_canary_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate"}},
           {"name": "envoy.retry_host_predicates.omit_host_metadata",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig",
                             "metadata_match": {"filter_metadata": {"envoy.lb": {"version": "v2"}}}}}],
         "retry_priority": {"name": "envoy.retry_priorities.previous_priorities",
           "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", "update_frequency": 2}}}
        """)
        #expect(policy.hostPredicates == ["envoy.retry_host_predicates.omit_canary_hosts", "envoy.retry_host_predicates.omit_host_metadata"])
        #expect(policy.hostPredicateRules.last == .omitHostMetadata(["version": Google_Protobuf_Value(stringValue: "v2")]))
        #expect(policy.priority == .previousPriorities(updateFrequency: 2))
        #expect(policy.retryPriority == "envoy.retry_priorities.previous_priorities")
    }

    /// Envoy recomputes the excluded priorities every `update_frequency` attempts, from every
    /// attempt made up to then.
    @Test func previousPrioritiesExcludeEveryUpdateFrequencyAttempts() {
        let every2 = RetryPriority.previousPriorities(updateFrequency: 2)
        #expect(every2.excludedPriorities(attempted: []) == nil)
        #expect(every2.excludedPriorities(attempted: [0]) == nil)
        #expect(every2.excludedPriorities(attempted: [0, 0]) == [0])
        #expect(every2.excludedPriorities(attempted: [0, 0, 1]) == [0])
        #expect(every2.excludedPriorities(attempted: [0, 0, 1, 2]) == [0, 1, 2])
        #expect(RetryPriority.previousPriorities(updateFrequency: 1).excludedPriorities(attempted: [1]) == [1])
    }

    static let unsupportedRetryExtensions: [(String, String, String)] = [
        (#"{"retry_host_predicate": [{"name": "acme.retry_host_predicates.custom"}]}"#, "retry_host_predicate[0]", "acme.retry_host_predicates.custom"),
        (#"{"retry_host_predicate": [{"name": "x", "typed_config": {"@type": "type.googleapis.com/google.protobuf.Struct"}}]}"#, "retry_host_predicate[0]", "google.protobuf.Struct"),
        (#"{"retry_priority": {"name": "acme.retry_priorities.custom"}}"#, "retry_priority", "acme.retry_priorities.custom"),
        (#"{"retry_priority": {"name": "envoy.retry_priorities.previous_priorities"}}"#, "retry_priority.typed_config", "update_frequency"),
        (#"{"retry_priority": {"name": "p", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig"}}}"#,
         "retry_priority.typed_config.update_frequency", "greater than 0"),
    ]

    /// What Envoy would NACK as an unknown or invalid extension is refused with the field named,
    /// instead of being accepted and ignored.
    @Test(arguments: unsupportedRetryExtensions)
    func unsupportedRetryExtensionsAreRejected(_ json: String, _ field: String, _ message: String) throws {
        let error = #expect(throws: ProxyConfigurationError.self) { try Self.policy(json) }
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains(field) && text.contains(message), "\(text)")
    }

    @Test func retriableRequestHeadersGateRetries() throws {
        let policy = try Self.policy(#"{"retry_on": "5xx", "retriable_request_headers": [{"name": ":method", "exact_match": "GET"}, {"name": "x-idempotent"}]}"#)
        #expect(policy.allowsRetry(requestHeaders: ["x-idempotent": "1"]))
        #expect(!policy.allowsRetry(requestHeaders: ["x-other": "1"]))
        #expect(try Self.policy(#"{"retry_on": "5xx"}"#).allowsRetry(requestHeaders: [:]))
    }

    @Test func backoffIsFullyJitteredAndCapped() throws {
        let policy = try Self.policy(#"{"retry_on": "5xx", "retry_back_off": {"base_interval": "0.025s", "max_interval": "0.25s"}}"#)
        // Interval per attempt: 25, 50, 100, 200, then the 250 ms cap.
        let intervals: [Int64] = [25, 50, 100, 200, 250, 250, 250]
        for (attempt, interval) in intervals.enumerated() {
            var seen: Set<Int64> = []
            for random in UInt64(0)..<UInt64(interval * 3) {
                let wait = policy.backoff(attempt: attempt, random: random)
                let ms = wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000
                #expect(ms >= 0 && ms < interval, "attempt \(attempt): \(ms) ms")
                #expect(ms == Int64(random % UInt64(interval)))
                seen.insert(ms)
            }
            #expect(seen.count == Int(interval), "every value in [0, \(interval)) ms occurs")
        }
        #expect(policy.backoff(attempt: 1000, random: UInt64.max) < .milliseconds(250))
        let tight = try Self.policy(#"{"retry_back_off": {"base_interval": "0.1s", "max_interval": "0.1s"}}"#)
        for attempt in 0..<5 { #expect(tight.backoff(attempt: attempt, random: 12345) == .milliseconds(45)) }
    }
}

extension RetryPolicyTests {
    @Test func retriableRequestHeadersReadPseudoHeaders() throws {
        let policy = try Self.policy(#"{"retry_on": "5xx", "retriable_request_headers": [{"name": ":method", "exact_match": "GET"}]}"#)
        #expect(policy.allowsRetry(for: RoutingFixture.request("/", method: "GET")))
        #expect(!policy.allowsRetry(for: RoutingFixture.request("/", method: "POST")))
    }
}
