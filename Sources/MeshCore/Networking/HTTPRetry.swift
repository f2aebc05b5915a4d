/// Istio's `HTTPRetry`: how failed HTTP requests are retried.
///
/// Used by VirtualService HTTP routes and by MeshConfig's default retry policies.
public struct HTTPRetry: Sendable, Hashable, Codable {
    /// Number of retries; 0 disables retries.
    public var attempts: Int32?
    /// Timeout per attempt, including the first one (at least 1ms).
    public var perTryTimeout: ConfigDuration?
    /// Comma-separated Envoy retry conditions (`5xx`, `connect-failure`, gRPC names) or HTTP status codes.
    public var retryOn: String?
    /// Whether retries may go to other localities.
    public var retryRemoteLocalities: Bool?
    /// Whether retries avoid hosts already tried.
    public var retryIgnorePreviousHosts: Bool?
    /// Base interval for exponential back-off between retries (at least 1ms).
    public var backoff: ConfigDuration?

    public init(
        attempts: Int32? = nil, perTryTimeout: ConfigDuration? = nil, retryOn: String? = nil,
        retryRemoteLocalities: Bool? = nil, retryIgnorePreviousHosts: Bool? = nil, backoff: ConfigDuration? = nil
    ) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.retryOn = retryOn
        self.retryRemoteLocalities = retryRemoteLocalities
        self.retryIgnorePreviousHosts = retryIgnorePreviousHosts
        self.backoff = backoff
    }
}
