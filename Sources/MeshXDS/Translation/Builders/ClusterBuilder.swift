public import MeshCore

/// Builds Istio's clusters: one per service port and DestinationRule subset, the inbound
/// clusters of a workload's own ports, and the special catch-all clusters.
public struct ClusterBuilder: Sendable {
    public var options: TranslationOptions
    private let endpoints = EndpointBuilder()

    public init(options: TranslationOptions) { self.options = options }

    /// `outbound|PORT||HOST` and one `outbound|PORT|SUBSET|HOST` per subset of `rule`.
    ///
    /// STATIC (and platform) services get EDS clusters, DNS gets STRICT_DNS and DNS_ROUND_ROBIN
    /// LOGICAL_DNS with inline endpoints (no cluster when there are none, as in Istio), NONE gets
    /// ORIGINAL_DST (EDS on gateways). Each cluster gets the effective traffic policy for its port
    /// and subset (see ``effectivePolicy(_:subset:port:)``): connection pool, outlier detection,
    /// load balancer and locality load balancing. UDP ports get no cluster.
    /// - Parameters:
    ///   - service: the service.
    ///   - port: one of its ports.
    ///   - instances: its instances (used inline by DNS clusters).
    ///   - rule: the DestinationRule that applies, if any.
    ///   - proxy: the proxy the clusters are for (its type, addresses and locality); nil builds them
    ///     for a sidecar without a locality.
    public func outboundClusters(
        service: MeshService, port: ServicePortInfo, instances: [WorkloadInstance], rule: DestinationRuleIndex.Merged?,
        proxy: ProxyView? = nil
    ) -> [Envoy_Config_Cluster_V3_Cluster] {
        guard port.protocol != .udp else { return [] }
        var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
        if let main = cluster(
            name: ClusterName.outbound(port: port.port, host: service.hostname), service: service, port: port,
            instances: instances, subsetLabels: nil, policy: Self.effectivePolicy(rule, subset: nil, port: port.port), proxy: proxy) {
            clusters.append(main)
        }
        for subset in rule?.subsets ?? [] {
            guard let name = subset.name else { continue }
            if let c = cluster(
                name: ClusterName.outbound(port: port.port, subset: name, host: service.hostname), service: service,
                port: port, instances: instances, subsetLabels: subset.labels ?? [:],
                policy: Self.effectivePolicy(rule, subset: name, port: port.port), proxy: proxy) {
                clusters.append(c)
            }
        }
        return clusters
    }

    /// True when the service's clusters get endpoints over EDS.
    public static func usesEDS(_ service: MeshService) -> Bool { service.resolution == .clientSideLB }

    /// True when the service's clusters get endpoints over EDS for `proxy`: gateways cannot use
    /// ORIGINAL_DST, so NONE services get EDS there, as in Istio.
    public static func usesEDS(_ service: MeshService, proxy: ProxyView?) -> Bool {
        usesEDS(service) || (service.resolution == .passthrough && proxy?.type == .router)
    }

    /// The discovery type Istio gives a service's clusters (before a PASSTHROUGH load balancer).
    static func discoveryType(_ service: MeshService, proxy: ProxyView?) -> Envoy_Config_Cluster_V3_Cluster.DiscoveryType {
        switch service.resolution {
        case .clientSideLB: .eds
        case .dnsLB: .strictDns
        case .dnsRoundRobin: .logicalDns
        case .passthrough: proxy?.type == .router ? .eds : .originalDst
        case .dynamicDNS: .originalDst
        }
    }

    private func cluster(
        name: String, service: MeshService, port: ServicePortInfo, instances: [WorkloadInstance],
        subsetLabels: [String: String]?, policy: DestinationRule.TrafficPolicy?, proxy: ProxyView?
    ) -> Envoy_Config_Cluster_V3_Cluster? {
        var c = Envoy_Config_Cluster_V3_Cluster()
        c.name = name
        c.metadata = IstioTelemetryBuilder.serviceMetadata([service], domainSuffix: options.domainSuffix)
        c.connectTimeout = Proto.duration(options.connectTimeout)
        c.type = Self.discoveryType(service, proxy: proxy)
        if policy?.loadBalancer?.simple == .PASSTHROUGH { c.type = .originalDst }
        let locality = Self.localityLoadBalancing(policy: policy, proxy: proxy, options: options)
        switch c.type {
        case .strictDns, .logicalDns:
            c.dnsLookupFamily = Self.dnsLookupFamily(proxy?.ipAddresses ?? [])
            // Istio also sets `dns_refresh_rate` (MeshConfig `dnsRefreshRate`) and `respect_dns_ttl`;
            // Envoy 1.40 deprecates both on Cluster in favour of the `envoy.clusters.dns` extension,
            // which the trimmed protos do not carry yet, so Envoy's defaults apply.
            func assignment(_ locality: LocalityLoadBalancing?) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
                endpoints.loadAssignment(
                    clusterName: name, port: port, instances: instances, subsetLabels: subsetLabels,
                    limit: c.type == .logicalDns ? 1 : nil, locality: locality)
            }
            let plain = assignment(nil)
            guard plain.endpoints.contains(where: { !$0.lbEndpoints.isEmpty }) else { return nil }
            // DNS clusters carry their endpoints inline, with the proxy's locality priorities or
            // weights; EDS clusters get the same from EndpointGenerator.
            c.loadAssignment = locality.map(assignment) ?? plain
        case .originalDst:
            if service.resolution == .passthrough, let target = port.targetPort, target != port.port {
                c.originalDstLbConfig = .with { $0.upstreamPortOverride = .init(target) }
            }
        default:
            break
        }

        // Upstream protocol: HTTP/2 for gRPC and HTTP2 ports; a sidecar passes the client's
        // protocol through on ports of unknown protocol.
        var http: ConnectionPoolConverter.HTTPOptions?
        if [.http2, .grpc].contains(port.protocol) {
            ConnectionPoolConverter.setHTTP2(&http)
        } else if port.protocol == .unsupported && (proxy?.type ?? .sidecar) == .sidecar {
            ConnectionPoolConverter.useDownstreamProtocol(&http)
        }
        if ConnectionPoolConverter.shouldUpgradeToHTTP2(policy?.connectionPool, port: port, mesh: options.h2UpgradePolicy) {
            ConnectionPoolConverter.setHTTP2(&http)
        }
        ConnectionPoolConverter.apply(
            policy?.connectionPool, retryBudget: policy?.retryBudget, meshKeepalive: options.tcpKeepalive, to: &c, http: &http)
        if let outlier = policy?.outlierDetection {
            c.outlierDetection = OutlierDetectionConverter.convert(outlier)
            if let threshold = OutlierDetectionConverter.panicThreshold(outlier) {
                c.commonLbConfig.healthyPanicThreshold = .with { $0.value = threshold }
            }
        }
        if c.type != .originalDst, locality?.usesLocalityWeights == true {
            c.commonLbConfig.localityWeightedLbConfig = Envoy_Config_Cluster_V3_Cluster.CommonLbConfig.LocalityWeightedLbConfig()
        }
        LoadBalancerConverter.apply(policy?.loadBalancer, to: &c)
        ConnectionPoolConverter.attach(http, to: &c)
        if c.type == .eds {
            c.edsClusterConfig = .with { $0.edsConfig = Proto.adsConfigSource; $0.serviceName = name }
        }
        return c
    }

    /// Istio's DNS lookup family: IPv6 only for IPv6-only proxies, else IPv4 only.
    static func dnsLookupFamily(_ addresses: [String]) -> Envoy_Config_Cluster_V3_Cluster.DnsLookupFamily {
        guard !addresses.isEmpty, addresses.allSatisfy({ $0.contains(":") }) else { return .v4Only }
        return .v6Only
    }

    /// The locality load balancing `proxy` gets for a cluster with `policy`, if any.
    static func localityLoadBalancing(
        policy: DestinationRule.TrafficPolicy?, proxy: ProxyView?, options: TranslationOptions
    ) -> LocalityLoadBalancing? {
        guard let proxy else { return nil }
        return LocalityLoadBalancing.make(
            proxy: proxy, mesh: options.localityLbSetting, loadBalancer: policy?.loadBalancer,
            outlierDetection: policy?.outlierDetection != nil)
    }

    /// `inbound|PORT||` sending to the application at `host:port` (Sidecar `defaultEndpoint`).
    /// - Parameters:
    ///   - port: the listener port.
    ///   - host: the application's IP address or `unix://` path.
    ///   - endpointPort: the application's port.
    ///   - services: the proxy's services behind the port (`istio.services` metadata).
    public func inboundCluster(port: UInt32, host: String, endpointPort: UInt32, services: [MeshService] = []) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = ClusterName.inbound(port: port)
            if !services.isEmpty { $0.metadata = IstioTelemetryBuilder.serviceMetadata(services, domainSuffix: options.domainSuffix) }
            $0.type = .static
            $0.connectTimeout = Proto.duration(options.connectTimeout)
            $0.loadAssignment = endpoints.staticAssignment(clusterName: $0.name, host: host, port: endpointPort)
        }
    }

    /// `inbound|PORT||` for captured traffic: the original destination, connecting from 127.0.0.6.
    public func inboundPassthroughCluster(port: UInt32?, services: [MeshService] = []) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = port.map { ClusterName.inbound(port: $0) } ?? ClusterName.inboundPassthrough
            if !services.isEmpty { $0.metadata = IstioTelemetryBuilder.serviceMetadata(services, domainSuffix: options.domainSuffix) }
            $0.type = .originalDst
            $0.lbPolicy = .clusterProvided
            $0.connectTimeout = Proto.duration(options.connectTimeout)
            $0.upstreamBindConfig = .with {
                $0.sourceAddress = .with { $0.address = options.inboundPassthroughBindAddress; $0.portValue = 0 }
            }
        }
    }

    /// `BlackHoleCluster`: a STATIC cluster without endpoints.
    public func blackHoleCluster() -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = ClusterName.blackHole
            $0.type = .static
            $0.connectTimeout = Proto.duration(options.connectTimeout)
        }
    }

    /// `PassthroughCluster`: the original destination, speaking the downstream's HTTP version.
    public func passthroughCluster() -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = ClusterName.passthrough
            $0.type = .originalDst
            $0.lbPolicy = .clusterProvided
            $0.connectTimeout = Proto.duration(options.connectTimeout)
            $0.typedExtensionProtocolOptions = [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": Proto.any(
                    Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.with {
                        $0.useDownstreamProtocolConfig = .with {
                            $0.httpProtocolOptions = Envoy_Config_Core_V3_Http1ProtocolOptions()
                            $0.http2ProtocolOptions = Envoy_Config_Core_V3_Http2ProtocolOptions()
                        }
                    })
            ]
        }
    }

    // MARK: Traffic policy

    /// The traffic policy for one port of a destination or subset, as Istio's
    /// MergeSubsetTrafficPolicy computes it.
    ///
    /// A `portLevelSettings` entry for the port replaces the policy it belongs to (its unset fields
    /// take defaults, they are not inherited). The subset's policy (after its own port-level
    /// replacement) then overrides the destination's field by field; a subset port-level entry
    /// overrides connection pool, outlier detection, load balancer and TLS even where it leaves them unset.
    /// - Parameters:
    ///   - rule: the DestinationRule, if any.
    ///   - subset: the subset name, or nil for the destination itself.
    ///   - port: the service port.
    public static func effectivePolicy(_ rule: DestinationRuleIndex.Merged?, subset: String?, port: UInt32) -> DestinationRule.TrafficPolicy? {
        let (base, _) = portLevel(rule?.trafficPolicy, port: port)
        guard let subset, let own = rule?.subset(subset)?.trafficPolicy else { return base }
        let (subsetPolicy, hasPortLevel) = portLevel(own, port: port)
        guard var merged = base, let subsetPolicy else { return subsetPolicy ?? base }
        merged.portLevelSettings = nil
        return merge(merged, subsetPolicy, hasPortLevel: hasPortLevel)
    }

    /// Istio's MergeTrafficPolicy: each field set on the subset replaces the rule's (all of the
    /// first four when the subset's came from a port-level entry).
    static func merge(
        _ base: DestinationRule.TrafficPolicy?, _ subset: DestinationRule.TrafficPolicy?, hasPortLevel: Bool = false
    ) -> DestinationRule.TrafficPolicy? {
        guard let subset else { return base }
        guard var merged = base else { return subset }
        if subset.connectionPool != nil || hasPortLevel { merged.connectionPool = subset.connectionPool }
        if subset.outlierDetection != nil || hasPortLevel { merged.outlierDetection = subset.outlierDetection }
        if subset.loadBalancer != nil || hasPortLevel { merged.loadBalancer = subset.loadBalancer }
        if subset.tls != nil || hasPortLevel { merged.tls = subset.tls }
        if subset.tunnel != nil { merged.tunnel = subset.tunnel }
        if subset.proxyProtocol != nil { merged.proxyProtocol = subset.proxyProtocol }
        if subset.retryBudget != nil { merged.retryBudget = subset.retryBudget }
        return merged
    }

    /// The port-level policy for `port` in place of `policy` (and true), or `policy` itself.
    private static func portLevel(_ policy: DestinationRule.TrafficPolicy?, port: UInt32) -> (DestinationRule.TrafficPolicy?, Bool) {
        guard let policy, let level = policy.portLevelSettings?.first(where: { $0.port?.number == port }) else {
            return (policy, false)
        }
        return (DestinationRule.TrafficPolicy(
            loadBalancer: level.loadBalancer, connectionPool: level.connectionPool,
            outlierDetection: level.outlierDetection, tls: level.tls), true)
    }
}
