import NIOConcurrencyHelpers
import NIOCore

/// A cluster as traffic uses it: its configuration, hosts and load balancer (``UpstreamCluster``),
/// circuit breakers and outlier detection, per-event-loop connection pools, and stats.
final class ClusterRuntime: Sendable {
    let name: String
    let upstream: UpstreamCluster
    let stats: ClusterTrafficStats
    private let pools = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<any UpstreamPool>]>([:])
    let secrets: SecretStore
    /// TLS contexts of the cluster's transport sockets (its own and its `transport_socket_matches`
    /// entries') for the current configuration.
    private let tlsSources = NIOLockedValueBox<[(UpstreamTLSConfiguration, TLSContextSource)]>([])
    /// The re-resolution loop of a `STRICT_DNS` / `LOGICAL_DNS` cluster.
    let dnsResolution = NIOLockedValueBox(DNSResolutionState())

    /// `resolvesDNS: false` leaves a DNS cluster's re-resolution to explicit ``refreshDNS(resolver:)`` calls (tests).
    init(configuration: ClusterConfiguration, endpoints: EndpointSet?, secrets: SecretStore = SecretStore(), resolvesDNS: Bool = true) {
        self.name = configuration.name
        self.upstream = UpstreamCluster(configuration: configuration, endpoints: endpoints, random: { FastRandom.next() })
        self.stats = ClusterTrafficStats(cluster: upstream)
        self.secrets = secrets
        if resolvesDNS { restartDNSResolution() }
    }

    var configuration: ClusterConfiguration { upstream.configuration }

    var connectTimeout: Duration { configuration.connectTimeout }

    /// Applies a changed Cluster resource, keeping hosts, pools and stats.
    func update(configuration: ClusterConfiguration) {
        let discoveryChanged = configuration.discovery != self.configuration.discovery
        upstream.update(configuration: configuration)
        tlsSources.withLockedValue { $0 = [] }
        if discoveryChanged { restartDNSResolution() }
    }

    /// Applies a new ClusterLoadAssignment.
    func update(endpoints: EndpointSet) { upstream.update(endpoints: endpoints) }

    /// The host for one attempt, or nil when no host is available (503 UH).
    /// `downstream` is what an `ORIGINAL_DST` cluster takes its destination from.
    /// Starts a request the proxy makes on its own (a mirrored request, a JWKS fetch): takes one
    /// of the cluster's request slots and a host, and counts the attempt. Nil when the circuit
    /// breaker is full or no host is healthy (the slot is given back; no healthy upstream counted).
    /// The caller ends it with `host.endRequest()` and ``releaseRequest()``.
    func beginOwnRequest(authority: String?) -> UpstreamHostHandle? {
        guard tryAcquireRequest() else { return nil }
        guard let host = chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: authority) else {
            releaseRequest()
            stats.noHealthyUpstream()
            return nil
        }
        host.beginRequest()
        stats.attemptStarted()
        return host
    }

    /// A host for an attempt. `excluding` are the hosts earlier attempts used; `predicates` (nil:
    /// `previous_hosts` alone) and `excludedPriorities` come from the route's retry policy.
    func chooseHost(hash: UInt64?, excluding: [UpstreamHost], maxSelectionAttempts: Int, authority: String?, downstream: DownstreamDestination? = nil,
                    predicates: [RetryHostPredicate]? = nil, excludedPriorities: Set<UInt32> = []) -> UpstreamHostHandle? {
        guard let handle = upstream.chooseHostForEngine(hash: hash, excluding: excluding, maxSelectionAttempts: maxSelectionAttempts, authority: authority, downstream: downstream,
                                                        predicates: predicates, excludedPriorities: excludedPriorities) else { return nil }
        guard let tls = tlsSource(for: handle.host) else { return handle }
        var key = handle.key
        key.tls = tls
        return UpstreamHostHandle(host: handle.host, key: key)
    }

    /// The TLS context for connections to `host`: the transport socket its metadata selects.
    func tlsSource(for host: UpstreamHost) -> TLSContextSource? {
        guard upstream.mayUseTLS else { return nil }
        let configuration = self.configuration
        let (socket, _) = configuration.transportSocket(endpointMetadata: host.metadata, localityMetadata: host.localityMetadata)
        guard case .tls(let tls) = socket else { return nil }
        return tlsSources.withLockedValue { sources in
            if let existing = sources.first(where: { $0.0 == tls }) { return existing.1 }
            let source = TLSContextSource(upstream: tls, resource: "cluster \(name)", alpnFallback: usesHTTP2 ? ["h2"] : ["http/1.1"], secrets: secrets)
            sources.append((tls, source))
            return source
        }
    }

    /// The SDS secrets the cluster's transport sockets need.
    var sdsSecretNames: Set<String> {
        var names = Set(configuration.transportSocket.tls?.sdsSecretNames ?? [])
        for match in configuration.transportSocketMatches { names.formUnion(match.transportSocket.tls?.sdsSecretNames ?? []) }
        return names
    }

    /// This event loop's HTTP/1.1 pool.
    func pool(on eventLoop: any EventLoop) -> any UpstreamPool {
        let key = ObjectIdentifier(eventLoop)
        if let existing = pools.withLockedValue({ $0[key] }) { return existing.value }
        let pool: any UpstreamPool = usesHTTP2
            ? HTTP2ConnectionPool(eventLoop: eventLoop, settings: poolSettings())
            : HTTP1ConnectionPool(eventLoop: eventLoop, settings: poolSettings())
        let box = NIOLoopBound(pool, eventLoop: eventLoop)
        pools.withLockedValue { $0[key] = box }
        return pool
    }

    private func poolSettings() -> UpstreamPoolSettings {
        let configuration = self.configuration
        let upstream = self.upstream
        let stats = self.stats
        return UpstreamPoolSettings(
            connectTimeout: configuration.connectTimeout.timeAmount,
            idleTimeout: configuration.httpProtocolOptions.idleTimeout?.timeAmount,
            maxRequestsPerConnection: configuration.httpProtocolOptions.maxRequestsPerConnection.map(Int.init),
            maxConcurrentStreams: configuration.httpProtocolOptions.http2MaxConcurrentStreams >= UInt32(Int32.max)
                ? nil : Int(configuration.httpProtocolOptions.http2MaxConcurrentStreams),
            acquireConnectionSlot: { upstream.circuitBreakers.tryAcquire(.connection) },
            releaseConnectionSlot: { upstream.circuitBreakers.release(.connection); stats.connectionClosed() },
            acquirePendingSlot: { upstream.circuitBreakers.tryAcquire(.pendingRequest) },
            releasePendingSlot: { upstream.circuitBreakers.release(.pendingRequest) },
            connectionOpened: { [usesHTTP2] in stats.connectionOpened(http2: usesHTTP2) },
            connectFailed: { stats.connectFailed() },
            tlsHandshake: { upstream.stats.increment(.sslHandshake) },
            tlsError: { upstream.stats.increment(.sslConnectionError) },
            forceConnectionSlot: { upstream.circuitBreakers.forceAcquire(.connection) }
        )
    }

    /// Closes idle pooled connections (the cluster was removed).
    func shutdown() {
        stopDNSResolution()
        let all = pools.withLockedValue { $0.values }
        for box in all {
            // The loop is read from the box itself: `value` may only be touched on that loop.
            box.eventLoop.execute { box.value.closeAll() }
        }
    }

    func tryAcquireRequest() -> Bool { upstream.circuitBreakers.tryAcquire(.request) }
    func releaseRequest() { upstream.circuitBreakers.release(.request) }
    func tryAcquireRetry() -> Bool { upstream.circuitBreakers.tryAcquire(.retry) }
    func releaseRetry() { upstream.circuitBreakers.release(.retry) }
    func tryAcquireConnection() -> Bool { upstream.circuitBreakers.tryAcquire(.connection) }
    func releaseConnection() { upstream.circuitBreakers.release(.connection) }

    func recordResponse(host: UpstreamHostHandle, status: Int) {
        upstream.record(.httpStatus(status), for: host.host)
    }

    func recordFailure(host: UpstreamHostHandle, _ failure: UpstreamFailure) {
        switch failure {
        case .connectFailed: upstream.record(.localOriginFailure(.connectFailed), for: host.host)
        case .connectionClosed: upstream.record(.localOriginFailure(.reset), for: host.host)
        case .perTryTimeout: upstream.record(.localOriginFailure(.timeout), for: host.host)
        case .overflow: break
        }
    }
}

/// A chosen upstream host for one attempt.
struct UpstreamHostHandle {
    let host: UpstreamHost
    let key: UpstreamEndpointKey

    func beginRequest() { host.requestStarted() }
    func endRequest() { host.requestFinished() }
}
