/// A cluster's `outlier_detection`, with Envoy's defaults for unset fields.
///
/// Implemented: consecutive 5xx, consecutive gateway failure (502, 503, 504) and consecutive
/// local-origin failure detection with their enforcement percentages, ejection for
/// `base_ejection_time × ejection count` capped at `max_ejection_time` (plus jitter), the backoff
/// decreasing one step per healthy `interval`, `max_ejection_percent` and `always_eject_one_host`.
///
/// Stored but not acted on: the success-rate and failure-percentage detectors (they need
/// per-interval request volume statistics across hosts) and
/// `successful_active_health_check_uneject_host` (there is no active health checking).
public struct OutlierDetectionPolicy: Sendable, Equatable {
    /// `consecutive_5xx`, default 5.
    public var consecutive5xx: UInt32
    /// `consecutive_gateway_failure`, default 5.
    public var consecutiveGatewayFailure: UInt32
    /// `consecutive_local_origin_failure`, default 5 (counted only with ``splitExternalLocalOriginErrors``).
    public var consecutiveLocalOriginFailure: UInt32
    /// `split_external_local_origin_errors`: count connect failures, resets and timeouts apart from
    /// upstream 5xx responses. When false they count as 503 (connect failure, reset) or 504 (timeout).
    public var splitExternalLocalOriginErrors: Bool
    /// `interval`, default 10 s: the sweep period at which ejected hosts return and backoff decays.
    public var interval: Duration
    /// `base_ejection_time`, default 30 s.
    public var baseEjectionTime: Duration
    /// `max_ejection_time`, default the larger of 300 s and `base_ejection_time`.
    public var maxEjectionTime: Duration
    /// `max_ejection_time_jitter`, default 0: a random extra ejection time up to this bound.
    public var maxEjectionTimeJitter: Duration
    /// `max_ejection_percent`, default 10.
    public var maxEjectionPercent: UInt32
    /// `always_eject_one_host`: one host may be ejected even when that exceeds the percentage.
    public var alwaysEjectOneHost: Bool
    /// `enforcing_consecutive_5xx`, default 100.
    public var enforcingConsecutive5xx: UInt32
    /// `enforcing_consecutive_gateway_failure`, default 0.
    public var enforcingConsecutiveGatewayFailure: UInt32
    /// `enforcing_consecutive_local_origin_failure`, default 100.
    public var enforcingConsecutiveLocalOriginFailure: UInt32
    /// Success-rate and failure-percentage settings, stored for `config_dump`; not enforced.
    public var successRate: SuccessRateSettings

    /// The statistical detectors' settings (not implemented by this proxy).
    public struct SuccessRateSettings: Sendable, Equatable {
        /// `enforcing_success_rate`, default 100.
        public var enforcingSuccessRate: UInt32 = 100
        /// `success_rate_minimum_hosts`, default 5.
        public var minimumHosts: UInt32 = 5
        /// `success_rate_request_volume`, default 100.
        public var requestVolume: UInt32 = 100
        /// `success_rate_stdev_factor`, default 1900.
        public var stdevFactor: UInt32 = 1900
        /// `enforcing_local_origin_success_rate`, default 100.
        public var enforcingLocalOriginSuccessRate: UInt32 = 100
        /// `failure_percentage_threshold`, default 85.
        public var failurePercentageThreshold: UInt32 = 85
        /// `enforcing_failure_percentage`, default 0.
        public var enforcingFailurePercentage: UInt32 = 0
        /// `enforcing_failure_percentage_local_origin`, default 0.
        public var enforcingFailurePercentageLocalOrigin: UInt32 = 0
        /// `failure_percentage_minimum_hosts`, default 5.
        public var failurePercentageMinimumHosts: UInt32 = 5
        /// `failure_percentage_request_volume`, default 50.
        public var failurePercentageRequestVolume: UInt32 = 50

        /// Envoy's defaults.
        public init() {}
    }

    /// A policy with Envoy's defaults (what an empty `outlier_detection {}` means).
    public init() {
        consecutive5xx = 5
        consecutiveGatewayFailure = 5
        consecutiveLocalOriginFailure = 5
        splitExternalLocalOriginErrors = false
        interval = .seconds(10)
        baseEjectionTime = .seconds(30)
        maxEjectionTime = .seconds(300)
        maxEjectionTimeJitter = .zero
        maxEjectionPercent = 10
        alwaysEjectOneHost = false
        enforcingConsecutive5xx = 100
        enforcingConsecutiveGatewayFailure = 0
        enforcingConsecutiveLocalOriginFailure = 100
        successRate = SuccessRateSettings()
    }

    /// How long the `n`th ejection in a row lasts before jitter: `min(base × n, max)`.
    /// - Parameter backoff: The ejection multiplier (1 for a first ejection).
    public func ejectionDuration(backoff: Int) -> Duration {
        min(baseEjectionTime * backoff, maxEjectionTime)
    }
}
