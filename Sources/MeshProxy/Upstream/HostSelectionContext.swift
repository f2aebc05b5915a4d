/// What a request tells the load balancer when it asks for a host.
public struct HostSelectionContext: Sendable {
    /// The request hash from the route's `hash_policy`, for ring hash and maglev; nil picks randomly.
    public var hash: UInt64?
    /// Hosts of earlier attempts that the retry `previous_hosts` predicate rejects.
    public var previousHosts: [UpstreamHost]
    /// `host_selection_retry_max_attempts`: how many extra picks to try while the pick is a
    /// previous host (Envoy's default, 1). After that the last pick is used anyway.
    public var hostSelectionRetryMaxAttempts: Int

    /// - Parameters:
    ///   - hash: The request hash.
    ///   - previousHosts: Hosts to avoid.
    ///   - hostSelectionRetryMaxAttempts: Extra picks allowed.
    public init(hash: UInt64? = nil, previousHosts: [UpstreamHost] = [], hostSelectionRetryMaxAttempts: Int = 1) {
        self.hash = hash
        self.previousHosts = previousHosts
        self.hostSelectionRetryMaxAttempts = max(0, hostSelectionRetryMaxAttempts)
    }

    /// The route's retry host predicates; nil means `previous_hosts` alone.
    var predicates: [RetryHostPredicate]?
    /// Priorities the route's retry priority leaves out of this pick.
    var excludedPriorities: Set<UInt32> = []

    /// Whether any predicate may reject a pick (so host selection may pick again).
    var hasPredicates: Bool { predicates.map { !$0.isEmpty } ?? !previousHosts.isEmpty }

    /// Whether a predicate rejects `host`.
    func rejects(_ host: UpstreamHost) -> Bool {
        guard let predicates else { return previousHosts.contains { $0 === host } }
        return predicates.contains { $0.rejects(host, previousHosts: previousHosts) }
    }
}

/// The result of one request attempt, as outlier detection counts it.
public enum UpstreamOutcome: Sendable, Hashable {
    /// The host answered with this HTTP status.
    case httpStatus(Int)
    /// The attempt failed on the proxy's side of the connection.
    case localOriginFailure(LocalOriginFailure)
    /// A connection to the host was established (resets the local-origin failure count when
    /// `split_external_local_origin_errors` is set; otherwise ignored).
    case connectionEstablished
    /// A non-HTTP transaction (such as a TCP proxy session) succeeded: counts as a 200.
    case success

    /// Why a local-origin failure happened.
    public enum LocalOriginFailure: Sendable, Hashable {
        /// The connection could not be established (counts as 503 without the split).
        case connectFailed
        /// The request timed out (counts as 504 without the split).
        case timeout
        /// The stream or connection was reset (Envoy reports resets as connect failures: 503).
        case reset
    }
}
