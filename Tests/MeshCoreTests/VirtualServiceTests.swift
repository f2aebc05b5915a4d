import Foundation
import Testing
@testable import MeshCore

@Suite struct VirtualServiceTests {
    private func validate(_ spec: VirtualService, namespace: String = "default", annotations: [String: String] = [:]) -> ValidationResult {
        spec.validate(in: ValidationContext(meta: ObjectMeta(name: "vs", namespace: namespace, annotations: annotations)))
    }

    private func directResponse(bodySize: Int) -> VirtualService {
        VirtualService(hosts: ["app"], http: [
            .init(directResponse: .init(status: 200, body: .init(string: String(repeating: "x", count: bodySize)))),
        ])
    }

    @Test func directResponseBodySizeLimits() {
        #expect(validate(directResponse(bodySize: 10)).errors.isEmpty)
        #expect(validate(directResponse(bodySize: 10)).warnings.isEmpty)
        let large = validate(directResponse(bodySize: 200 * 1024))
        #expect(large.errors.isEmpty)
        #expect(large.warnings.map(\.description) == ["spec.http[0].directResponse.body: large direct_responses may impact control plane performance"])
        let huge = validate(directResponse(bodySize: 1024 * 1024 + 1))
        #expect(huge.errors.map(\.path.description) == ["spec.http[0].directResponse.body"])
        #expect(huge.warnings.isEmpty)
    }

    @Test func gatewaySemanticsSkipsDestinationChecks() {
        let spec = VirtualService(hosts: ["app.example.com"], gateways: ["default/my_gateway"], http: [
            .init(route: [.init(destination: Destination(host: "*"))]),
        ])
        #expect(validate(spec).errors.count == 2)
        #expect(validate(spec, annotations: ["internal.istio.io/route-semantics": "gateway"]).errors.isEmpty)
    }

    @Test(arguments: ["foo", "%HOSTNAME%", "100%%", "prefix %HOSTNAME% suffix", "%REQ(x-request-id)%", "%UPSTREAM_METADATA([\"ns\", \"key\"])%", ""])
    func validHeaderValues(value: String) {
        #expect(Validators.headerValueProblem(value) == nil)
    }

    @Test(arguments: ["abc%123", "%START_TIME%%", "%UPSTREAM_METADATA([\"a\" x])%", "tab\u{1}char"])
    func invalidHeaderValues(value: String) {
        #expect(Validators.headerValueProblem(value) != nil)
    }

    @Test func hostOverlapAndSubset() {
        #expect(Validators.hostsOverlap("*.foo.bar", "*.bar"))
        #expect(Validators.hostsOverlap("a.bar", "*.bar"))
        #expect(!Validators.hostsOverlap("a.baz", "*.bar"))
        #expect(Validators.host("a.example.com", isSubsetOf: "*.example.com"))
        #expect(Validators.host("*.a.example.com", isSubsetOf: "*.example.com"))
        #expect(!Validators.host("*.example.com", isSubsetOf: "a.example.com"))
        #expect(!Validators.host("*.com", isSubsetOf: "*.example.com"))
    }

    @Test(arguments: [
        ("reviews", true), ("*.example.com", true), ("*foo.example.com", true), ("*", true), ("example.com.", true),
        ("Reviews.Default", true), ("foo.*.com", false), ("**.com", false), ("a..b", false), ("", false), ("example.123", false),
    ])
    func wildcardDomains(host: String, valid: Bool) {
        #expect((Validators.istioWildcardDomainProblem(host) == nil) == valid, "\(host)")
    }

    @Test func autoPassthroughSNIHostOnGateway() {
        let spec = VirtualService(
            hosts: ["outbound_.80_._.reviews.bookinfo.svc.cluster.local"], gateways: ["istio-system/cross-network"],
            tls: [.init(
                match: [.init(sniHosts: ["outbound_.80_._.reviews.bookinfo.svc.cluster.local"])],
                route: [.init(destination: Destination(host: "reviews.bookinfo.svc.cluster.local"))])])
        let result = validate(spec)
        #expect(result.errors.isEmpty, "\(result.errors)")
    }

    @Test func retryOnStatusCodesAndPolicies() {
        #expect(Validators.httpRetry(HTTPRetry(attempts: 3, retryOn: "503,retriable-4xx,deadline-exceeded"), at: "r").errors.isEmpty)
        #expect(Validators.httpRetry(HTTPRetry(attempts: 3, retryOn: "306"), at: "r").errors.count == 1)
        #expect(Validators.httpRetry(HTTPRetry(attempts: 0), at: "r").errors.isEmpty)
    }

    @Test func decodesAllFieldsFromYAML() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("testdata/validation/virtualservice/valid-full-http.yaml")
        let output = ConfigDecoder().decode(try String(contentsOf: url, encoding: .utf8), file: "valid-full-http.yaml")
        let vs = try #require(output.resources.first?.typed(as: VirtualService.self))
        let api = try #require(vs.spec.http?.first)
        #expect(api.match?.first?.withoutHeaders?["x-debug"]?.regex == "*")
        #expect(api.retries?.backoff == ConfigDuration(milliseconds: 25))
        #expect(api.corsPolicy?.unmatchedPreflights == .IGNORE)
        #expect(api.route?.first?.destination?.port?.number == 8080)
        #expect(api.fault?.delay?.percentage?.value == 0.5)
        #expect(vs.spec.http?[1].mirrorPercentage?.value == 25.5)
    }

    @Test func base64BodyDecodes() throws {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: a}
        spec:
          hosts: [a]
          http:
          - directResponse: {status: 404, body: {bytes: bm90IGZvdW5k}}
        """
        let output = ConfigDecoder().decode(yaml, file: "a.yaml")
        let vs = try #require(output.resources.first?.typed(as: VirtualService.self))
        #expect(vs.spec.http?.first?.directResponse?.body?.bytes?.data == Data("not found".utf8))
    }

    /// Istio's JWT claim routing keys: the claim path, or nil (then the name is an ordinary,
    /// and here invalid, header name).
    @Test(arguments: [
        ("@request.auth.claims.group", ["group"]),
        ("@Request.Auth.Claims.a.B", ["a", "B"]),
        ("@request.auth.claims[org][team]", ["org", "team"]),
        ("@request.auth.claims[k.with.dots]", ["k.with.dots"]),
        ("@request.auth.claims.[k]", ["[k]"]),
        ("@request.auth.claims", nil),
        ("@request.auth.claims.", nil),
        ("@request.auth.claims.a..b", nil),
        ("@request.auth.claims-abc", nil),
        ("@request.auth.claims[]", nil),
        ("@request.auth.claims[a][]", nil),
        ("@request.auth.claims[k", nil),
        ("x-user", nil),
    ] as [(String, [String]?)])
    func jwtClaimRoutingKeys(_ name: String, _ path: [String]?) {
        #expect(Validators.jwtClaimPath(name) == path)
        #expect(Validators.isJWTClaimRoutingKey(name) == (path != nil))
        #expect((Validators.headerMatchNameProblem(name) == nil) == (path != nil || name == "x-user"))
    }
}
