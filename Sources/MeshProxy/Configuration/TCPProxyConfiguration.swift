import MeshXDS

/// Envoy's TCP proxy: bytes both ways between the downstream connection and one upstream host.
public struct TCPProxyConfiguration: Sendable {
    /// The upstream cluster choice.
    public enum Upstream: Sendable, Hashable {
        /// One cluster.
        case cluster(String)
        /// Clusters by weight.
        case weighted([(name: String, weight: Int)])

        public static func == (lhs: Upstream, rhs: Upstream) -> Bool {
            switch (lhs, rhs) {
            case (.cluster(let a), .cluster(let b)): a == b
            case (.weighted(let a), .weighted(let b)): a.map(\.name) == b.map(\.name) && a.map(\.weight) == b.map(\.weight)
            default: false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case .cluster(let name): hasher.combine(name)
            case .weighted(let list): for entry in list { hasher.combine(entry.name); hasher.combine(entry.weight) }
            }
        }
    }

    /// Prefix of this proxy's stats (`tcp.<prefix>.*`).
    public var statPrefix: String
    /// Where connections go.
    public var upstream: Upstream
    /// Idle time after which both connections close (1 hour by default; nil disables).
    public var idleTimeout: Duration?
    /// Connection attempts before giving up (1 by default).
    public var maxConnectAttempts: Int
    /// Access logs written when each connection ends (`access_log`).
    public var accessLogs: [AccessLogConfiguration] = []

    init(_ proxy: Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        statPrefix = proxy.statPrefix
        switch proxy.clusterSpecifier {
        case .cluster(let name):
            guard !name.isEmpty else { throw context.error(.invalid, "\(field).cluster", "the cluster name is empty") }
            upstream = .cluster(name)
        case .weightedClusters(let weighted):
            let list = weighted.clusters.map { (name: $0.name, weight: Int($0.weight)) }
            guard !list.isEmpty, list.reduce(0, { $0 + $1.weight }) > 0 else {
                throw context.error(.invalid, "\(field).weighted_clusters", "weighted clusters need at least one positive weight")
            }
            upstream = .weighted(list)
        default:
            throw context.error(.unsupported, "\(field).cluster_specifier", "only cluster and weighted_clusters are supported")
        }
        if proxy.hasTunnelingConfig {
            throw context.error(.unsupported, "\(field).tunneling_config", "tunneling over HTTP is not supported")
        }
        idleTimeout = proxy.hasIdleTimeout ? proxy.idleTimeout.durationOrNil : .seconds(3600)
        maxConnectAttempts = proxy.hasMaxConnectAttempts ? max(1, Int(proxy.maxConnectAttempts.value)) : 1
        accessLogs = try AccessLogConfiguration.list(proxy.accessLog, field: "\(field).access_log", context: context)
        let options = proxy.accessLogOptions
        if options.hasAccessLogFlushInterval || options.flushAccessLogOnConnected || options.flushAccessLogOnStart {
            throw context.error(.unsupported, "\(field).access_log_options", "periodic and on-connect access logs are not supported")
        }
    }

    /// The cluster for a connection, given a random value.
    public func cluster(random: UInt64) -> String {
        switch upstream {
        case .cluster(let name): return name
        case .weighted(let list):
            let total = UInt64(list.reduce(0) { $0 + $1.weight })
            var point = random % total
            for entry in list {
                if point < UInt64(entry.weight) { return entry.name }
                point -= UInt64(entry.weight)
            }
            return list[list.count - 1].name
        }
    }
}
