import Synchronization

/// The resources a cluster's circuit breakers limit.
public enum CircuitBreakerResource: Sendable, Hashable, CaseIterable {
    /// An upstream connection (`max_connections`).
    case connection
    /// A request waiting for a connection (`max_pending_requests`).
    case pendingRequest
    /// A request in flight (`max_requests`).
    case request
    /// A retry in flight (`max_retries` or the retry budget).
    case retry
    /// A connection pool (`max_connection_pools`).
    case connectionPool
}

/// Live usage of a cluster's `DEFAULT`-priority circuit breakers: the engine acquires a resource
/// before using it and releases it after, and an acquisition fails when the limit is reached
/// (Envoy's `canCreate()`: usage below the maximum).
///
/// When a limit stops an acquisition the matching overflow stat is counted
/// (`upstream_cx_overflow`, `upstream_rq_pending_overflow`, `upstream_rq_retry_overflow`,
/// `upstream_cx_pool_overflow`); a request over `max_requests` counts `upstream_rq_pending_overflow`
/// too, as in Envoy.
public final class CircuitBreakerCounters: Sendable {
    private let thresholds: Mutex<CircuitBreakerThresholds>
    private let connections = Atomic<Int>(0)
    private let pendingRequests = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)
    private let retries = Atomic<Int>(0)
    private let connectionPools = Atomic<Int>(0)
    private struct WeakStats: @unchecked Sendable {
        weak var stats: UpstreamClusterStats?
    }
    private let overflowSink: Mutex<WeakStats>

    /// - Parameter thresholds: The limits.
    public init(thresholds: CircuitBreakerThresholds) {
        self.thresholds = Mutex(thresholds)
        self.overflowSink = Mutex(WeakStats())
    }

    /// The limits in force.
    public var currentThresholds: CircuitBreakerThresholds { thresholds.withLock { $0 } }

    /// Replaces the limits (a CDS update); usage is kept.
    /// - Parameter thresholds: The new limits.
    public func update(thresholds new: CircuitBreakerThresholds) { thresholds.withLock { $0 = new } }

    func attach(stats: UpstreamClusterStats) { overflowSink.withLock { $0.stats = stats } }

    private func withCounter<R>(_ resource: CircuitBreakerResource, _ body: (borrowing Atomic<Int>) -> R) -> R {
        switch resource {
        case .connection: body(connections)
        case .pendingRequest: body(pendingRequests)
        case .request: body(requests)
        case .retry: body(retries)
        case .connectionPool: body(connectionPools)
        }
    }

    private func counter(_ resource: CircuitBreakerResource) -> Int {
        withCounter(resource) { $0.load(ordering: .relaxed) }
    }

    /// The current limit of a resource (the retry limit follows the budget when one is set).
    /// - Parameter resource: The resource.
    public func limit(_ resource: CircuitBreakerResource) -> Int {
        let limits = currentThresholds
        switch resource {
        case .connection: return Int(limits.maxConnections)
        case .pendingRequest: return Int(limits.maxPendingRequests)
        case .request: return Int(limits.maxRequests)
        case .retry: return limits.retryLimit(activeRequests: counter(.request), pendingRequests: counter(.pendingRequest))
        case .connectionPool: return limits.maxConnectionPools.map(Int.init) ?? Int.max
        }
    }

    /// How many of a resource are in use.
    /// - Parameter resource: The resource.
    public func usage(_ resource: CircuitBreakerResource) -> Int { counter(resource) }

    /// How many more may be acquired (Envoy's `remaining_*` gauges).
    /// - Parameter resource: The resource.
    public func remaining(_ resource: CircuitBreakerResource) -> Int { max(0, limit(resource) - counter(resource)) }

    /// Whether the breaker for a resource is open (usage at or above the limit).
    /// - Parameter resource: The resource.
    public func isOpen(_ resource: CircuitBreakerResource) -> Bool { counter(resource) >= limit(resource) }

    /// Takes one unit of `resource` if the limit allows; on refusal counts the overflow stat.
    /// - Parameter resource: The resource.
    /// - Returns: Whether the unit was taken (then call ``release(_:)`` later).
    public func tryAcquire(_ resource: CircuitBreakerResource) -> Bool {
        let maximum = limit(resource)
        let acquired = withCounter(resource) { atomic -> Bool in
            var current = atomic.load(ordering: .relaxed)
            while current < maximum {
                let (exchanged, original) = atomic.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
                if exchanged { return true }
                current = original
            }
            return false
        }
        if acquired { return true }
        if let stats = overflowSink.withLock({ $0.stats }) {
            switch resource {
            case .connection: stats.increment(.upstreamCxOverflow)
            case .pendingRequest, .request: stats.increment(.upstreamRqPendingOverflow)
            case .retry: stats.increment(.upstreamRqRetryOverflow)
            case .connectionPool: stats.increment(.upstreamCxPoolOverflow)
            }
        }
        return false
    }

    /// Takes one unit of `resource` even over the limit (Envoy opens a first connection to a
    /// host from a pool that has none, circuit breaker or not); release it with ``release(_:)``.
    /// - Parameter resource: The resource.
    public func forceAcquire(_ resource: CircuitBreakerResource) {
        withCounter(resource) { atomic in _ = atomic.add(1, ordering: .acquiringAndReleasing) }
    }

    /// Returns one unit taken with ``tryAcquire(_:)``.
    /// - Parameter resource: The resource.
    public func release(_ resource: CircuitBreakerResource) {
        withCounter(resource) { atomic in
            var current = atomic.load(ordering: .relaxed)
            while current > 0 {
                let (exchanged, original) = atomic.compareExchange(expected: current, desired: current - 1, ordering: .acquiringAndReleasing)
                if exchanged { return }
                current = original
            }
        }
    }

    /// Envoy's `circuit_breakers.default.*` gauges: the `*_open` flags always, the `remaining_*`
    /// counts when `track_remaining` is set.
    func gauges() -> [(String, UInt64)] {
        var result: [(String, UInt64)] = [
            ("cx_open", isOpen(.connection) ? 1 : 0),
            ("cx_pool_open", isOpen(.connectionPool) ? 1 : 0),
            ("rq_open", isOpen(.request) ? 1 : 0),
            ("rq_pending_open", isOpen(.pendingRequest) ? 1 : 0),
            ("rq_retry_open", isOpen(.retry) ? 1 : 0),
        ]
        if currentThresholds.trackRemaining {
            result += [
                ("remaining_cx", UInt64(remaining(.connection))),
                ("remaining_cx_pools", UInt64(min(remaining(.connectionPool), Int(UInt32.max)))),
                ("remaining_pending", UInt64(remaining(.pendingRequest))),
                ("remaining_retries", UInt64(remaining(.retry))),
                ("remaining_rq", UInt64(remaining(.request))),
            ]
        }
        return result
    }
}
