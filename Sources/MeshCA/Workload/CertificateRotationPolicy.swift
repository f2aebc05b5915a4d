/// When a workload certificate is renewed, and how requests are retried while the CA is away.
///
/// The defaults are Istio's agent's: renew when half the lifetime is left
/// (`SECRET_GRACE_PERIOD_RATIO` 0.5) with ±1 % of the lifetime of jitter
/// (`SECRET_GRACE_PERIOD_RATIO_JITTER` 0.01), so proxies started together do not renew together;
/// retry with exponential backoff from 1 s, doubling, up to 60 s.
public struct CertificateRotationPolicy: Sendable, Hashable {
    /// The fraction of the lifetime left when renewal starts (0 < ratio < 1).
    public var graceRatio: Double
    /// The largest random change to `graceRatio`, as a fraction of the lifetime.
    public var graceRatioJitter: Double
    /// The first retry delay after a failed request.
    public var initialBackoff: Duration
    /// The longest retry delay.
    public var maxBackoff: Duration
    /// The factor the delay grows by after each consecutive failure.
    public var backoffMultiplier: Double

    /// Creates a policy.
    /// - Parameters:
    ///   - graceRatio: The fraction of the lifetime left when renewal starts.
    ///   - graceRatioJitter: The random change to `graceRatio`.
    ///   - initialBackoff: The first retry delay.
    ///   - maxBackoff: The longest retry delay.
    ///   - backoffMultiplier: The growth of the delay.
    public init(
        graceRatio: Double = 0.5,
        graceRatioJitter: Double = 0.01,
        initialBackoff: Duration = .seconds(1),
        maxBackoff: Duration = .seconds(60),
        backoffMultiplier: Double = 2
    ) {
        self.graceRatio = graceRatio
        self.graceRatioJitter = graceRatioJitter
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.backoffMultiplier = backoffMultiplier
    }
}
