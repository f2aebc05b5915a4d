import Foundation
public import MeshXDS
public import SwiftProtobuf

/// Everything the proxy needs from an Envoy v3 `Cluster`, validated with Envoy's rules and with
/// Envoy's defaults filled in.
///
/// Conversion throws a ``ProxyConfigurationError`` (resource type `Cluster`) naming the proto field
/// for anything invalid or not served, so the xDS client can NACK the response.
///
/// Read but deliberately without effect: `common_lb_config.zone_aware_lb_config` (zone-aware routing
/// needs the local cluster's membership, which a sidecar does not have), `update_merge_window`, DNS
/// `respect_dns_ttl` beyond being stored (the system resolver reports no TTL), and
/// `upstream_connection_options.happy_eyeballs_config`.
public struct ClusterConfiguration: Sendable, Equatable {
    /// `name`.
    public var name: String
    /// `alt_stat_name`, or `name` when unset: the name used in stats.
    public var statName: String
    /// How the cluster's hosts are found.
    public var discovery: Discovery
    /// `connect_timeout`, Envoy default 5 s.
    public var connectTimeout: Duration
    /// `lb_policy` with its configuration.
    public var loadBalancer: LoadBalancerKind
    /// `common_lb_config.healthy_panic_threshold` in percent, Envoy default 50; 0 disables panic.
    public var healthyPanicThreshold: Double
    /// `common_lb_config.locality_weighted_lb_config` is set.
    public var localityWeightedBalancing: Bool
    /// `common_lb_config.consistent_hashing_lb_config.use_hostname_for_hashing`.
    public var useHostnameForHashing: Bool
    /// Circuit-breaker thresholds for the `DEFAULT` routing priority.
    public var circuitBreakers: CircuitBreakerThresholds
    /// Circuit-breaker thresholds for the `HIGH` routing priority (Envoy's defaults when unset).
    public var highPriorityCircuitBreakers: CircuitBreakerThresholds
    /// `circuit_breakers.per_host_thresholds[DEFAULT].max_connections`; nil means unlimited.
    public var perHostMaxConnections: UInt32?
    /// `outlier_detection`; nil when the cluster has none.
    public var outlierDetection: OutlierDetectionPolicy?
    /// The upstream HTTP protocol and connection lifetime options.
    public var httpProtocolOptions: UpstreamHTTPProtocolOptions
    /// `per_connection_buffer_limit_bytes`, Envoy default 1 MiB.
    public var perConnectionBufferLimitBytes: UInt32
    /// `transport_socket`: what endpoints matched by no ``transportSocketMatches`` entry use.
    public var transportSocket: UpstreamTransportSocket
    /// `transport_socket_matches`, in order.
    public var transportSocketMatches: [TransportSocketMatch]
    /// `metadata.filter_metadata` (Istio keeps `istio` service metadata here).
    public var metadata: [String: Google_Protobuf_Struct]
    /// `upstream_bind_config.source_address`: the local address upstream connections bind to.
    public var upstreamBindAddress: EndpointAddress?
    /// `upstream_connection_options.tcp_keepalive`.
    public var tcpKeepalive: TCPKeepalive?
    /// `original_dst_lb_config` of an `ORIGINAL_DST` cluster.
    public var originalDestination: OriginalDestinationOptions
    /// `cleanup_interval` of `ORIGINAL_DST` clusters (Envoy default 5 s): how long an unused
    /// original-destination host is kept.
    public var cleanupInterval: Duration
    /// `slow_start_config` of `round_robin_lb_config` or `least_request_lb_config` (Istio's
    /// `warmupDurationSecs`); nil when unset or with a zero window.
    public var slowStart: SlowStart?

    /// Envoy's slow start: a host added to the cluster ramps its weight up over a window.
    ///
    /// While any host is within its window the balancer uses the EDF schedule with each such host's
    /// weight scaled by `max(min_weight_percent, (elapsed / window) ^ (1 / aggression))`. Hosts
    /// present when the cluster is created start at full weight.
    public struct SlowStart: Sendable, Equatable {
        /// `slow_start_window`.
        public var window: Duration
        /// `aggression.default_value`, default 1.0 (linear).
        public var aggression: Double
        /// `min_weight_percent`, default 10.
        public var minimumWeightPercent: Double

        /// - Parameters:
        ///   - window: The ramp-up duration.
        ///   - aggression: The ramp's curve.
        ///   - minimumWeightPercent: The weight floor in percent.
        public init(window: Duration, aggression: Double = 1.0, minimumWeightPercent: Double = 10) {
            self.window = window
            self.aggression = aggression
            self.minimumWeightPercent = minimumWeightPercent
        }

        /// The weight multiplier for a host that entered slow start `elapsed` ago (1 after the window).
        /// - Parameter elapsed: Time since the host was added.
        public func factor(elapsed: Duration) -> Double {
            guard elapsed < window else { return 1 }
            let timeFactor = max(Double(max(elapsed, .milliseconds(1)).milliseconds), 1) / Double(max(window.milliseconds, 1))
            let shaped = aggression == 1 ? timeFactor : pow(timeFactor, 1 / aggression)
            return max(shaped, minimumWeightPercent / 100)
        }
    }

    /// Envoy's default `connect_timeout`, 5 s.
    public static let defaultConnectTimeout: Duration = .seconds(5)
    /// Envoy's default `per_connection_buffer_limit_bytes`, 1 MiB.
    public static let defaultPerConnectionBufferLimitBytes: UInt32 = 1024 * 1024
    /// The `typed_extension_protocol_options` key of the upstream HTTP options.
    public static let httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    /// The `cluster_type.name` of the dynamic forward proxy.
    public static let dynamicForwardProxyClusterType = "envoy.clusters.dynamic_forward_proxy"

    /// How a cluster finds its hosts.
    public enum Discovery: Sendable, Equatable {
        /// `EDS`: endpoints arrive as `ClusterLoadAssignment` named `serviceName`
        /// (`eds_cluster_config.service_name`, or the cluster name).
        case eds(serviceName: String)
        /// `STATIC`: the inline `load_assignment` (IP addresses or pipes).
        case staticEndpoints(EndpointSet)
        /// `STRICT_DNS`: every address of every hostname is a host.
        case strictDNS(EndpointSet, DNSResolution)
        /// `LOGICAL_DNS`: one hostname; the first address is the single host.
        case logicalDNS(EndpointSet, DNSResolution)
        /// `ORIGINAL_DST`: the downstream connection's original destination is the host.
        case originalDestination
        /// `cluster_type` `envoy.clusters.dynamic_forward_proxy`: the request authority, resolved
        /// through a shared DNS cache.
        case dynamicForwardProxy(DNSCache)

        /// The endpoints known from the cluster itself (STATIC and DNS clusters).
        public var inlineEndpoints: EndpointSet? {
            switch self {
            case .staticEndpoints(let set), .strictDNS(let set, _), .logicalDNS(let set, _): set
            case .eds, .originalDestination, .dynamicForwardProxy: nil
            }
        }
    }

    /// DNS settings of `STRICT_DNS` and `LOGICAL_DNS` clusters.
    public struct DNSResolution: Sendable, Equatable {
        /// `dns_lookup_family`, default `AUTO`.
        public var lookupFamily: DNSLookupFamily
        /// `dns_refresh_rate`, default 5 s.
        public var refreshRate: Duration
        /// `respect_dns_ttl`: refresh at the record TTL instead.
        public var respectTTL: Bool
        /// `dns_failure_refresh_rate`: after a failed resolution the next one follows a fully
        /// jittered exponential backoff between these intervals; nil: `refreshRate` applies.
        public var failureRefresh: FailureRefreshRate?

        /// - Parameters:
        ///   - lookupFamily: Address families to resolve.
        ///   - refreshRate: Re-resolution period.
        ///   - respectTTL: Use record TTLs.
        ///   - failureRefresh: Backoff after failed resolutions.
        public init(lookupFamily: DNSLookupFamily = .auto, refreshRate: Duration = .seconds(5), respectTTL: Bool = false, failureRefresh: FailureRefreshRate? = nil) {
            self.lookupFamily = lookupFamily
            self.refreshRate = refreshRate
            self.respectTTL = respectTTL
            self.failureRefresh = failureRefresh
        }
    }

    /// `dns_failure_refresh_rate`.
    public struct FailureRefreshRate: Sendable, Equatable {
        /// `base_interval`.
        public var base: Duration
        /// `max_interval`, default 10 × `base_interval`.
        public var max: Duration

        /// - Parameters: see the properties.
        public init(base: Duration, max: Duration) {
            self.base = base
            self.max = max
        }
    }

    /// The dynamic forward proxy's `dns_cache_config`.
    public struct DNSCache: Sendable, Equatable {
        /// `name`: caches with the same name are shared between clusters and filters.
        public var name: String
        /// `dns_lookup_family`.
        public var lookupFamily: DNSLookupFamily
        /// `dns_refresh_rate`, default 60 s.
        public var refreshRate: Duration
        /// `host_ttl`, default 5 min: unused hosts are forgotten after this long.
        public var hostTTL: Duration
        /// `max_hosts`, default 1024.
        public var maxHosts: UInt32
        /// `allow_coalesced_connections` of the cluster config.
        public var allowCoalescedConnections: Bool

        /// - Parameters:
        ///   - name: The cache name.
        ///   - lookupFamily: Address families.
        ///   - refreshRate: Re-resolution period.
        ///   - hostTTL: Idle host lifetime.
        ///   - maxHosts: Cache size.
        ///   - allowCoalescedConnections: HTTP/2 connection coalescing.
        public init(
            name: String,
            lookupFamily: DNSLookupFamily = .auto,
            refreshRate: Duration = .seconds(60),
            hostTTL: Duration = .seconds(300),
            maxHosts: UInt32 = 1024,
            allowCoalescedConnections: Bool = false
        ) {
            self.name = name
            self.lookupFamily = lookupFamily
            self.refreshRate = refreshRate
            self.hostTTL = hostTTL
            self.maxHosts = maxHosts
            self.allowCoalescedConnections = allowCoalescedConnections
        }
    }

    /// `dns_lookup_family`.
    public enum DNSLookupFamily: Sendable, Hashable {
        /// `AUTO`: IPv6 first, IPv4 if there is none.
        case auto
        /// `V4_ONLY`.
        case v4Only
        /// `V6_ONLY`.
        case v6Only
        /// `V4_PREFERRED`: IPv4 first, IPv6 if there is none.
        case v4Preferred
        /// `ALL`: both families.
        case all
    }

    /// `upstream_connection_options.tcp_keepalive`.
    public struct TCPKeepalive: Sendable, Equatable {
        /// `keepalive_probes`; nil keeps the system default.
        public var probes: UInt32?
        /// `keepalive_time` in seconds; nil keeps the system default.
        public var time: UInt32?
        /// `keepalive_interval` in seconds; nil keeps the system default.
        public var interval: UInt32?

        /// - Parameters:
        ///   - probes: Unanswered probes before the connection drops.
        ///   - time: Idle seconds before the first probe.
        ///   - interval: Seconds between probes.
        public init(probes: UInt32? = nil, time: UInt32? = nil, interval: UInt32? = nil) {
            self.probes = probes
            self.time = time
            self.interval = interval
        }
    }

    /// `original_dst_lb_config`.
    public struct OriginalDestinationOptions: Sendable, Equatable {
        /// `use_http_header`: take the destination from a request header.
        public var useHTTPHeader: Bool
        /// `http_header_name`, default `x-envoy-original-dst-host`.
        public var httpHeaderName: String
        /// `upstream_port_override`: connect to this port instead of the original one.
        public var upstreamPortOverride: UInt32?

        /// - Parameters:
        ///   - useHTTPHeader: Use the header.
        ///   - httpHeaderName: The header name.
        ///   - upstreamPortOverride: Port override.
        public init(useHTTPHeader: Bool = false, httpHeaderName: String = "x-envoy-original-dst-host", upstreamPortOverride: UInt32? = nil) {
            self.useHTTPHeader = useHTTPHeader
            self.httpHeaderName = httpHeaderName
            self.upstreamPortOverride = upstreamPortOverride
        }
    }

    /// A configuration with Envoy's defaults, for tests and for clusters the engine builds itself.
    /// - Parameters:
    ///   - name: The cluster name.
    ///   - discovery: Host discovery.
    ///   - loadBalancer: The load balancer.
    public init(name: String, discovery: Discovery, loadBalancer: LoadBalancerKind = .roundRobin) {
        self.name = name
        self.statName = name
        self.discovery = discovery
        self.connectTimeout = Self.defaultConnectTimeout
        self.loadBalancer = loadBalancer
        self.healthyPanicThreshold = 50
        self.localityWeightedBalancing = false
        self.useHostnameForHashing = false
        self.circuitBreakers = .envoyDefault
        self.highPriorityCircuitBreakers = .envoyDefault
        self.perHostMaxConnections = nil
        self.outlierDetection = nil
        self.httpProtocolOptions = UpstreamHTTPProtocolOptions()
        self.perConnectionBufferLimitBytes = Self.defaultPerConnectionBufferLimitBytes
        self.transportSocket = .plaintext
        self.transportSocketMatches = []
        self.metadata = [:]
        self.upstreamBindAddress = nil
        self.tcpKeepalive = nil
        self.originalDestination = OriginalDestinationOptions()
        self.slowStart = nil
        self.cleanupInterval = .seconds(5)
    }

    /// The transport socket for an endpoint: Envoy's `transport_socket_matches` selection on the
    /// endpoint's (then its locality's) `envoy.transport_socket_match` metadata, else ``transportSocket``.
    /// - Parameters:
    ///   - endpointMetadata: The endpoint's filter metadata.
    ///   - localityMetadata: Its locality's filter metadata.
    /// - Returns: The socket and the match name (`default` for the cluster's own socket).
    public func transportSocket(
        endpointMetadata: [String: Google_Protobuf_Struct],
        localityMetadata: [String: Google_Protobuf_Struct] = [:]
    ) -> (socket: UpstreamTransportSocket, matchName: String) {
        if let match = transportSocketMatches.firstMatch(endpointMetadata: endpointMetadata, localityMetadata: localityMetadata) {
            return (match.transportSocket, match.name)
        }
        return (transportSocket, "default")
    }

    /// Converts a CDS resource.
    /// - Parameter cluster: The Envoy cluster.
    /// - Throws: ``ProxyConfigurationError`` with resource type `Cluster`, naming the field.
    public init(_ cluster: Envoy_Config_Cluster_V3_Cluster) throws(ProxyConfigurationError) {
        var converter = ClusterConverter(cluster: cluster)
        self = try converter.convert()
    }
}
