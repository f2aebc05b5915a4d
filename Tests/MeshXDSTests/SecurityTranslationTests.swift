import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// Security translation seen through the generators: PeerAuthentication → inbound chains,
/// AuthorizationPolicy → RBAC, RequestAuthentication → jwt_authn, DestinationRule TLS → clusters.
@Suite struct SecurityTranslationTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias HTTPRBAC = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC
    typealias NetworkRBAC = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC
    typealias JWT = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication
    typealias Upstream = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext
    typealias Downstream = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext

    /// A sidecar without capture for `app: web` in `foo`, HTTP on 8000 and TCP on 3306.
    static let sidecar = """
    apiVersion: networking.istio.io/v1
    kind: Sidecar
    metadata: {name: web, namespace: foo}
    spec:
      workloadSelector: {labels: {app: web}}
      ingress:
      - {port: {number: 8000, protocol: HTTP, name: http}, captureMode: NONE, defaultEndpoint: "127.0.0.1:18000"}
      - {port: {number: 3306, protocol: TCP, name: tcp}, captureMode: NONE, defaultEndpoint: "127.0.0.1:13306"}
      egress:
      - hosts: [./*]
    """

    struct Generated {
        var request: GenerationRequest
        var listeners: [Envoy_Config_Listener_V3_Listener]
        var clusters: [Envoy_Config_Cluster_V3_Cluster]
        var endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment]

        func listener(_ port: UInt32) throws -> Envoy_Config_Listener_V3_Listener {
            try #require(listeners.first { $0.address.socketAddress.portValue == port && $0.trafficDirection == .inbound })
        }

        func cluster(_ name: String) throws -> Envoy_Config_Cluster_V3_Cluster {
            try #require(clusters.first { $0.name == name }, "no cluster \(name) in \(clusters.map(\.name))")
        }

        var diagnostics: [SecurityDiagnostic] {
            SecurityTranslation.diagnostics(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        }
    }

    static func generate(_ yaml: String, labels: [String: String] = ["app": "web"], mesh: MeshConfig = MeshConfig(),
                         interception: ProxyView.InterceptionMode = .none, ip: String = "127.0.0.31") throws -> Generated {
        let output = ConfigDecoder().decode(yaml, file: "test.yaml")
        if output.hasErrors { throw TranslationCase.CaseError(message: output.errors.map(\.description).joined(separator: "\n")) }
        EnvoyAnyTypes.register()
        let identity = try ProxyIdentity(nodeID: "sidecar~\(ip)~web-1.foo~foo.svc.cluster.local")
        let proxy = ProxyView(identity: identity, labels: labels, serviceAccount: "web", interceptionMode: interception)
        let request = GenerationRequest(snapshot: MeshSnapshot(resources: output.resources, mesh: mesh), proxy: proxy, options: TranslationOptions())
        let registry = GeneratorRegistry.standard
        return Generated(
            request: request,
            listeners: (registry.generate(EnvoyTypeURL.listener, request) ?? []).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener },
            clusters: (registry.generate(EnvoyTypeURL.cluster, request) ?? []).compactMap { $0.message as? Envoy_Config_Cluster_V3_Cluster },
            endpoints: (registry.generate(EnvoyTypeURL.clusterLoadAssignment, request) ?? []).compactMap { $0.message as? Envoy_Config_Endpoint_V3_ClusterLoadAssignment })
    }

    static func hcm(_ chain: Envoy_Config_Listener_V3_FilterChain) throws -> HCM {
        try HCM(unpackingAny: try #require(chain.filters.first { $0.typedConfig.isA(HCM.self) }).typedConfig)
    }

    static func httpRBAC(_ chain: Envoy_Config_Listener_V3_FilterChain) throws -> [HTTPRBAC] {
        try hcm(chain).httpFilters.filter { $0.name == "envoy.filters.http.rbac" }.map { try HTTPRBAC(unpackingAny: $0.typedConfig) }
    }

    static func policy(_ name: String, _ ns: String = "foo", rule: Int = 0) -> String { "ns[\(ns)]-policy[\(name)]-rule[\(rule)]" }

    static func json(_ message: any SwiftProtobuf.Message) throws -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return try message.jsonString(options: options)
    }

    // MARK: PeerAuthentication

    static func chainsSummary(_ listener: Envoy_Config_Listener_V3_Listener) -> [String] {
        listener.filterChains.map { chain in
            let match = chain.filterChainMatch
            let tls = chain.hasTransportSocket ? "mtls" : "plain"
            return "\(match.hasDestinationPort ? "\(match.destinationPort.value)" : "*")/\(match.transportProtocol.isEmpty ? "any" : match.transportProtocol)/\(match.applicationProtocols.isEmpty ? "-" : "alpn")/\(tls)"
        }
    }

    @Test func noPolicyIsPermissiveWithMeshCertificateAndPlaintextWithout() throws {
        let meshed = try Self.generate(Self.sidecar, labels: ["app": "web", "security.istio.io/tlsMode": "istio"])
        #expect(Self.chainsSummary(try meshed.listener(8000)) == ["*/tls/alpn/mtls", "*/raw_buffer/-/plain"])
        #expect(Self.chainsSummary(try meshed.listener(3306)) == ["*/tls/alpn/mtls", "*/raw_buffer/-/plain", "*/tls/-/plain"])
        #expect(try meshed.listener(8000).listenerFilters.map(\.name) == ["envoy.filters.listener.tls_inspector"])
        let mutual = try Downstream(unpackingAny: try meshed.listener(8000).filterChains[0].transportSocket.typedConfig)
        #expect(mutual.requireClientCertificate.value)
        #expect(mutual.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
        #expect(mutual.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name == "ROOTCA")
        #expect(mutual.commonTlsContext.tlsCertificateSdsSecretConfigs[0].sdsConfig.apiConfigSource.grpcServices[0].envoyGrpc.clusterName == "sds-grpc")
        #expect(mutual.commonTlsContext.tlsParams.tlsMinimumProtocolVersion == .tlsv12)
        #expect(try Self.hcm(try meshed.listener(8000).filterChains[0]).setCurrentClientCertDetails.uri)

        let plain = try Self.generate(Self.sidecar)
        #expect(Self.chainsSummary(try plain.listener(8000)) == ["*/any/-/plain"])
        #expect(try plain.listener(8000).listenerFilters.isEmpty)
    }

    @Test func peerAuthenticationLevelsComposeLikeIstio() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: foo}
        spec: {mtls: {mode: DISABLE}}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: web, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          mtls: {mode: UNSET}
          portLevelMtls: {"3306": {mode: STRICT}}
        """
        // Mesh STRICT, namespace DISABLE wins, workload UNSET inherits DISABLE, port 3306 STRICT.
        let generated = try Self.generate(yaml)
        #expect(Self.chainsSummary(try generated.listener(8000)) == ["*/any/-/plain"])
        #expect(Self.chainsSummary(try generated.listener(3306)) == ["*/tls/-/mtls"])

        // Without the namespace policy the mesh's STRICT applies, even without a mesh certificate (fail closed).
        let strict = try Self.generate(yaml.replacingOccurrences(of: "spec: {mtls: {mode: DISABLE}}", with: "spec: {}"))
        #expect(Self.chainsSummary(try strict.listener(8000)) == ["*/tls/-/mtls"])
    }

    @Test func transparentCaptureSplitsEachPortChain() throws {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: web, namespace: foo}
        spec:
          hosts: [web.foo.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
          workloadSelector: {labels: {app: web}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: web-1, namespace: foo}
        spec: {address: 127.0.0.31, labels: {app: web}, serviceAccount: web}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: web, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          mtls: {mode: STRICT}
          portLevelMtls: {"8080": {mode: PERMISSIVE}}
        """
        let generated = try Self.generate(yaml, labels: ["app": "web", "security.istio.io/tlsMode": "istio"], interception: .redirect)
        let inbound = try #require(generated.listeners.first { $0.name == "virtualInbound" })
        #expect(Self.chainsSummary(inbound) == ["15006/any/-/plain", "8080/tls/alpn/mtls", "8080/raw_buffer/-/plain", "*/tls/-/mtls"])
        #expect(inbound.listenerFilters.map(\.name) == ["envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector"])
    }

    // MARK: AuthorizationPolicy

    @Test func allowWithoutRulesDeniesEverythingAndEmptyRuleAllowsEverything() throws {
        let denyAll = try Self.generate(Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: allow-nothing, namespace: foo}
        spec: {}
        """)
        let rbac = try Self.httpRBAC(try denyAll.listener(8000).filterChains[0])
        #expect(rbac.count == 1)
        #expect(rbac[0].hasRules && rbac[0].rules.action == .allow && rbac[0].rules.policies.isEmpty)

        let allowAll = try Self.generate(Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: allow-all, namespace: foo}
        spec: {rules: [{}]}
        """)
        let policy = try #require(try Self.httpRBAC(try allowAll.listener(8000).filterChains[0]).first?.rules.policies[Self.policy("allow-all")])
        #expect(policy.principals.map(\.any) == [true] && policy.permissions.map(\.any) == [true])
    }

    @Test func filtersRunInIstioOrderAfterJWT() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt, namespace: foo}
        spec: {jwtRules: [{issuer: issuer.example, jwks: '{"keys":[]}'}]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: a-allow, namespace: foo}
        spec: {rules: [{to: [{operation: {methods: [GET]}}]}]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: b-deny, namespace: foo}
        spec: {action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: c-audit, namespace: foo}
        spec: {action: AUDIT, rules: [{}]}
        """
        let chain = try Self.generate(yaml).listener(8000).filterChains[0]
        let filters = try Self.hcm(chain).httpFilters
        #expect(filters.map(\.name) == ["envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.rbac", "envoy.filters.http.rbac", "envoy.filters.http.router"])
        #expect(try Self.httpRBAC(chain).map(\.rules.action) == [.log, .deny, .allow])
    }

    @Test func principalsNamespacesAndAliasesMatchTheSpiffeSAN() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: foo}
        spec:
          rules:
          - from: [{source: {principals: [cluster.local/ns/foo/sa/sleep, "*/sa/admin", "cluster.local/ns/bar/*", "*"]}}]
          - from: [{source: {namespaces: [bar, "test-*"]}}]
        """
        var mesh = MeshConfig()
        mesh.trustDomain = "td.example"
        mesh.trustDomainAliases = ["old.example"]
        let rbac = try Self.httpRBAC(try Self.generate(yaml, mesh: mesh).listener(8000).filterChains[0])[0]
        let principals = try Self.json(try #require(rbac.rules.policies[Self.policy("p")]))
        for expected in [
            #""exact":"spiffe://cluster.local/ns/foo/sa/sleep""#, #""exact":"spiffe://td.example/ns/foo/sa/sleep""#,
            #""exact":"spiffe://old.example/ns/foo/sa/sleep""#, #""suffix":"/sa/admin""#,
            #""prefix":"spiffe://cluster.local/ns/bar/""#, #""prefix":"spiffe://td.example/ns/bar/""#, #""regex":".+""#,
        ] {
            #expect(principals.contains(expected), "\(expected) missing from \(principals)")
        }
        let namespaces = try Self.json(try #require(rbac.rules.policies[Self.policy("p", rule: 1)]))
        #expect(namespaces.contains(#""regex":"spiffe://[^/]+/ns/bar/.*""#))
        #expect(namespaces.contains(#""regex":"spiffe://[^/]+/ns/test-[^/]*/.*""#))
    }

    @Test func tcpDropsAllowRulesWithHTTPFieldsAndWidensDenyRules() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: allow, namespace: foo}
        spec:
          rules:
          - to: [{operation: {methods: [GET]}}]
          - from: [{source: {ipBlocks: [10.0.0.0/8]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny, namespace: foo}
        spec:
          action: DENY
          rules:
          - from: [{source: {ipBlocks: [192.168.0.1]}}]
            to: [{operation: {paths: [/admin]}}]
        """
        let listener = try Self.generate(yaml).listener(3306)
        let filters = listener.filterChains[0].filters
        #expect(filters.map(\.name) == ["envoy.filters.network.rbac", "envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"])
        let deny = try NetworkRBAC(unpackingAny: filters[0].typedConfig)
        let allow = try NetworkRBAC(unpackingAny: filters[1].typedConfig)
        #expect(deny.rules.action == .deny && allow.rules.action == .allow)
        #expect(Set(allow.rules.policies.keys) == [Self.policy("allow", rule: 1)])
        // The DENY rule keeps its source and loses the path: it denies all TCP from that address.
        let widened = try #require(deny.rules.policies[Self.policy("deny")])
        #expect(widened.permissions.map(\.any) == [true])
        #expect(widened.principals[0].directRemoteIp.addressPrefix == "192.168.0.1" && widened.principals[0].directRemoteIp.prefixLen.value == 32)
        #expect(deny.statPrefix == "tcp.")
    }

    @Test func customIsReportedAndDeniesItsRules() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: ext, namespace: foo}
        spec: {action: CUSTOM, provider: {name: opa}, rules: [{to: [{operation: {paths: [/x]}}]}]}
        """
        let generated = try Self.generate(yaml)
        let rbac = try Self.httpRBAC(try generated.listener(8000).filterChains[0])
        #expect(rbac.map(\.rules.action) == [.deny])
        #expect(rbac[0].rules.policies[Self.policy("ext")] != nil)
        let diagnostic = try #require(generated.diagnostics.first)
        #expect(diagnostic.resource == "AuthorizationPolicy/foo/ext" && diagnostic.field == "spec.action")
        #expect(diagnostic.message.contains("unsupported until an extension provider exists"))
    }

    @Test func dryRunBecomesShadowRules() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: dry, namespace: foo, annotations: {istio.io/dry-run: "true"}}
        spec: {rules: [{to: [{operation: {methods: [GET]}}]}]}
        """
        let rbac = try Self.httpRBAC(try Self.generate(yaml).listener(8000).filterChains[0])
        #expect(rbac.count == 1 && !rbac[0].hasRules && rbac[0].hasShadowRules)
        #expect(rbac[0].shadowRulesStatPrefix == "istio_dry_run_allow_")
    }

    // MARK: RequestAuthentication

    @Test func requestPrincipalsAndClaimsReadTheVerifiedPayload() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt, namespace: foo}
        spec:
          jwtRules:
          - {issuer: "https://idp.example/realms/a", jwksUri: "https://idp.example/certs", fromHeaders: [{name: x-token, prefix: "Token "}]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: foo}
        spec:
          rules:
          - from: [{source: {requestPrincipals: ["https://idp.example/realms/a/alice"]}}]
          - from: [{source: {requestPrincipals: ["*a/bob"]}}]
            when: [{key: "request.auth.claims[realm][roles]", values: [admin]}]
        """
        let generated = try Self.generate(yaml)
        let chain = try generated.listener(8000).filterChains[0]
        let jwt = try JWT(unpackingAny: try #require(try Self.hcm(chain).httpFilters.first).typedConfig)
        let provider = try #require(jwt.providers["origins-0"])
        #expect(provider.payloadInMetadata == "https://idp.example/realms/a")
        #expect(provider.remoteJwks.httpUri.cluster == "jwks|idp.example|443")
        #expect(provider.fromHeaders.map { "\($0.name)=\($0.valuePrefix)" } == ["x-token=Token "])
        #expect(jwt.rules[0].requires.requiresAny.requirements.map(\.providerName) == ["origins-0", ""])
        if case .allowMissing? = jwt.rules[0].requires.requiresAny.requirements.last?.requiresType {} else {
            Issue.record("the last requirement is not allow_missing: \(jwt.rules[0].requires)")
        }
        #expect(try generated.cluster("jwks|idp.example|443").transportSocket.name == "envoy.transport_sockets.tls")

        let rbac = try Self.httpRBAC(chain)[0]
        let exact = try Self.json(try #require(rbac.rules.policies[Self.policy("p")]))
        #expect(exact.contains(#"{"key":"https://idp.example/realms/a"},{"key":"sub"}"#) && exact.contains(#""exact":"alice""#))
        // "*a/bob": the subject ends with "a/bob", or the issuer ends with "a" and the subject is "bob".
        let suffix = try Self.json(try #require(rbac.rules.policies[Self.policy("p", rule: 1)]))
        #expect(suffix.contains(#""suffix":"a/bob""#) && suffix.contains(#""exact":"bob""#))
        #expect(suffix.contains(#"{"key":"realm"},{"key":"roles"}"#) && suffix.contains("list_match"))
    }

    @Test func requestPrincipalsWithoutAuthenticationNeverMatch() throws {
        let yaml = Self.sidecar + """

        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: foo}
        spec: {rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]}
        """
        let rbac = try Self.httpRBAC(try Self.generate(yaml).listener(8000).filterChains[0])[0]
        let principal = try #require(rbac.rules.policies[Self.policy("p")]?.principals.first)
        #expect(principal.notID.any)
    }

    // MARK: DestinationRule TLS and auto mutual TLS

    static let services = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: api, namespace: foo}
    spec:
      hosts: [api.foo.svc.cluster.local]
      location: MESH_INTERNAL
      resolution: STATIC
      ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http-admin, protocol: HTTP}]
      workloadSelector: {labels: {app: api}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: api-1, namespace: foo}
    spec: {address: 127.0.0.41, labels: {app: api, version: v1, security.istio.io/tlsMode: istio}, serviceAccount: api}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: api-2, namespace: foo}
    spec: {address: 127.0.0.42, labels: {app: api, version: v2}, serviceAccount: api-legacy}
    """

    @Test func autoMutualTLSMatchesLabelledEndpoints() throws {
        let generated = try Self.generate(Self.services)
        let cluster = try generated.cluster("outbound|80||api.foo.svc.cluster.local")
        #expect(!cluster.hasTransportSocket)
        #expect(cluster.transportSocketMatches.map(\.name) == ["tlsMode-istio", "tlsMode-disabled"])
        #expect(cluster.transportSocketMatches[0].match.fields["tlsMode"]?.stringValue == "istio")
        let tls = try Upstream(unpackingAny: cluster.transportSocketMatches[0].transportSocket.typedConfig)
        #expect(tls.sni == "outbound_.80_._.api.foo.svc.cluster.local")
        #expect(tls.commonTlsContext.alpnProtocols == ["istio"])
        #expect(tls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames.map(\.matcher.exact)
            == ["spiffe://cluster.local/ns/foo/sa/api", "spiffe://cluster.local/ns/foo/sa/api-legacy"])
        #expect(cluster.transportSocketMatches[1].transportSocket.name == "envoy.transport_sockets.raw_buffer")
        let endpoints = try #require(generated.endpoints.first { $0.clusterName == cluster.name })
        let metadata = endpoints.endpoints.flatMap(\.lbEndpoints).map { $0.metadata.filterMetadata["envoy.transport_socket_match"]?.fields["tlsMode"]?.stringValue }
        #expect(metadata == ["istio", nil])

        var mesh = MeshConfig()
        mesh.enableAutoMtls = false
        #expect(try Self.generate(Self.services, mesh: mesh).cluster(cluster.name).transportSocketMatches.isEmpty)
    }

    @Test func destinationRuleModesBySubsetAndPort() throws {
        let yaml = Self.services + """

        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: api, namespace: foo}
        spec:
          host: api.foo.svc.cluster.local
          trafficPolicy:
            tls: {mode: ISTIO_MUTUAL, subjectAltNames: [spiffe://cluster.local/ns/foo/sa/api]}
            portLevelSettings: [{port: {number: 81}, tls: {mode: DISABLE}}]
          subsets:
          - {name: v1, labels: {version: v1}}
          - name: v2
            labels: {version: v2}
            trafficPolicy:
              tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, sni: v2.example, subjectAltNames: [v2.example]}
          - name: v3
            labels: {version: v3}
            trafficPolicy: {tls: {mode: SIMPLE, credentialName: api-cred}}
        """
        let generated = try Self.generate(yaml)
        let v1 = try Upstream(unpackingAny: try generated.cluster("outbound|80|v1|api.foo.svc.cluster.local").transportSocket.typedConfig)
        #expect(v1.sni == "outbound_.80_.v1_.api.foo.svc.cluster.local")
        #expect(v1.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
        #expect(v1.commonTlsContext.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames.map(\.sanType) == [.uri])
        #expect(!(try generated.cluster("outbound|81||api.foo.svc.cluster.local")).hasTransportSocket)
        #expect(try generated.cluster("outbound|81||api.foo.svc.cluster.local").transportSocketMatches.isEmpty)
        let v2 = try Upstream(unpackingAny: try generated.cluster("outbound|80|v2|api.foo.svc.cluster.local").transportSocket.typedConfig)
        #expect(v2.sni == "v2.example")
        #expect(v2.commonTlsContext.tlsCertificates.map(\.certificateChain.filename) == ["/c.pem"])
        #expect(v2.commonTlsContext.validationContext.trustedCa.filename == "/ca.pem")
        #expect(v2.commonTlsContext.validationContext.matchTypedSubjectAltNames.map(\.sanType) == [.dns])
        let problems = generated.diagnostics
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("credentialName \"api-cred\"") == true)
    }
}
