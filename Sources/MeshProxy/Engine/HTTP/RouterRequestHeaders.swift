import NIOHTTP1

/// Envoy's router request headers: a caller may set the route timeout, the per-try timeout and
/// the retry policy of its own request. They are honoured for every request that reaches the
/// router with them (the connection manager removes them from external requests first, see
/// ``HTTPConnectionManagerRuntime/prepareRequest(_:connection:)``) and removed before the request
/// goes upstream.
enum RouterRequestHeaders {
    static let timeout = "x-envoy-upstream-rq-timeout-ms"
    static let perTryTimeout = "x-envoy-upstream-rq-per-try-timeout-ms"
    static let retryOn = "x-envoy-retry-on"
    static let retryGRPCOn = "x-envoy-retry-grpc-on"
    static let maxRetries = "x-envoy-max-retries"
    static let retriableStatusCodes = "x-envoy-retriable-status-codes"
    static let all = [timeout, perTryTimeout, retryOn, retryGRPCOn, maxRetries, retriableStatusCodes]

    /// Applies the headers to `plan` and removes them.
    /// - `x-envoy-upstream-rq-timeout-ms`: replaces the route timeout (0 disables it).
    /// - `x-envoy-upstream-rq-per-try-timeout-ms`: the per-try timeout, ignored unless shorter than
    ///   the route timeout.
    /// - `x-envoy-retry-on`, `x-envoy-retry-grpc-on`: conditions added to the route's retry policy
    ///   (or to Envoy's default policy when the route has none); unknown tokens are ignored.
    /// - `x-envoy-max-retries`: the number of retries.
    /// - `x-envoy-retriable-status-codes`: codes added for `retriable-status-codes`.
    static func apply(_ headers: inout HTTPHeaders, to plan: ForwardPlan) {
        guard headers.containsEnvoyHeaders else { return }
        if let milliseconds = integer(headers, timeout) {
            plan.timeout = milliseconds == 0 ? nil : .milliseconds(milliseconds)
        }
        var policy = plan.retry?.policy
        // The route's plan is shared by its streams; a new one is made only when a header changes it.
        var changed = false
        let conditions = (headers.first(name: retryOn).map { RetryPolicy.Conditions.lenient($0, allowed: .http) } ?? [])
            .union(headers.first(name: retryGRPCOn).map { RetryPolicy.Conditions.lenient($0, allowed: .grpc) } ?? [])
        if !conditions.isEmpty {
            if policy == nil { policy = RetryPolicy.requestHeaderDefault }
            policy?.retryOn.formUnion(conditions)
            changed = true
        }
        if let retries = integer(headers, maxRetries), policy != nil {
            policy?.numRetries = Int(retries)
            changed = true
        }
        if let codes = headers.first(name: retriableStatusCodes), policy != nil {
            changed = true
            policy?.retriableStatusCodes += codes.split(separator: ",").compactMap { Int($0.trimmed(" \t")) }.filter { (100...599).contains($0) }
        }
        if let milliseconds = integer(headers, perTryTimeout), milliseconds > 0 {
            let perTry = Duration.milliseconds(milliseconds)
            if plan.timeout.map({ perTry < $0 }) ?? true {
                if policy == nil { policy = RetryPolicy.requestHeaderDefault; policy?.numRetries = 0 }
                policy?.perTryTimeout = perTry
                changed = true
            }
        }
        if changed, let policy { plan.retry = RetryPlan(policy) }
        headers.removeFields(named: all)
    }

    private static func integer(_ headers: HTTPHeaders, _ name: String) -> Int64? {
        headers.first(name: name).flatMap { Int64(Substring($0).trimmed(" \t")) }.flatMap { $0 >= 0 ? $0 : nil }
    }
}

extension RetryPolicy.Conditions {
    /// The conditions `x-envoy-retry-on` may name (all but the gRPC ones).
    static let http: RetryPolicy.Conditions = RetryPolicy.Conditions(rawValue: ~0).subtracting(.grpc)
}
