import Testing
@testable import MeshCore

/// Unit tests for the routing analyzers; the fixture files under `testdata/analysis/routing` cover
/// each check end to end.
@Suite struct AnalysisRoutingTests {
    private func analyze(_ yaml: String, with analyzer: any ConfigAnalyzer) -> [String] {
        let output = ConfigDecoder().decode(yaml, file: "test.yaml")
        for error in output.errors { Issue.record("unexpected error: \(error)") }
        let context = AnalysisContext(resources: output.resources, platform: output.platform)
        return analyzer.analyze(context).map { message in
            var m = message
            m.location = nil
            return m.description
        }
    }

    @Test(arguments: [
        ("reviews.default.svc.cluster.local", "other", "default", "reviews"),
        ("a.b.team.svc.cluster.local", "other", "team", "a.b"),
        ("reviews", "other", "other", "reviews"),
        ("api.example.com", "egress", "egress", "api.example.com"),
        (".svc.cluster.local", "other", "other", ".svc.cluster.local"),
    ])
    func resourceNameFromHost(host: String, defaultNamespace: String, namespace: String, name: String) {
        let result = VirtualServiceDestinationRuleAnalyzer.resourceName(of: host, defaultNamespace: defaultNamespace, domainSuffix: "cluster.local")
        #expect(result.namespace == namespace)
        #expect(result.name == name)
    }

    @Test func hostLookupFollowsExportToAndWildcards() {
        let services = [
            MeshService(hostname: "reviews.default.svc.cluster.local", namespace: "default", ports: []),
            MeshService(hostname: "private.example.com", namespace: "ext", ports: [], exportTo: ExportScope([.private])),
            MeshService(hostname: "shared.example.com", namespace: "ext", ports: [], exportTo: ExportScope([.namespace("team")])),
            MeshService(hostname: "*.eu.example.com", namespace: "ext", ports: []),
        ]
        let lookup = ServiceHostLookup(services: services, domainSuffix: "cluster.local")
        #expect(lookup.service(for: "reviews", namespace: "default", exportTo: nil) != nil)
        #expect(lookup.service(for: "reviews", namespace: "team", exportTo: nil) == nil)
        #expect(lookup.service(for: "private.example.com", namespace: "ext", exportTo: nil) != nil)
        #expect(lookup.service(for: "private.example.com", namespace: "team", exportTo: nil) == nil)
        #expect(lookup.service(for: "shared.example.com", namespace: "team", exportTo: nil) != nil)
        // Istio looks exact hosts up in the namespaces the VirtualService is exported to.
        #expect(lookup.service(for: "shared.example.com", namespace: "other", exportTo: ["team"]) != nil)
        #expect(lookup.service(for: "a.eu.example.com", namespace: "team", exportTo: nil)?.hostname == "*.eu.example.com")
        #expect(lookup.service(for: "*.eu.example.com", namespace: "team", exportTo: nil) != nil)
        #expect(lookup.service(for: "eu.example.com", namespace: "team", exportTo: nil) == nil)
    }

    @Test func jwtClaimRoutingIsSilentWithoutKnownWorkloads() {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata:
          name: gw
          namespace: istio-system
        spec:
          selector:
            istio: ingressgateway
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*/foo.com"]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: foo
          namespace: default
        spec:
          hosts: [foo.com]
          gateways: [istio-system/gw]
          http:
          - match:
            - headers:
                "@request.auth.claims.sub": {exact: alice}
            route:
            - destination: {host: foo.com}
        """
        #expect(analyze(yaml, with: JWTClaimRouteAnalyzer()).isEmpty)
    }

    @Test func jwtClaimRoutingKeyIsFoundInHeadersAndWithoutHeaders() {
        var match = VirtualService.HTTPMatchRequest()
        match.withoutHeaders = ["@request.auth.claims[groups]": StringMatch(exact: "x"), "x-user": StringMatch(exact: "y")]
        var rule = VirtualService.HTTPRoute()
        rule.match = [match]
        var vs = VirtualService()
        vs.http = [rule]
        #expect(JWTClaimRouteAnalyzer.claimRoutingKey(vs) == "@request.auth.claims[groups]")
        vs.http = [VirtualService.HTTPRoute()]
        #expect(JWTClaimRouteAnalyzer.claimRoutingKey(vs) == nil)
    }

    @Test func gatewayServerHostsHonourNamespaces() {
        var gateway = Gateway()
        var server = Gateway.Server()
        server.hosts = ["plain.example.com", "team/team.example.com", "./own.example.com", "*/any.example.com"]
        gateway.servers = [server]
        let resource = Resource(meta: ObjectMeta(name: "gw", namespace: "istio-system"), spec: gateway)
        #expect(VirtualServiceGatewayAnalyzer.serverHosts(of: resource, forNamespace: "team")
            == ["plain.example.com", "team.example.com", "any.example.com"])
        #expect(VirtualServiceGatewayAnalyzer.serverHosts(of: resource, forNamespace: "istio-system")
            == ["plain.example.com", "own.example.com", "any.example.com"])
    }

    @Test func unreachableRuleFindingsMatchValidationWarnings() throws {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: dup
          namespace: default
        spec:
          hosts: [reviews]
          http:
          - route:
            - destination: {host: reviews}
          - route:
            - destination: {host: reviews}
        """
        let output = ConfigDecoder().decode(yaml, file: "test.yaml")
        let warnings = output.diagnostics.filter { $0.severity == .warning }.map(\.message)
        let vs = try #require(output.resources.first?.typed(as: VirtualService.self))
        #expect(vs.spec.unreachableRouteFindings().map(\.validationMessage) == warnings)
        #expect(analyze(yaml, with: VirtualServiceUnreachableRuleAnalyzer())
            == ["Warning [IST0130] (VirtualService default/dup) VirtualService rule #1 not used (only the last rule can have no matches)."])
    }
}
