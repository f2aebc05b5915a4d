import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// Gateway (router proxy) translation: selection, host matching, listeners, TLS and routes.
@Suite struct GatewayTranslationTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static let services = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          hosts: [reviews.bookinfo.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: other}
        spec:
          hosts: [ratings.other.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
        """

    static func snapshot(_ yaml: String) throws -> MeshSnapshot {
        let output = ConfigDecoder().decode(services + "\n---\n" + yaml, file: "test.yaml")
        if output.hasErrors { throw TranslationCase.CaseError(message: output.diagnostics.map(\.description).joined(separator: "\n")) }
        return MeshSnapshot(resources: output.resources)
    }

    static let router = ProxyView(
        identity: ProxyIdentity(type: .router, ipAddress: "127.0.0.60", workloadName: "gw-0", namespace: "istio-system",
                                dnsDomain: "istio-system.svc.cluster.local"),
        labels: ["istio": "ingressgateway"], interceptionMode: .none)

    static func generate(_ typeURL: String, _ snapshot: MeshSnapshot, proxy: ProxyView = router, options: TranslationOptions = TranslationOptions()) -> [GeneratedResource] {
        GeneratorRegistry.standard.generate(typeURL, GenerationRequest(snapshot: snapshot, proxy: proxy, options: options)) ?? []
    }

    static func gateway(_ servers: String, selector: String = "{istio: ingressgateway}", name: String = "gw", namespace: String = "istio-system") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          selector: \(selector)
          servers:
        \(servers)
        """
    }

    static func virtualService(name: String = "vs", namespace: String = "bookinfo", hosts: String, gateways: String = "[istio-system/gw]") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          hosts: \(hosts)
          gateways: \(gateways)
          http:
          - route: [{destination: {host: reviews.bookinfo.svc.cluster.local}}]
        """
    }

    static func routeConfigs(_ snapshot: MeshSnapshot) -> [Envoy_Config_Route_V3_RouteConfiguration] {
        generate(EnvoyTypeURL.routeConfiguration, snapshot).compactMap { $0.message as? Envoy_Config_Route_V3_RouteConfiguration }
    }

    static func listeners(_ snapshot: MeshSnapshot, proxy: ProxyView = router) -> [Envoy_Config_Listener_V3_Listener] {
        generate(EnvoyTypeURL.listener, snapshot, proxy: proxy).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener }
    }

    /// Istio's pickMatchingGatewayHosts: (server hosts, VirtualService namespace, its hosts) → virtual hosts.
    @Test(arguments: [
        ("[example.com]", "bookinfo", "[example.com]", ["example.com:8080"]),
        ("[\"*.example.com\"]", "bookinfo", "[a.example.com, b.other.com]", ["a.example.com:8080"]),
        ("[a.example.com]", "bookinfo", "[\"*.example.com\"]", ["a.example.com:8080"]),
        ("[\"*\"]", "bookinfo", "[\"*.example.com\", x.org]", ["*.example.com:8080", "x.org:8080"]),
        ("[\"bookinfo/*\"]", "bookinfo", "[x.org]", ["x.org:8080"]),
        ("[\"other/*\"]", "bookinfo", "[x.org]", ["blackhole:8080"]),
        ("[\"./*\"]", "bookinfo", "[x.org]", ["blackhole:8080"]),
        ("[\"./*\"]", "istio-system", "[x.org]", ["x.org:8080"]),
        ("[\"*/x.org\"]", "other", "[x.org, y.org]", ["x.org:8080"]),
    ])
    func hostMatching(serverHosts: String, vsNamespace: String, vsHosts: String, expected: [String]) throws {
        let snapshot = try Self.snapshot(
            Self.gateway("  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: \(serverHosts)")
                + "\n---\n" + Self.virtualService(namespace: vsNamespace, hosts: vsHosts))
        let configs = Self.routeConfigs(snapshot)
        #expect(configs.map(\.name) == ["http.8080"])
        #expect(configs.first?.virtualHosts.map(\.name) == expected)
        if let first = configs.first?.virtualHosts.first, first.name != "blackhole:8080", !first.name.hasPrefix("*:") {
            let host = String(first.name.dropLast(":8080".count))
            #expect(first.domains == [host, "\(host):*"])
        }
    }

    @Test func onlySelectedRoutersGetGatewayListeners() throws {
        let snapshot = try Self.snapshot(
            Self.gateway("  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]", selector: "{istio: egressgateway}"))
        #expect(Self.listeners(snapshot).isEmpty)
        var egress = Self.router
        egress.labels = ["istio": "egressgateway"]
        #expect(Self.listeners(snapshot, proxy: egress).map(\.name) == ["127.0.0.60_8080"])
        // A sidecar with the same labels is not a gateway.
        var sidecar = egress
        sidecar.identity.type = .sidecar
        #expect(!Self.listeners(snapshot, proxy: sidecar).contains { $0.name.hasSuffix("_8080") })
    }

    @Test func listenersBindTheProxyAddressOrTheServerBind() throws {
        let snapshot = try Self.snapshot(Self.gateway("""
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
              - port: {number: 8081, name: http-bound, protocol: HTTP}
                bind: 127.0.0.61
                hosts: ["*"]
            """))
        let listeners = Self.listeners(snapshot)
        #expect(listeners.map(\.name) == ["127.0.0.60_8080", "127.0.0.61_8081"])
        #expect(listeners.map(\.address.socketAddress.address) == ["127.0.0.60", "127.0.0.61"])
        let hcm = try HCM(unpackingAny: listeners[0].filterChains[0].filters[0].typedConfig)
        #expect(hcm.rds.routeConfigName == "http.8080")
        #expect(hcm.useRemoteAddress.value)
        #expect(hcm.forwardClientCertDetails == .sanitizeSet)
    }

    @Test func conflictingProtocolOnAPortIsLeftOutAndReported() throws {
        let snapshot = try Self.snapshot(Self.gateway("""
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
              - port: {number: 8080, name: tcp, protocol: TCP}
                hosts: ["*"]
            """))
        #expect(Self.listeners(snapshot).count == 1)
        let problems = GatewayListenerBuilder.problems(snapshot: snapshot, proxy: Self.router, options: TranslationOptions())
        #expect(problems.map(\.code) == [.portConflict])
        #expect(problems.first?.description.hasPrefix("Gateway istio-system/gw: spec.servers[1].port: port 8080 is already served as plain-text HTTP") == true)
    }

    @Test func httpsRedirectRequiresTLSEvenWithoutVirtualService() throws {
        let snapshot = try Self.snapshot(Self.gateway("""
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: [a.example.com]
                tls: {httpsRedirect: true}
            """))
        let vhosts = Self.routeConfigs(snapshot).first?.virtualHosts ?? []
        #expect(vhosts.map(\.name) == ["a.example.com:8080"])
        #expect(vhosts.first?.requireTls == .all)
    }

    @Test func matchesForOtherGatewaysAreLeftOut() throws {
        let snapshot = try Self.snapshot(Self.gateway("  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]") + """

            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs, namespace: bookinfo}
            spec:
              hosts: [x.org]
              gateways: [istio-system/gw, mesh]
              http:
              - name: mesh-only
                match: [{uri: {prefix: /a}, gateways: [mesh]}]
                route: [{destination: {host: reviews}}]
              - name: gateway-only
                match: [{uri: {prefix: /b}, gateways: [gw.istio-system.svc.cluster.local]}]
                route: [{destination: {host: reviews}}]
              - name: any
                route: [{destination: {host: reviews}}]
            """)
        let routes = Self.routeConfigs(snapshot).first?.virtualHosts.first?.routes ?? []
        #expect(routes.map(\.name) == ["gateway-only", "any"])
        #expect(routes.first?.route.cluster == "outbound|9080||reviews.bookinfo.svc.cluster.local")
    }

    @Test func virtualServicesNotExportedToTheGatewayNamespaceAreLeftOut() throws {
        let gateway = Self.gateway("  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]")
        let exported = try Self.snapshot(gateway + "\n---\n" + Self.virtualService(hosts: "[x.org]") + "\n  exportTo: [istio-system]")
        #expect(Self.routeConfigs(exported).first?.virtualHosts.map(\.name) == ["x.org:8080"])
        let privateVS = try Self.snapshot(gateway + "\n---\n" + Self.virtualService(hosts: "[x.org]") + "\n  exportTo: [.]")
        #expect(Self.routeConfigs(privateVS).first?.virtualHosts.map(\.name) == ["blackhole:8080"])
    }

    @Test func tlsContextFromFiles() throws {
        let builder = GatewayListenerBuilder(options: TranslationOptions())
        let mutual = ServerTLSSettings(
            mode: .MUTUAL, serverCertificate: "/c/tls.crt", privateKey: "/c/tls.key", caCertificates: "/c/ca.crt",
            subjectAltNames: ["spiffe://x/client"])
        let context = try builder.downstreamTLSContext(mutual, http: true, gateway: "ns/gw", field: "spec.servers[0].tls")
        #expect(context.requireClientCertificate.value)
        #expect(context.commonTlsContext.tlsCertificates.first?.certificateChain.filename == "/c/tls.crt")
        #expect(context.commonTlsContext.tlsCertificates.first?.privateKey.filename == "/c/tls.key")
        #expect(context.commonTlsContext.validationContext.trustedCa.filename == "/c/ca.crt")
        #expect(context.commonTlsContext.validationContext.matchTypedSubjectAltNames.map(\.matcher.exact) == ["spiffe://x/client", "spiffe://x/client"])
        #expect(context.commonTlsContext.alpnProtocols == ["h2", "http/1.1"])
        #expect(context.commonTlsContext.tlsParams.tlsMinimumProtocolVersion == .tlsv12)

        let simple = try builder.downstreamTLSContext(
            ServerTLSSettings(mode: .SIMPLE, serverCertificate: "/c/tls.crt", privateKey: "/c/tls.key"), http: false, gateway: "ns/gw", field: "f")
        #expect(!simple.requireClientCertificate.value && simple.commonTlsContext.validationContextType == nil && simple.commonTlsContext.alpnProtocols.isEmpty)
    }

    @Test(arguments: [
        (ServerTLSSettings(mode: .SIMPLE, credentialName: "cert"), GatewayTranslationError.Code.needsSDS, "spec.servers[0].tls.credentialName"),
        (ServerTLSSettings(mode: .ISTIO_MUTUAL), .needsSDS, "spec.servers[0].tls.mode"),
        (ServerTLSSettings(mode: .SIMPLE), .missingCertificate, "spec.servers[0].tls.serverCertificate"),
        (ServerTLSSettings(mode: .SIMPLE, serverCertificate: "/c/tls.crt"), .missingCertificate, "spec.servers[0].tls.privateKey"),
        (ServerTLSSettings(mode: .MUTUAL, serverCertificate: "/c/tls.crt", privateKey: "/k"), .missingCertificate, "spec.servers[0].tls.caCertificates"),
    ])
    func tlsContextProblems(tls: ServerTLSSettings, code: GatewayTranslationError.Code, field: String) {
        #expect(throws: GatewayTranslationError.self) {
            try GatewayListenerBuilder(options: TranslationOptions()).downstreamTLSContext(tls, http: true, gateway: "ns/gw", field: "spec.servers[0].tls")
        }
        do {
            _ = try GatewayListenerBuilder(options: TranslationOptions()).downstreamTLSContext(tls, http: true, gateway: "ns/gw", field: "spec.servers[0].tls")
        } catch {
            #expect(error.code == code)
            #expect(error.field == field)
        }
    }

    @Test func serverNeedingSDSIsLeftOutWithADiagnostic() throws {
        let snapshot = try Self.snapshot(Self.gateway("""
              - port: {number: 8443, name: https, protocol: HTTPS}
                hosts: [a.example.com]
                tls: {mode: SIMPLE, serverCertificate: /c/tls.crt, privateKey: /c/tls.key}
              - port: {number: 8443, name: https-sds, protocol: HTTPS}
                hosts: [b.example.com]
                tls: {mode: SIMPLE, credentialName: b-cert}
            """))
        let listener = try #require(Self.listeners(snapshot).first)
        #expect(listener.filterChains.map(\.filterChainMatch.serverNames) == [["a.example.com"]])
        #expect(listener.listenerFilters.map(\.name) == ["envoy.filters.listener.tls_inspector"])
        let problems = GatewayListenerBuilder.problems(snapshot: snapshot, proxy: Self.router, options: TranslationOptions())
        #expect(problems.map(\.description) == [
            "Gateway istio-system/gw: spec.servers[1].tls.credentialName: secrets are served only to a gateway whose xDS connection proves its identity: run the agent with --ca and connect to istiod's secure port"
        ])
    }

    @Test func autoPassthroughUsesSNIDNATClusters() throws {
        let snapshot = try Self.snapshot(Self.gateway("""
              - port: {number: 15443, name: tls, protocol: TLS}
                hosts: ["bookinfo/*"]
                tls: {mode: AUTO_PASSTHROUGH}
            """))
        let listener = try #require(Self.listeners(snapshot).first)
        #expect(listener.filterChains.map(\.filterChainMatch.serverNames) == [["outbound_.9080_._.reviews.bookinfo.svc.cluster.local"]])
        let clusters = Self.generate(EnvoyTypeURL.cluster, snapshot).map(\.name)
        #expect(clusters.contains("outbound_.9080_._.reviews.bookinfo.svc.cluster.local"))
        #expect(!clusters.contains("outbound_.9080_._.ratings.other.svc.cluster.local"))
        let dnat = try #require(Self.generate(EnvoyTypeURL.cluster, snapshot).first { $0.name.hasPrefix("outbound_.") }?.message as? Envoy_Config_Cluster_V3_Cluster)
        #expect(dnat.edsClusterConfig.serviceName == "outbound|9080||reviews.bookinfo.svc.cluster.local")
    }
}

/// `outboundTrafficPolicy` for explicit HTTP proxy listeners and its mesh/Sidecar precedence.
@Suite struct OutboundTrafficPolicyTests {
    static func snapshot(sidecarMode: String?) throws -> MeshSnapshot {
        let policy = sidecarMode.map { "\n  outboundTrafficPolicy: {mode: \($0)}" } ?? ""
        let yaml = GatewayTranslationTests.services + """

            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: client, namespace: bookinfo}
            spec:
              egress:
              - port: {number: 15080, protocol: HTTP_PROXY, name: proxy}
                bind: 127.0.0.31
                captureMode: NONE
                hosts: ["*/*"]\(policy)
            """
        let output = ConfigDecoder().decode(yaml, file: "test.yaml")
        #expect(!output.hasErrors)
        return MeshSnapshot(resources: output.resources)
    }

    static let client = ProxyView(
        identity: ProxyIdentity(type: .sidecar, ipAddress: "127.0.0.31", workloadName: "client-0", namespace: "bookinfo",
                                dnsDomain: "bookinfo.svc.cluster.local"),
        labels: ["app": "client"], interceptionMode: .none)

    /// (mesh mode, Sidecar mode, expected catch-all virtual host and cluster)
    @Test(arguments: [
        (MeshConfig.OutboundTrafficPolicy.Mode.ALLOW_ANY, String?.none, "allow_any", true),
        (.REGISTRY_ONLY, nil, "block_all", false),
        (.REGISTRY_ONLY, "ALLOW_ANY", "allow_any", true),
        (.ALLOW_ANY, "REGISTRY_ONLY", "block_all", false),
    ])
    func httpProxyCatchAll(mesh: MeshConfig.OutboundTrafficPolicy.Mode, sidecar: String?, vhost: String, forwards: Bool) throws {
        var meshConfig = MeshConfig()
        meshConfig.outboundTrafficPolicy = .init(mode: mesh)
        let request = GenerationRequest(snapshot: try Self.snapshot(sidecarMode: sidecar), proxy: Self.client, options: TranslationOptions(mesh: meshConfig))
        let routes = GeneratorRegistry.standard.generate(EnvoyTypeURL.routeConfiguration, request) ?? []
        let config = try #require(routes.first?.message as? Envoy_Config_Route_V3_RouteConfiguration)
        let catchAll = try #require(config.virtualHosts.last)
        #expect(catchAll.name == vhost)
        if forwards {
            #expect(catchAll.routes.first?.route.cluster == ClusterName.forwardProxy)
        } else {
            #expect(catchAll.routes.first?.directResponse.status == 502)
        }
        let clusters = (GeneratorRegistry.standard.generate(EnvoyTypeURL.cluster, request) ?? []).map(\.name)
        #expect(clusters.contains(ClusterName.forwardProxy) == forwards)
        let listener = try #require((GeneratorRegistry.standard.generate(EnvoyTypeURL.listener, request) ?? []).first?.message as? Envoy_Config_Listener_V3_Listener)
        let hcm = try GatewayTranslationTests.HCM(unpackingAny: listener.filterChains[0].filters[0].typedConfig)
        let filters = hcm.httpFilters.map(\.name)
        #expect(filters.contains("envoy.filters.http.dynamic_forward_proxy") == forwards, "\(filters)")
        #expect(filters.last == "envoy.filters.http.router", "\(filters)")
    }

    @Test func forwardProxyClusterAndFilterShareOneDNSCache() throws {
        let builder = ForwardProxyBuilder(options: TranslationOptions())
        let cluster = builder.cluster()
        #expect(cluster.lbPolicy == .clusterProvided)
        let config = try Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig(unpackingAny: cluster.clusterType.typedConfig)
        let filter = try Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig(unpackingAny: builder.httpFilter.typedConfig)
        #expect(config.dnsCacheConfig == filter.dnsCacheConfig)
        #expect(cluster.clusterType.name == "envoy.clusters.dynamic_forward_proxy")
    }
}
