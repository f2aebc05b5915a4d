public import MeshCore

/// The mesh-wide settings translation reads, passed explicitly instead of read from globals.
public struct TranslationOptions: Sendable, Hashable {
    /// What sidecars do with traffic to destinations outside their service registry view.
    public enum OutboundTrafficMode: String, Sendable, Hashable {
        /// Unknown destinations go to `PassthroughCluster` (Istio's default).
        case allowAny = "ALLOW_ANY"
        /// Unknown destinations go to `BlackHoleCluster` (HTTP gets a 502).
        case registryOnly = "REGISTRY_ONLY"
    }

    /// The DNS suffix of service names (`cluster.local`).
    public var domainSuffix: String
    /// Cluster connect timeout when no DestinationRule sets one (MeshConfig `connectTimeout`, 10s).
    public var connectTimeout: ConfigDuration
    /// Outbound capture port for transparent interception (MeshConfig `proxyListenPort`, 15001).
    public var outboundListenerPort: UInt32
    /// Inbound capture port for transparent interception (MeshConfig `proxyInboundListenPort`, 15006).
    public var inboundListenerPort: UInt32
    /// The policy when the workload's Sidecar sets none (MeshConfig `outboundTrafficPolicy.mode`).
    public var outboundTrafficMode: OutboundTrafficMode
    /// Retry policy for routes that set none (MeshConfig `defaultHttpRetryPolicy`); nil means Istio's default.
    public var defaultRetryPolicy: HTTPRetry?
    /// The address inbound clusters connect from in transparent mode (Istio's `127.0.0.6`).
    public var inboundPassthroughBindAddress: String
    /// Locality load balancing for destinations whose DestinationRule sets none (MeshConfig
    /// `localityLbSetting`; Istio's default enables it, so outlier detection brings failover).
    public var localityLbSetting: LocalityLoadBalancerSetting? = LocalityLoadBalancerSetting(enabled: true)
    /// MeshConfig `h2UpgradePolicy`: UPGRADE makes HTTP/1.1 clusters speak HTTP/2 upstream.
    public var h2UpgradePolicy: MeshConfig.H2UpgradePolicy?
    /// MeshConfig `tcpKeepalive` for upstream connections (a DestinationRule overrides it per field).
    public var tcpKeepalive: MeshConfig.TCPKeepalive?
    /// MeshConfig `accessLogFile` (with its encoding and format): the file access log on every
    /// connection manager, TCP proxy and listener; nil when access logging is off.
    public var accessLog: MeshAccessLog?

    /// Creates options; every default is Istio's.
    public init(
        domainSuffix: String = "cluster.local", connectTimeout: ConfigDuration = ConfigDuration(milliseconds: 10_000),
        outboundListenerPort: UInt32 = 15001,
        inboundListenerPort: UInt32 = 15006, outboundTrafficMode: OutboundTrafficMode = .allowAny,
        defaultRetryPolicy: HTTPRetry? = nil, inboundPassthroughBindAddress: String = "127.0.0.6"
    ) {
        self.domainSuffix = domainSuffix
        self.connectTimeout = connectTimeout
        self.outboundListenerPort = outboundListenerPort
        self.inboundListenerPort = inboundListenerPort
        self.outboundTrafficMode = outboundTrafficMode
        self.defaultRetryPolicy = defaultRetryPolicy
        self.inboundPassthroughBindAddress = inboundPassthroughBindAddress
    }

    /// Options taken from a mesh config, with Istio's defaults for unset fields.
    /// - Parameters:
    ///   - mesh: the mesh config.
    ///   - domainSuffix: the cluster DNS suffix.
    public init(mesh: MeshConfig, domainSuffix: String = "cluster.local") {
        self.init(domainSuffix: domainSuffix)
        if let timeout = mesh.connectTimeout { connectTimeout = timeout }
        if let port = mesh.proxyListenPort, port > 0 { outboundListenerPort = UInt32(port) }
        if let port = mesh.proxyInboundListenPort, port > 0 { inboundListenerPort = UInt32(port) }
        if mesh.outboundTrafficPolicy?.mode == .REGISTRY_ONLY { outboundTrafficMode = .registryOnly }
        defaultRetryPolicy = mesh.defaultHttpRetryPolicy
        localityLbSetting = mesh.localityLbSetting ?? localityLbSetting
        h2UpgradePolicy = mesh.h2UpgradePolicy
        tcpKeepalive = mesh.tcpKeepalive
        accessLog = MeshAccessLog(mesh: mesh)
    }
}
