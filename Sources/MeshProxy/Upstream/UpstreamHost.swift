public import SwiftProtobuf
import Synchronization

/// One upstream endpoint as the proxy tracks it: its address and EDS attributes plus live
/// counters the engine updates (active requests and connections) and its outlier state.
///
/// A host keeps its identity across EDS updates as long as its address stays in the assignment,
/// so load-balancer state, connection pools keyed by host and outlier ejections survive pushes.
/// Equality and hashing are by identity.
public final class UpstreamHost: Sendable, Hashable, CustomStringConvertible {
    /// The address connections go to.
    public let address: EndpointAddress

    private struct Attributes: Sendable {
        var hostname: String
        var weight: UInt32
        var locality: Locality
        var priority: UInt32
        var healthStatus: EndpointHealthStatus
        var metadata: [String: Google_Protobuf_Struct]
        var localityMetadata: [String: Google_Protobuf_Struct]
    }

    private let attributes: Mutex<Attributes>
    private let activeRequestCount = Atomic<Int>(0)
    private let activeConnectionCount = Atomic<Int>(0)
    private let totalRequestCount = Atomic<UInt64>(0)
    private let ejected = Atomic<Bool>(false)
    private let connectionTotal = Atomic<UInt64>(0)
    private let connectFailures = Atomic<UInt64>(0)
    private let requestErrors = Atomic<UInt64>(0)
    private let requestSuccesses = Atomic<UInt64>(0)
    private let requestTimeouts = Atomic<UInt64>(0)

    /// Creates a host from an endpoint.
    /// - Parameters:
    ///   - endpoint: The EDS endpoint.
    ///   - locality: Its locality entry (locality, priority and locality metadata).
    public init(endpoint: UpstreamEndpoint, locality: LocalityEndpoints) {
        address = endpoint.address
        attributes = Mutex(Attributes(
            hostname: endpoint.hostname,
            weight: endpoint.loadBalancingWeight,
            locality: locality.locality,
            priority: locality.priority,
            healthStatus: endpoint.healthStatus,
            metadata: endpoint.metadata,
            localityMetadata: locality.metadata
        ))
    }

    /// `endpoint.hostname`.
    public var hostname: String { attributes.withLock { $0.hostname } }
    /// `load_balancing_weight`, at least 1.
    public var weight: UInt32 { attributes.withLock { $0.weight } }
    /// The locality.
    public var locality: Locality { attributes.withLock { $0.locality } }
    /// The priority (0 first).
    public var priority: UInt32 { attributes.withLock { $0.priority } }
    /// EDS `health_status`.
    public var healthStatus: EndpointHealthStatus { attributes.withLock { $0.healthStatus } }
    /// The endpoint's `filter_metadata`.
    public var metadata: [String: Google_Protobuf_Struct] { attributes.withLock { $0.metadata } }
    /// Whether the endpoint is a canary (`canary: true` in its `envoy.lb` metadata).
    public var isCanary: Bool {
        if case .boolValue(true) = metadata["envoy.lb"]?.fields["canary"]?.kind { return true }
        return false
    }
    /// The locality's `filter_metadata`.
    public var localityMetadata: [String: Google_Protobuf_Struct] { attributes.withLock { $0.localityMetadata } }

    /// Requests in flight to this host (the least-request balancer reads it).
    public var activeRequests: Int { activeRequestCount.load(ordering: .relaxed) }
    /// Open connections to this host.
    public var activeConnections: Int { activeConnectionCount.load(ordering: .relaxed) }
    /// Requests ever sent to this host.
    public var totalRequests: UInt64 { totalRequestCount.load(ordering: .relaxed) }
    /// Whether outlier detection has ejected the host (Envoy's `FAILED_OUTLIER_CHECK`).
    public var isEjected: Bool { ejected.load(ordering: .relaxed) }

    /// Counts a request that starts on this host. Call ``requestFinished()`` when it ends.
    public func requestStarted() {
        activeRequestCount.add(1, ordering: .relaxed)
        totalRequestCount.add(1, ordering: .relaxed)
    }

    /// Counts the end of a request started with ``requestStarted()``.
    public func requestFinished() {
        activeRequestCount.subtract(1, ordering: .relaxed)
    }

    /// Counts a connection opened to this host.
    public func connectionOpened() {
        activeConnectionCount.add(1, ordering: .relaxed)
        connectionTotal.add(1, ordering: .relaxed)
    }

    /// Per-host counters as Envoy's `/clusters` lists them.
    public struct Counters: Sendable, Equatable {
        /// `cx_total`: connections opened.
        public var connectionsTotal: UInt64
        /// `cx_connect_fail`: connection attempts that failed.
        public var connectFailures: UInt64
        /// `rq_total`: requests sent.
        public var requestsTotal: UInt64
        /// `rq_success`: requests answered with a non-5xx status.
        public var requestSuccesses: UInt64
        /// `rq_error`: requests answered with a 5xx or failed locally.
        public var requestErrors: UInt64
        /// `rq_timeout`: requests that timed out.
        public var requestTimeouts: UInt64
    }

    /// The host's counters; ``UpstreamCluster/record(_:for:)`` keeps the outcome counters.
    public var counters: Counters {
        Counters(
            connectionsTotal: connectionTotal.load(ordering: .relaxed),
            connectFailures: connectFailures.load(ordering: .relaxed),
            requestsTotal: totalRequestCount.load(ordering: .relaxed),
            requestSuccesses: requestSuccesses.load(ordering: .relaxed),
            requestErrors: requestErrors.load(ordering: .relaxed),
            requestTimeouts: requestTimeouts.load(ordering: .relaxed)
        )
    }

    func count(_ outcome: UpstreamOutcome) {
        switch outcome {
        case .httpStatus(let code) where (500...599).contains(code): requestErrors.add(1, ordering: .relaxed)
        case .httpStatus, .success: requestSuccesses.add(1, ordering: .relaxed)
        case .localOriginFailure(.connectFailed):
            connectFailures.add(1, ordering: .relaxed)
            requestErrors.add(1, ordering: .relaxed)
        case .localOriginFailure(.timeout):
            requestTimeouts.add(1, ordering: .relaxed)
            requestErrors.add(1, ordering: .relaxed)
        case .localOriginFailure(.reset): requestErrors.add(1, ordering: .relaxed)
        case .connectionEstablished: break
        }
    }

    /// Envoy's `health_flags` for `/clusters`: `healthy`, or the failing flags each led by `/`.
    public var healthFlags: String {
        var flags = ""
        if isEjected { flags += "/failed_outlier_check" }
        switch healthStatus {
        case .unhealthy, .timeout: flags += "/failed_eds_health"
        case .degraded: flags += "/degraded_eds_health"
        case .draining: flags += "/eds_status_draining"
        case .unknown, .healthy: break
        }
        return flags.isEmpty ? "healthy" : flags
    }

    /// Counts a connection to this host that closed.
    public func connectionClosed() { activeConnectionCount.subtract(1, ordering: .relaxed) }

    /// Updates the EDS attributes in place; returns whether anything load balancing reads changed.
    @discardableResult
    func update(endpoint: UpstreamEndpoint, locality: LocalityEndpoints) -> Bool {
        attributes.withLock { current in
            let changed = current.weight != endpoint.loadBalancingWeight || current.locality != locality.locality
                || current.priority != locality.priority || current.healthStatus != endpoint.healthStatus
                || current.hostname != endpoint.hostname
            current = Attributes(
                hostname: endpoint.hostname,
                weight: endpoint.loadBalancingWeight,
                locality: locality.locality,
                priority: locality.priority,
                healthStatus: endpoint.healthStatus,
                metadata: endpoint.metadata,
                localityMetadata: locality.metadata
            )
            return changed
        }
    }

    func setEjected(_ value: Bool) { ejected.store(value, ordering: .relaxed) }

    public var description: String { address.description }

    public static func == (lhs: UpstreamHost, rhs: UpstreamHost) -> Bool { lhs === rhs }

    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
