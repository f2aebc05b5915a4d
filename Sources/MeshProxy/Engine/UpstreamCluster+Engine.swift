extension ClusterConfiguration {
    /// The `ClusterLoadAssignment` name an EDS cluster subscribes to; nil for other clusters.
    var edsServiceName: String? {
        if case .eds(let name) = discovery { return name }
        return nil
    }
}

extension ClusterRuntime {
    /// Whether requests go over HTTP/2 (explicit HTTP/2; `useDownstream` and `automatic` use
    /// HTTP/1.1 over plaintext, as Envoy's auto config does without ALPN).
    var usesHTTP2: Bool { configuration.httpProtocolOptions.version == .http2 }
}

extension UpstreamCluster {
    /// The host for one attempt. Dynamic-forward-proxy clusters connect to the request's
    /// authority (the connect resolves it); the others ask the load balancer, avoiding `excluding`.
    /// `ORIGINAL_DST` clusters connect to the destination `downstream` names (header or local address).
    func chooseHostForEngine(hash: UInt64?, excluding: [UpstreamHost], maxSelectionAttempts: Int, authority: String?, downstream: DownstreamDestination? = nil,
                             predicates: [RetryHostPredicate]? = nil, excludedPriorities: Set<UInt32> = []) -> UpstreamHostHandle? {
        switch discovery {
        case .dynamicForwardProxy:
            guard let authority, let (name, port) = Self.splitAuthority(authority.lowercased()),
                  let host = providedHost(for: .socket(host: name, port: port), hostname: name) else { return nil }
            return UpstreamHostHandle(host: host, key: UpstreamEndpointKey(host: name, port: port))
        case .originalDestination:
            guard case .address(let address) = (downstream ?? DownstreamDestination()).address(options: configuration.originalDestination),
                  let host = providedHost(for: address), case .socket(let name, let port) = host.address else { return nil }
            return UpstreamHostHandle(host: host, key: UpstreamEndpointKey(host: name, port: port))
        default:
            var context = HostSelectionContext(hash: hash, previousHosts: excluding, hostSelectionRetryMaxAttempts: maxSelectionAttempts)
            context.predicates = predicates
            context.excludedPriorities = excludedPriorities
            guard let host = chooseHost(context), case .socket(let name, let port) = host.address else { return nil }
            return UpstreamHostHandle(host: host, key: UpstreamEndpointKey(host: name, port: port))
        }
    }

    /// `host:port`, `host` (port 80), `[v6]:port`.
    static func splitAuthority(_ authority: String) -> (String, Int)? {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, 80) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            let host = String(authority[..<colon])
            return host.isEmpty ? nil : (host, port)
        }
        return authority.isEmpty ? nil : (authority, 80)
    }
}

/// The engine's stat bumps for one cluster, onto the cluster's Envoy-named counters (circuit
/// breaker overflows are counted by the breakers themselves).
struct ClusterTrafficStats: Sendable {
    let stats: UpstreamClusterStats

    init(cluster: UpstreamCluster) { stats = cluster.stats }

    func attemptStarted() { stats.increment(.upstreamRqTotal) }
    func responseReceived(status: Int) { stats.recordResponse(code: status) }
    func retried() { stats.increment(.upstreamRqRetry) }
    func retryLimitExceeded() { stats.increment(.upstreamRqRetryLimitExceeded) }
    func perTryTimeout() { stats.increment(.upstreamRqPerTryTimeout) }
    func timeout() { stats.increment(.upstreamRqTimeout) }
    func noHealthyUpstream() { stats.increment(.upstreamCxNoneHealthy) }
    func connectFailed() { stats.increment(.upstreamCxConnectFail) }
    func connectionOpened(http2: Bool) {
        stats.increment(.upstreamCxTotal)
        stats.increment(http2 ? .upstreamCxHTTP2Total : .upstreamCxHTTP1Total)
        stats.increment(.upstreamCxActive)
    }
    func connectionClosed() {
        stats.decrement(.upstreamCxActive)
        stats.increment(.upstreamCxDestroy)
    }
}
