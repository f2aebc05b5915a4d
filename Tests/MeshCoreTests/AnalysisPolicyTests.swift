import Testing
@testable import MeshCore

/// Unit tests for the policy analyzers' building blocks and edge cases the fixtures do not cover.
@Suite struct AnalysisPolicyTests {
    private func context(_ yaml: String, mesh: MeshConfig = MeshConfig()) -> AnalysisContext {
        let output = ConfigDecoder(mesh: mesh).decode(yaml, file: "test.yaml")
        return AnalysisContext(resources: output.resources, mesh: mesh, platform: output.platform)
    }

    @Test func selectorTextSortsKeys() {
        #expect(PolicyAnalysisSupport.selectorText(["version": "v1", "app": "reviews"]) == "app=reviews,version=v1")
        #expect(PolicyAnalysisSupport.selectorText([:]) == "")
        #expect(PolicyAnalysisSupport.list(["a", "b"]) == "[a b]")
        #expect(PolicyAnalysisSupport.quoted(#"a"b"#) == #""a\"b""#)
    }

    @Test(arguments: [
        ("prod", "*", true), ("prod-us", "prod-*", true), ("us-prod", "*-prod", true),
        ("Prod", "prod", true), ("prod", "dev-*", false), ("prod", "prod-*", false),
    ])
    func namespacePatterns(namespace: String, pattern: String, matches: Bool) {
        #expect(AuthorizationPolicyAnalyzer.namespace(namespace, matches: pattern) == matches)
    }

    @Test func kubernetesServicesKeepTheirSelector() {
        let ctx = context("""
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {app: reviews}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        """)
        #expect(ctx.platform.services.first?.selector == ["app": "reviews"])
        #expect(ctx.platform.namespaces == ["shop"])
    }

    @Test func mtlsSkipsServicesWhoseWorkloadsDisagree() {
        // v1 is STRICT (namespace policy), v2 DISABLE: the service as a whole is not judged.
        let ctx = context("""
        apiVersion: v1
        kind: Service
        metadata: {name: details, namespace: default}
        spec:
          selector: {app: details}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: details-v1, namespace: default, labels: {app: details, version: v1}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: details-v2, namespace: default, labels: {app: details, version: v2}}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: strict, namespace: default}
        spec: {mtls: {mode: STRICT}}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: v2, namespace: default}
        spec:
          selector: {matchLabels: {version: v2}}
          mtls: {mode: DISABLE}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: details, namespace: default}
        spec:
          host: details
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
        """)
        #expect(MTLSPolicyConflictAnalyzer().analyze(ctx).isEmpty)
    }

    @Test func mtlsRuleInClientNamespaceWins() {
        // The client namespace's own rule takes precedence over the service namespace's.
        let ctx = context("""
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {app: reviews}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: strict, namespace: default}
        spec: {mtls: {mode: STRICT}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-plain, namespace: shop}
        spec:
          host: reviews.default.svc.cluster.local
          trafficPolicy: {tls: {mode: DISABLE}}
        """)
        let messages = MTLSPolicyConflictAnalyzer().analyze(ctx)
        #expect(messages.map { $0.resource?.description } == ["PeerAuthentication default/strict", "DestinationRule shop/reviews-plain"])
        #expect(messages.allSatisfy { $0.message.contains(#"The DestinationRule "shop/reviews-plain" specifies that mTLS must be false"#) })
    }

    @Test func envoyFilterPrioritySilencesRelativeOperations() {
        let yaml = """
        apiVersion: networking.istio.io/v1alpha3
        kind: EnvoyFilter
        metadata: {name: lua, namespace: default}
        spec:
          PRIORITY
          configPatches:
          - applyTo: HTTP_FILTER
            match:
              context: SIDECAR_INBOUND
              listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}
            patch:
              operation: INSERT_BEFORE
              value: {name: envoy.lua}
        """
        let unordered = EnvoyFilterPatchAnalyzer().analyze(context(yaml.replacingOccurrences(of: "PRIORITY", with: "")))
        #expect(unordered.map(\.type) == [.envoyFilterUsesRelativeOperation])
        #expect(unordered.first?.path.description == "spec.configPatches[0]")
        let ordered = EnvoyFilterPatchAnalyzer().analyze(context(yaml.replacingOccurrences(of: "PRIORITY", with: "priority: 5")))
        #expect(ordered.isEmpty)
    }

    @Test func policyAnalyzersAreRegistered() {
        let names = Set(ConfigAnalysis.standardAnalyzers.map(\.name))
        for analyzer in ConfigAnalysis.policyAnalyzers { #expect(names.contains(analyzer.name)) }
        let codes = Set(ConfigAnalysis.policyAnalyzers.flatMap(\.reports).map(\.code))
        #expect(codes.isSuperset(of: ["IST0101", "IST0110", "IST0111", "IST0113", "IST0127", "IST0128", "IST0129", "IST0138",
                                      "IST0145", "IST0151", "IST0152", "IST0153", "IST0154", "IST0155", "IST0157", "IST0159", "IST0160"]))
    }
}
