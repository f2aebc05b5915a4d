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
    /// LOGICAL_DNS with inline endpoints, NONE gets ORIGINAL_DST. The rule's traffic policy sets
    /// the load balancer and the connect timeout; a subset's policy overrides the rule's and a
    /// matching `portLevelSettings` entry overrides both.
    /// - Parameters:
    ///   - service: the service.
    ///   - port: one of its ports.
    ///   - instances: its instances (used inline by DNS clusters).
    ///   - rule: the DestinationRule that applies, if any.
    public func outboundClusters(
        service: MeshService, port: ServicePortInfo, instances: [WorkloadInstance], rule: DestinationRuleIndex.Merged?
    ) -> [Envoy_Config_Cluster_V3_Cluster] {
        var clusters = [cluster(
            name: ClusterName.outbound(port: port.port, host: service.hostname), service: service, port: port,
            instances: instances, subsetLabels: nil, policy: Self.policy(rule?.trafficPolicy, port: port.port))]
        for subset in rule?.subsets ?? [] {
            guard let name = subset.name else { continue }
            let merged = Self.merge(rule?.trafficPolicy, subset.trafficPolicy)
            clusters.append(cluster(
                name: ClusterName.outbound(port: port.port, subset: name, host: service.hostname), service: service,
                port: port, instances: instances, subsetLabels: subset.labels ?? [:], policy: Self.policy(merged, port: port.port)))
        }
        return clusters
    }

    /// True when the service's clusters get endpoints over EDS.
    public static func usesEDS(_ service: MeshService) -> Bool { service.resolution == .clientSideLB }

    private func cluster(
        name: String, service: MeshService, port: ServicePortInfo, instances: [WorkloadInstance],
        subsetLabels: [String: String]?, policy: Policy
    ) -> Envoy_Config_Cluster_V3_Cluster {
        var c = Envoy_Config_Cluster_V3_Cluster()
        c.name = name
        c.connectTimeout = Proto.duration(policy.connectTimeout ?? options.connectTimeout)
        c.lbPolicy = policy.lbPolicy
        switch service.resolution {
        case .clientSideLB:
            c.type = .eds
            c.edsClusterConfig = .with { $0.edsConfig = Proto.adsConfigSource; $0.serviceName = name }
        case .dnsLB, .dnsRoundRobin:
            let logical = service.resolution == .dnsRoundRobin
            c.type = logical ? .logicalDns : .strictDns
            c.dnsLookupFamily = .v4Only
            // Envoy deprecates `dns_refresh_rate` and `respect_dns_ttl` on Cluster in favour of the
            // `envoy.clusters.dns` extension, which the trimmed protos do not carry yet: Envoy's
            // defaults apply until then.
            c.loadAssignment = endpoints.loadAssignment(
                clusterName: name, port: port, instances: instances, subsetLabels: subsetLabels, limit: logical ? 1 : nil)
        case .passthrough, .dynamicDNS:
            c.type = .originalDst
            c.lbPolicy = .clusterProvided
        }
        if policy.passthrough {
            c.type = .originalDst
            c.lbPolicy = .clusterProvided
            c.clearEdsClusterConfig()
            c.clearLoadAssignment()
        }
        return c
    }

    /// `inbound|PORT||` sending to the application at `host:port` (Sidecar `defaultEndpoint`).
    /// - Parameters:
    ///   - port: the listener port.
    ///   - host: the application's IP address or `unix://` path.
    ///   - endpointPort: the application's port.
    public func inboundCluster(port: UInt32, host: String, endpointPort: UInt32) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = ClusterName.inbound(port: port)
            $0.type = .static
            $0.connectTimeout = Proto.duration(options.connectTimeout)
            $0.loadAssignment = endpoints.staticAssignment(clusterName: $0.name, host: host, port: endpointPort)
        }
    }

    /// `inbound|PORT||` for captured traffic: the original destination, connecting from 127.0.0.6.
    public func inboundPassthroughCluster(port: UInt32?) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = port.map { ClusterName.inbound(port: $0) } ?? ClusterName.inboundPassthrough
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

    // MARK: Traffic policy (the basic part; the rest comes with the full DestinationRule mapping)

    struct Policy {
        var lbPolicy: Envoy_Config_Cluster_V3_Cluster.LbPolicy = .leastRequest
        var passthrough = false
        var connectTimeout: ConfigDuration?
    }

    static func policy(_ policy: DestinationRule.TrafficPolicy?, port: UInt32) -> Policy {
        var lb = policy?.loadBalancer
        var pool = policy?.connectionPool
        if let level = policy?.portLevelSettings?.first(where: { $0.port?.number == port }) {
            lb = level.loadBalancer ?? lb
            pool = level.connectionPool ?? pool
        }
        var out = Policy()
        out.connectTimeout = pool?.tcp?.connectTimeout
        switch lb?.simple {
        case .ROUND_ROBIN?: out.lbPolicy = .roundRobin
        case .RANDOM?: out.lbPolicy = .random
        case .PASSTHROUGH?: out.passthrough = true
        case .LEAST_REQUEST?, .LEAST_CONN?, .UNSPECIFIED?, nil: out.lbPolicy = .leastRequest
        }
        return out
    }

    /// Istio's MergeTrafficPolicy: each field set on the subset replaces the rule's.
    static func merge(_ base: DestinationRule.TrafficPolicy?, _ subset: DestinationRule.TrafficPolicy?) -> DestinationRule.TrafficPolicy? {
        guard let subset else { return base }
        guard var merged = base else { return subset }
        if subset.loadBalancer != nil { merged.loadBalancer = subset.loadBalancer }
        if subset.connectionPool != nil { merged.connectionPool = subset.connectionPool }
        if subset.outlierDetection != nil { merged.outlierDetection = subset.outlierDetection }
        if subset.tls != nil { merged.tls = subset.tls }
        if subset.portLevelSettings != nil { merged.portLevelSettings = subset.portLevelSettings }
        return merged
    }
}
