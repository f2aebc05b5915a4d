/// The limits of one routing priority from `circuit_breakers.thresholds[]`.
///
/// Envoy's defaults apply to every field left unset, even when no `circuit_breakers` block exists:
/// 1024 connections, pending requests and requests, and 3 concurrent retries.
public struct CircuitBreakerThresholds: Sendable, Equatable {
    /// `max_connections`.
    public var maxConnections: UInt32
    /// `max_pending_requests`.
    public var maxPendingRequests: UInt32
    /// `max_requests`.
    public var maxRequests: UInt32
    /// `max_retries`; ignored when ``retryBudget`` is set.
    public var maxRetries: UInt32
    /// `max_connection_pools`; nil means unlimited.
    public var maxConnectionPools: UInt32?
    /// `retry_budget`: concurrent retries limited to a share of active plus pending requests.
    public var retryBudget: RetryBudget?
    /// `track_remaining`: publish `circuit_breakers.<priority>.remaining_*` gauges.
    public var trackRemaining: Bool

    /// `retry_budget`.
    public struct RetryBudget: Sendable, Equatable {
        /// `budget_percent`, Envoy default 20 %.
        public var budgetPercent: Double
        /// `min_retry_concurrency`, Envoy default 3.
        public var minRetryConcurrency: UInt32

        /// - Parameters:
        ///   - budgetPercent: Percent of active plus pending requests that may be retries.
        ///   - minRetryConcurrency: Retries always allowed regardless of the budget.
        public init(budgetPercent: Double = 20, minRetryConcurrency: UInt32 = 3) {
            self.budgetPercent = budgetPercent
            self.minRetryConcurrency = minRetryConcurrency
        }
    }

    /// Envoy's defaults.
    public static let envoyDefault = CircuitBreakerThresholds()

    /// - Parameters:
    ///   - maxConnections: Default 1024.
    ///   - maxPendingRequests: Default 1024.
    ///   - maxRequests: Default 1024.
    ///   - maxRetries: Default 3.
    ///   - maxConnectionPools: Default unlimited.
    ///   - retryBudget: Default none.
    ///   - trackRemaining: Default false.
    public init(
        maxConnections: UInt32 = 1024,
        maxPendingRequests: UInt32 = 1024,
        maxRequests: UInt32 = 1024,
        maxRetries: UInt32 = 3,
        maxConnectionPools: UInt32? = nil,
        retryBudget: RetryBudget? = nil,
        trackRemaining: Bool = false
    ) {
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.maxRequests = maxRequests
        self.maxRetries = maxRetries
        self.maxConnectionPools = maxConnectionPools
        self.retryBudget = retryBudget
        self.trackRemaining = trackRemaining
    }

    /// The retry limit given the current load: with a budget,
    /// `max(min_retry_concurrency, budget_percent × (active + pending) / 100)`; otherwise `max_retries`.
    /// - Parameters:
    ///   - activeRequests: Requests in flight.
    ///   - pendingRequests: Requests waiting for a connection.
    public func retryLimit(activeRequests: Int, pendingRequests: Int) -> Int {
        guard let budget = retryBudget else { return Int(maxRetries) }
        let load = Double(max(0, activeRequests) + max(0, pendingRequests))
        return max(Int(budget.minRetryConcurrency), Int(budget.budgetPercent * load / 100))
    }
}
