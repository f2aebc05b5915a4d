public import MeshCore

/// Istio's `retry.ConvertPolicy`: a VirtualService `HTTPRetry` to an Envoy route retry policy.
public enum RetryPolicyConverter {
    /// Istio's default `retryOn`.
    public static let defaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

    /// The `envoy.retry_host_predicates.previous_hosts` predicate: retries prefer untried hosts.
    public static var previousHostsPredicate: Envoy_Config_Route_V3_RetryPolicy.RetryHostPredicate {
        .with {
            $0.name = "envoy.retry_host_predicates.previous_hosts"
            $0.typedConfig = Proto.any(Envoy_Extensions_Retry_Host_PreviousHosts_V3_PreviousHostsPredicate())
        }
    }

    /// Istio's default policy: 2 retries on connect failures, refused streams, `unavailable`,
    /// `cancelled` and 503, avoiding previous hosts (unless consistent hashing is used), with 5
    /// host selection attempts.
    /// - Parameters:
    ///   - hashPolicy: true when the destination uses consistent hashing, which must not change hosts.
    public static func defaultPolicy(hashPolicy: Bool = false) -> Envoy_Config_Route_V3_RetryPolicy {
        .with {
            $0.numRetries = .init(2)
            $0.retryOn = defaultRetryOn
            $0.retriableStatusCodes = [503]
            $0.hostSelectionRetryMaxAttempts = 5
            if !hashPolicy { $0.retryHostPredicate = [previousHostsPredicate] }
        }
    }

    /// Converts a retry setting.
    ///
    /// nil gives ``defaultPolicy(hashPolicy:)``; `attempts` of 0 or less disables retries (nil);
    /// otherwise the default with `attempts`, `retryOn` (numbers become retriable status codes),
    /// `perTryTimeout`, `retryIgnorePreviousHosts`, `retryRemoteLocalities` and `backoff` applied.
    /// - Parameters:
    ///   - retry: the route's `retries`, or the mesh default.
    ///   - hashPolicy: true when the destination uses consistent hashing.
    public static func convert(_ retry: HTTPRetry?, hashPolicy: Bool = false) -> Envoy_Config_Route_V3_RetryPolicy? {
        var out = defaultPolicy(hashPolicy: hashPolicy)
        guard let retry else { return out }
        guard let attempts = retry.attempts, attempts > 0 else { return nil }
        out.numRetries = .init(UInt32(attempts))
        if let retryOn = retry.retryOn, !retryOn.isEmpty {
            let (conditions, codes) = parseRetryOn(retryOn)
            out.retryOn = conditions
            out.retriableStatusCodes = codes
            if !codes.isEmpty && !conditions.contains("retriable-status-codes") {
                out.retryOn += out.retryOn.isEmpty ? "retriable-status-codes" : ",retriable-status-codes"
            }
        }
        if let perTry = retry.perTryTimeout { out.perTryTimeout = Proto.duration(perTry) }
        if let ignore = retry.retryIgnorePreviousHosts {
            out.retryHostPredicate = ignore ? [previousHostsPredicate] : []
        }
        if retry.retryRemoteLocalities == true {
            out.retryPriority = .with {
                $0.name = "envoy.retry_priorities.previous_priorities"
                $0.typedConfig = Proto.any(Envoy_Extensions_Retry_Priority_PreviousPriorities_V3_PreviousPrioritiesConfig.with {
                    $0.updateFrequency = 2
                })
            }
        }
        if let backoff = retry.backoff { out.retryBackOff = .with { $0.baseInterval = Proto.duration(backoff) } }
        return out
    }

    /// Splits `retryOn` into Envoy conditions and HTTP status codes (numbers 100-599).
    static func parseRetryOn(_ text: String) -> (String, [UInt32]) {
        var conditions: [String] = []
        var codes: [UInt32] = []
        for part in text.split(separator: ",") {
            let trimmed = String(part.filter { $0 != " " && $0 != "\t" })
            if trimmed.isEmpty { continue }
            if let code = UInt32(trimmed), (100...599).contains(code) {
                codes.append(code)
            } else {
                conditions.append(trimmed)
            }
        }
        return (conditions.joined(separator: ","), codes)
    }
}
