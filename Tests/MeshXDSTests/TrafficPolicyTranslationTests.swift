import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// DestinationRule traffic policies and ServiceEntry resolutions, translated through the standard
/// generators for one proxy and checked field by field against Istio's mapping.
@Suite struct TrafficPolicyTranslationTests {
    struct Output {
        var clusters: [String: Envoy_Config_Cluster_V3_Cluster] = [:]
        var endpoints: [String: Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = [:]
        var routes: [String: Envoy_Config_Route_V3_RouteConfiguration] = [:]
    }

    static let service = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: web, namespace: shop}
        spec:
          hosts: [web.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 8080, name: http, protocol: HTTP}, {number: 9090, name: grpc, protocol: GRPC}]
          endpoints:
          - {address: 127.0.0.11, labels: {version: v1}, locality: us-east/zone-a}
          - {address: 127.0.0.12, labels: {version: v2}, locality: us-east/zone-b}
          - {address: 127.0.0.13, labels: {version: v2}, locality: eu-west/zone-c}
        """

    static func proxy(
        locality: String = "us-east/zone-a/", labels: [String: String] = [:], namespace: String = "shop",
        ip: String = "127.0.0.31", type: ProxyType = .sidecar
    ) -> ProxyView {
        ProxyView(
            identity: ProxyIdentity(type: type, ipAddress: ip, workloadName: "client", namespace: namespace, dnsDomain: "\(namespace).svc.cluster.local"),
            labels: labels, interceptionMode: .redirect, locality: locality)
    }

    static func translate(_ yaml: String, proxy: ProxyView = proxy(), options: TranslationOptions = TranslationOptions()) throws -> Output {
        let decoded = ConfigDecoder().decode(yaml, file: "test.yaml")
        #expect(!decoded.hasErrors, "\(decoded.errors)")
        let request = GenerationRequest(snapshot: MeshSnapshot(resources: decoded.resources), proxy: proxy, options: options)
        var out = Output()
        for resource in ClusterGenerator().generate(request) {
            out.clusters[resource.name] = try #require(resource.message as? Envoy_Config_Cluster_V3_Cluster)
        }
        for resource in EndpointGenerator().generate(request) {
            out.endpoints[resource.name] = try #require(resource.message as? Envoy_Config_Endpoint_V3_ClusterLoadAssignment)
        }
        for resource in RouteGenerator().generate(request) {
            out.routes[resource.name] = try #require(resource.message as? Envoy_Config_Route_V3_RouteConfiguration)
        }
        return out
    }

    static func rule(_ body: String) -> String {
        service + "\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: shop}\nspec:\n  host: web\n" + body
    }

    static let main = "outbound|8080||web.shop.svc.cluster.local"

    /// The upstream protocol choice of HTTP options: h1, h2, downstream or none.
    static func upstream(_ options: Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions) -> String {
        switch options.upstreamProtocolOptions {
        case .explicitHTTPConfig(let explicit)?:
            if case .http2ProtocolOptions? = explicit.protocolConfig { return "h2" }
            return "h1"
        case .useDownstreamProtocolConfig?: return "downstream"
        case .autoConfig?: return "auto"
        case nil: return "none"
        }
    }

    static func localityWeighted(_ cluster: Envoy_Config_Cluster_V3_Cluster?) -> Bool {
        if case .localityWeightedLbConfig? = cluster?.commonLbConfig.localityConfigSpecifier { return true }
        return false
    }

    // MARK: Defaults

    @Test func everyOutboundClusterGetsIstiosDefaultThresholds() throws {
        let out = try Self.translate(Self.service)
        let c = try #require(out.clusters[Self.main])
        let t = try #require(c.circuitBreakers.thresholds.first)
        #expect(c.circuitBreakers.thresholds.count == 1)
        #expect(t.maxConnections.value == UInt32.max && t.maxPendingRequests.value == UInt32.max)
        #expect(t.maxRequests.value == UInt32.max && t.maxRetries.value == UInt32.max && t.trackRemaining)
        #expect(c.lbPolicy == .leastRequest && c.connectTimeout.seconds == 10)
        #expect(!c.hasOutlierDetection && !c.hasCommonLbConfig)
        // HTTP/1.1 ports need no protocol options; gRPC gets explicit HTTP/2.
        #expect(c.typedExtensionProtocolOptions.isEmpty)
        let grpc = try #require(out.clusters["outbound|9090||web.shop.svc.cluster.local"])
        let options = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(
            unpackingAny: try #require(grpc.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]))
        #expect(Self.upstream(options) == "h2")
    }

    // MARK: Connection pool

    @Test func connectionPoolBecomesThresholdsTimeoutsAndHTTPOptions() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1, connectTimeout: 250ms, tcpKeepalive: {time: 90s}, maxConnectionDuration: 10m, idleTimeout: 5m}
                  http: {http1MaxPendingRequests: 1, http2MaxRequests: 7, maxRequestsPerConnection: 3, maxRetries: 2, maxConcurrentStreams: 9}
            """))
        let c = try #require(out.clusters[Self.main])
        let t = try #require(c.circuitBreakers.thresholds.first)
        #expect(t.maxConnections.value == 1 && t.maxPendingRequests.value == 1 && t.maxRequests.value == 7 && t.maxRetries.value == 2)
        #expect(c.connectTimeout == Google_Protobuf_Duration(seconds: 0, nanos: 250_000_000))
        #expect(c.upstreamConnectionOptions.tcpKeepalive.keepaliveTime.value == 90)
        #expect(!c.upstreamConnectionOptions.tcpKeepalive.hasKeepaliveProbes)
        let options = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(
            unpackingAny: try #require(c.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]))
        // HTTP's idle timeout is unset, so TCP's applies; HTTP/1.1 stays explicit.
        #expect(options.commonHTTPProtocolOptions.idleTimeout.seconds == 300)
        #expect(options.commonHTTPProtocolOptions.maxConnectionDuration.seconds == 600)
        #expect(options.commonHTTPProtocolOptions.maxRequestsPerConnection.value == 3)
        #expect(Self.upstream(options) == "h1")
        // maxConcurrentStreams only reaches HTTP/2 clusters.
        let grpc = try #require(out.clusters["outbound|9090||web.shop.svc.cluster.local"])
        let h2 = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(
            unpackingAny: try #require(grpc.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]))
        #expect(h2.explicitHTTPConfig.http2ProtocolOptions.maxConcurrentStreams.value == 9)
    }

    @Test func h2UpgradeAndClientProtocol() throws {
        var options = TranslationOptions()
        options.h2UpgradePolicy = .UPGRADE
        let upgraded = try Self.translate(Self.service, options: options)
        let key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        let up = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(unpackingAny: try #require(upgraded.clusters[Self.main]?.typedExtensionProtocolOptions[key]))
        #expect(Self.upstream(up) == "h2")

        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                connectionPool: {http: {useClientProtocol: true}}
            """), options: options)
        let client = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(unpackingAny: try #require(out.clusters[Self.main]?.typedExtensionProtocolOptions[key]))
        #expect(Self.upstream(client) == "downstream")

        let kept = try Self.translate(Self.rule("""
              trafficPolicy:
                connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}
            """), options: options)
        #expect(kept.clusters[Self.main]?.typedExtensionProtocolOptions.isEmpty == true)
    }

    // MARK: Outlier detection and load balancers

    @Test func outlierDetectionIsConsecutiveErrorsOnly() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, interval: 5s, baseEjectionTime: 1m, maxEjectionPercent: 100}
            """))
        let c = try #require(out.clusters[Self.main])
        let o = c.outlierDetection
        #expect(o.enforcingSuccessRate.value == 0 && o.hasEnforcingSuccessRate)
        #expect(o.consecutive5Xx.value == 0 && o.hasConsecutive5Xx && o.enforcingConsecutive5Xx.value == 0)
        #expect(o.consecutiveGatewayFailure.value == 2 && o.enforcingConsecutiveGatewayFailure.value == 100)
        // Local-origin failures count as 5xx unless split.
        #expect(!o.hasConsecutiveLocalOriginFailure && !o.splitExternalLocalOriginErrors)
        #expect(o.interval.seconds == 5 && o.baseEjectionTime.seconds == 60 && o.maxEjectionPercent.value == 100)
        #expect(c.commonLbConfig.hasHealthyPanicThreshold && c.commonLbConfig.healthyPanicThreshold.value == 0)
    }

    @Test(arguments: [
        ("{simple: ROUND_ROBIN}", Envoy_Config_Cluster_V3_Cluster.LbPolicy.roundRobin),
        ("{simple: RANDOM}", .random), ("{simple: LEAST_CONN}", .leastRequest), ("{simple: UNSPECIFIED}", .leastRequest),
        ("{consistentHash: {httpHeaderName: x}}", .ringHash), ("{consistentHash: {httpHeaderName: x, maglev: {tableSize: 7}}}", .maglev),
    ])
    func loadBalancerPolicies(lb: String, expected: Envoy_Config_Cluster_V3_Cluster.LbPolicy) throws {
        let out = try Self.translate(Self.rule("  trafficPolicy:\n    loadBalancer: \(lb)\n"))
        let c = try #require(out.clusters[Self.main])
        #expect(c.lbPolicy == expected)
        if expected == .ringHash { #expect(c.ringHashLbConfig.minimumRingSize.value == 1024) }
        if expected == .maglev { #expect(c.maglevLbConfig.tableSize.value == 7) }
    }

    @Test func passthroughLoadBalancerMakesOriginalDestination() throws {
        let out = try Self.translate(Self.rule("  trafficPolicy:\n    loadBalancer: {simple: PASSTHROUGH}\n"))
        let c = try #require(out.clusters[Self.main])
        #expect(c.type == .originalDst && c.lbPolicy == .clusterProvided && !c.hasEdsClusterConfig)
        #expect(out.endpoints[Self.main] == nil)
    }

    @Test func warmupBecomesSlowStart() throws {
        let out = try Self.translate(Self.rule("  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 30s}}\n"))
        let slow = try #require(out.clusters[Self.main]).roundRobinLbConfig.slowStartConfig
        #expect(slow.slowStartWindow.seconds == 30 && slow.aggression.defaultValue == 1 && slow.minWeightPercent.value == 10)
        let old = try Self.translate(Self.rule("  trafficPolicy:\n    loadBalancer: {warmupDurationSecs: 20s}\n"))
        let legacy = try #require(old.clusters[Self.main]).leastRequestLbConfig.slowStartConfig
        #expect(legacy.slowStartWindow.seconds == 20 && !legacy.hasAggression)
    }

    // MARK: Policy merging

    @Test func portLevelSettingsReplaceAndSubsetsOverride() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                loadBalancer: {simple: RANDOM}
                connectionPool: {tcp: {maxConnections: 10}}
                outlierDetection: {consecutive5xxErrors: 3}
                portLevelSettings:
                - port: {number: 9090}
                  loadBalancer: {simple: ROUND_ROBIN}
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy:
                  connectionPool: {tcp: {maxConnections: 2}}
              - name: v2
                labels: {version: v2}
                trafficPolicy:
                  portLevelSettings:
                  - port: {number: 8080}
                    loadBalancer: {simple: LEAST_REQUEST}
            """))
        let main = try #require(out.clusters[Self.main])
        #expect(main.lbPolicy == .random && main.circuitBreakers.thresholds[0].maxConnections.value == 10 && main.hasOutlierDetection)
        // The port-level entry replaces the whole policy: its unset pool and outlier detection take defaults.
        let grpc = try #require(out.clusters["outbound|9090||web.shop.svc.cluster.local"])
        #expect(grpc.lbPolicy == .roundRobin && grpc.circuitBreakers.thresholds[0].maxConnections.value == UInt32.max && !grpc.hasOutlierDetection)
        // A subset overrides only what it sets.
        let v1 = try #require(out.clusters["outbound|8080|v1|web.shop.svc.cluster.local"])
        #expect(v1.lbPolicy == .random && v1.circuitBreakers.thresholds[0].maxConnections.value == 2 && v1.hasOutlierDetection)
        // A subset port-level entry overrides all four policies for that port.
        let v2 = try #require(out.clusters["outbound|8080|v2|web.shop.svc.cluster.local"])
        #expect(v2.lbPolicy == .leastRequest && v2.circuitBreakers.thresholds[0].maxConnections.value == UInt32.max && !v2.hasOutlierDetection)
        let v2grpc = try #require(out.clusters["outbound|9090|v2|web.shop.svc.cluster.local"])
        #expect(v2grpc.lbPolicy == .roundRobin)
        // Subset EDS holds only the subset's endpoints.
        #expect(out.endpoints["outbound|8080|v2|web.shop.svc.cluster.local"]?.endpoints.flatMap(\.lbEndpoints).map(\.endpoint.address.socketAddress.address).sorted() == ["127.0.0.12", "127.0.0.13"])
    }

    // MARK: Locality

    static func priorities(_ assignment: Envoy_Config_Endpoint_V3_ClusterLoadAssignment?) -> [String: UInt32] {
        var out: [String: UInt32] = [:]
        for group in assignment?.endpoints ?? [] {
            for e in group.lbEndpoints { out[e.endpoint.address.socketAddress.address] = group.priority }
        }
        return out
    }

    @Test func outlierDetectionBringsLocalityFailover() throws {
        let yaml = Self.rule("  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 1}\n")
        let out = try Self.translate(yaml)
        #expect(Self.priorities(out.endpoints[Self.main]) == ["127.0.0.11": 0, "127.0.0.12": 1, "127.0.0.13": 2])
        // The default failover needs no locality-weighted config.
        #expect(!Self.localityWeighted(out.clusters[Self.main]))
        // The same endpoints seen from Europe.
        let eu = try Self.translate(yaml, proxy: Self.proxy(locality: "eu-west/zone-c"))
        #expect(Self.priorities(eu.endpoints[Self.main]) == ["127.0.0.11": 1, "127.0.0.12": 1, "127.0.0.13": 0])
        // No outlier detection: no failover; locality disabled in the mesh: none either.
        #expect(Set(Self.priorities(try Self.translate(Self.service).endpoints[Self.main]).values) == [0])
        var off = TranslationOptions()
        off.localityLbSetting = LocalityLoadBalancerSetting(enabled: false)
        #expect(Set(Self.priorities(try Self.translate(yaml, options: off).endpoints[Self.main]).values) == [0])
    }

    @Test func explicitFailoverDemotesOtherRegions() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 1}
                loadBalancer: {localityLbSetting: {failover: [{from: eu-west, to: us-west}]}}
            """), proxy: Self.proxy(locality: "eu-west/zone-x"))
        // eu-west/zone-c shares the region (2 → rank 0); us-east is neither local nor the failover target (4 → rank 1).
        #expect(Self.priorities(out.endpoints[Self.main]) == ["127.0.0.13": 0, "127.0.0.11": 1, "127.0.0.12": 1])
        #expect(Self.localityWeighted(out.clusters[Self.main]))
    }

    @Test func distributeSetsLocalityWeights() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                loadBalancer:
                  localityLbSetting:
                    distribute: [{from: "us-east/*", to: {"us-east/zone-a": 75, "eu-west/*": 25}}]
            """))
        let groups = try #require(out.endpoints[Self.main]).endpoints
        let byZone = Dictionary(uniqueKeysWithValues: groups.map { ($0.locality.zone, $0) })
        #expect(byZone["zone-a"]?.loadBalancingWeight.value == 75 && byZone["zone-c"]?.loadBalancingWeight.value == 25)
        #expect(byZone["zone-b"]?.lbEndpoints.isEmpty == true)
        #expect(Self.localityWeighted(out.clusters[Self.main]))
    }

    @Test func failoverPrioritySplitsByLabels() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 1}
                loadBalancer: {localityLbSetting: {failoverPriority: [version, topology.kubernetes.io/region]}}
            """), proxy: Self.proxy(labels: ["version": "v2"]))
        // v2 in us-east: both labels match (0); v2 in eu-west: region differs (1); v1: version differs (2).
        #expect(Self.priorities(out.endpoints[Self.main]) == ["127.0.0.12": 0, "127.0.0.13": 1, "127.0.0.11": 2])
    }

    @Test func proxyLocalityPrefersTopologyLabels() {
        #expect(LocalityLoadBalancing.proxyLocality(Self.proxy(locality: "a/b/", labels: ["topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "z"])) == "r/z")
        #expect(LocalityLoadBalancing.proxyLocality(Self.proxy(locality: "a/b/", labels: ["istio-locality": "r.z.s"])) == "r/z/s")
        #expect(LocalityLoadBalancing.proxyLocality(Self.proxy(locality: "a/b/")) == "a/b/")
    }

    @Test func sharingKeysSeparateWhatLocalityTranslationReads() throws {
        let decoded = ConfigDecoder().decode(Self.rule("""
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 1}
                loadBalancer: {localityLbSetting: {failoverPriority: [version]}}
            """), file: "test.yaml")
        let sharing = OutboundSharing(snapshot: MeshSnapshot(resources: decoded.resources))
        #expect(sharing.labelSensitive, "failoverPriority compares proxy labels")
        let plain = OutboundSharing(snapshot: MeshSnapshot(resources: ConfigDecoder().decode(Self.service, file: "s.yaml").resources))
        let east = Self.proxy(locality: "", labels: ["topology.kubernetes.io/region": "us-east"])
        let west = Self.proxy(locality: "", labels: ["topology.kubernetes.io/region": "us-west"])
        #expect(plain.key(for: east) != plain.key(for: west), "locality from topology labels changes endpoint priorities")
        #expect(plain.key(for: Self.proxy(ip: "::1")) != plain.key(for: Self.proxy()), "IPv6-only proxies resolve DNS differently")
    }

    // MARK: Hash policies on routes

    @Test func hashPoliciesFollowSubsetAndPortPrecedence() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                loadBalancer: {consistentHash: {httpHeaderName: x-user}}
                portLevelSettings:
                - port: {number: 8080}
                  loadBalancer: {consistentHash: {httpQueryParameterName: q}}
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}
              - name: v2
                labels: {version: v2}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web, namespace: shop}
            spec:
              hosts: [web]
              http:
              - match: [{uri: {prefix: /v1}}]
                route: [{destination: {host: web, subset: v1}}]
              - match: [{uri: {prefix: /port}}]
                route: [{destination: {host: web, subset: v2, port: {number: 8080}}}]
              - route: [{destination: {host: web, subset: v2}}]
            """))
        let routes = try #require(out.routes["8080"]?.virtualHosts.first { $0.name.hasPrefix("web.") }).routes
        #expect(routes[0].route.hashPolicy == [.with { $0.connectionProperties = .with { $0.sourceIp = true } }])
        #expect(routes[1].route.hashPolicy == [.with { $0.queryParameter = .with { $0.name = "q" } }])
        #expect(routes[2].route.hashPolicy == [.with { $0.header = .with { $0.headerName = "x-user" } }])
        #expect(out.clusters["outbound|8080|v1|web.shop.svc.cluster.local"]?.lbPolicy == .ringHash)
    }

    @Test func defaultRouteCarriesTheServiceHash() throws {
        let out = try Self.translate(Self.rule("""
              trafficPolicy:
                loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 60s, path: /}}}
            """))
        let route = try #require(out.routes["8080"]?.virtualHosts.first { $0.name.hasPrefix("web.") }?.routes.first)
        #expect(route.route.hashPolicy.first?.cookie.name == "s" && route.route.hashPolicy.first?.cookie.ttl.seconds == 60)
        #expect(route.route.hashPolicy.first?.cookie.path == "/")
        #expect(HashPolicyConverter.convert(.init()) == nil)
    }

    // MARK: DestinationRule scoping

    @Test func destinationRuleExportToAndWorkloadSelector() throws {
        let yaml = Self.service + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: private, namespace: shop}
            spec:
              host: web.shop.svc.cluster.local
              exportTo: ["."]
              trafficPolicy: {loadBalancer: {simple: RANDOM}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: canary-clients, namespace: shop}
            spec:
              host: web.shop.svc.cluster.local
              workloadSelector: {matchLabels: {app: canary}}
              trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
            """
        // In the rule's namespace: the selector-scoped rule wins for matching workloads only.
        #expect(try Self.translate(yaml).clusters[Self.main]?.lbPolicy == .random)
        #expect(try Self.translate(yaml, proxy: Self.proxy(labels: ["app": "canary"])).clusters[Self.main]?.lbPolicy == .roundRobin)
        // From another namespace the `.`-exported rule is invisible, and a selector never applies.
        let other = try Self.translate(yaml, proxy: Self.proxy(labels: ["app": "canary"], namespace: "web"))
        #expect(other.clusters[Self.main]?.lbPolicy == .leastRequest)
    }

    // MARK: ServiceEntry resolutions

    @Test func serviceEntryResolutions() throws {
        let out = try Self.translate("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ext, namespace: shop}
            spec:
              hosts: [ext.example.com]
              location: MESH_EXTERNAL
              resolution: DNS
              ports: [{number: 443, name: tls, protocol: TLS}, {number: 53, name: dns, protocol: UDP}]
              endpoints: [{address: a.example.com, weight: 2}, {address: b.example.com, ports: {tls: 8443}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: rr, namespace: shop}
            spec:
              hosts: [rr.example.com]
              resolution: DNS_ROUND_ROBIN
              ports: [{number: 80, name: http, protocol: HTTP}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: none, namespace: shop}
            spec:
              hosts: [none.internal]
              location: MESH_INTERNAL
              resolution: NONE
              ports: [{number: 5432, name: tcp, protocol: TCP, targetPort: 15432}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: empty, namespace: shop}
            spec:
              hosts: [empty.shop.svc.cluster.local]
              resolution: DNS
              ports: [{number: 80, name: http, protocol: HTTP}]
              workloadSelector: {labels: {app: nothing}}
            """)
        let dns = try #require(out.clusters["outbound|443||ext.example.com"])
        #expect(dns.type == .strictDns && dns.dnsLookupFamily == .v4Only)
        let hosts = dns.loadAssignment.endpoints.flatMap(\.lbEndpoints).map { "\($0.endpoint.address.socketAddress.address):\($0.endpoint.address.socketAddress.portValue)/\($0.loadBalancingWeight.value)" }
        #expect(hosts == ["a.example.com:443/2", "b.example.com:8443/1"])
        #expect(out.clusters["outbound|53||ext.example.com"] == nil)
        let rr = try #require(out.clusters["outbound|80||rr.example.com"])
        #expect(rr.type == .logicalDns && rr.loadAssignment.endpoints.flatMap(\.lbEndpoints).count == 1)
        let none = try #require(out.clusters["outbound|5432||none.internal"])
        #expect(none.type == .originalDst && none.lbPolicy == .clusterProvided && none.originalDstLbConfig.upstreamPortOverride.value == 15432)
        #expect(out.clusters["outbound|80||empty.shop.svc.cluster.local"] == nil)
        // A gateway cannot use ORIGINAL_DST: NONE services get EDS there.
        let gateway = try Self.translate("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: none, namespace: shop}
            spec:
              hosts: [none.internal]
              resolution: NONE
              addresses: [10.9.0.0/16]
              ports: [{number: 5432, name: tcp, protocol: TCP}]
            """, proxy: Self.proxy(type: .router))
        #expect(gateway.clusters["outbound|5432||none.internal"]?.type == .eds)
        #expect(gateway.endpoints["outbound|5432||none.internal"]?.endpoints.isEmpty == true)
    }
}
