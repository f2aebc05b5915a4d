import Testing
import MeshCore

/// Unit tests for the security kinds' shared rules and models (fixtures cover whole documents).
@Suite struct SecurityPolicyTests {
    @Test(arguments: ["/foo/{*}", "/{**}", "/foo/{*}/bar/{**}", "/foo/{**}/", "/plain*", "*/suffix", "*", "/a:b@c/{*}"])
    func acceptedPaths(_ path: String) {
        #expect(Validators.pathTemplateProblem(path) == nil)
    }

    @Test(arguments: ["/{**}/foo/{*}", "/foo/{*}.txt", "/*/baz/{*}", "/**/baz/{*}", "/foo/{bar}", "/x//{*}", "/{**}/{**}"])
    func rejectedPaths(_ path: String) {
        #expect(Validators.pathTemplateProblem(path) != nil)
    }

    @Test func ipsAndCIDRs() {
        for good in ["10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "fe80::1%eth0", "0.0.0.0/0"] {
            #expect(Validators.ipOrCIDRProblem(good) == nil, "\(good)")
        }
        for bad in ["10.0.0", "10.0.0.0/33", "10.0.0.0/08", "fe80::1%eth0/64", "example.com", "10.0.0.0/"] {
            #expect(Validators.ipOrCIDRProblem(bad) != nil, "\(bad)")
        }
    }

    @Test func authorizationPorts() {
        #expect(Validators.authorizationPortProblem("0") == nil)
        #expect(Validators.authorizationPortProblem("65535") == nil)
        #expect(Validators.authorizationPortProblem("65536") != nil)
        #expect(Validators.authorizationPortProblem("+80") != nil)
        #expect(Validators.authorizationPortProblem("８０") != nil)
    }

    @Test func conditionKeys() {
        for key in ["request.headers[x]", "source.ip", "request.auth.claims[a][b]", "experimental.envoy.filters.x[y]", "connection.sni", "source.serviceAccount"] {
            #expect(Validators.conditionKeyProblem(key) == nil, "\(key)")
        }
        for key in ["request.headers", "request.headers[]", "request.auth.claims", "destination.labels[app]", "destination.name", "request.path", ""] {
            #expect(Validators.conditionKeyProblem(key) != nil, "\(key)")
        }
        #expect(Validators.conditionValueProblem(key: "destination.port", value: "80") == nil)
        #expect(Validators.conditionValueProblem(key: "destination.port", value: "80x") != nil)
        #expect(Validators.isConditionKeyUnsupportedWithCustom("request.auth.audiences"))
        #expect(!Validators.isConditionKeyUnsupportedWithCustom("source.ip"))
    }

    @Test func wildcardsAndServiceAccounts() {
        #expect(Validators.wildcardValueProblem("*") == nil)
        #expect(Validators.wildcardValueProblem("prefix-*") == nil)
        #expect(Validators.wildcardValueProblem("*-suffix") == nil)
        #expect(Validators.wildcardValueProblem("a*b") != nil)
        #expect(Validators.wildcardValueProblem("**") != nil)
        #expect(Validators.serviceAccountProblem("ns/sa") == nil)
        #expect(Validators.serviceAccountProblem("sa") == nil)
        #expect(Validators.serviceAccountProblem("a/b/c") != nil)
        #expect(Validators.serviceAccountProblem(String(repeating: "a", count: 321)) != nil)
    }

    @Test func jwks() throws {
        let publicSet = #"{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
        #expect(try Validators.parseJWKS(publicSet).get() == [])
        let single = #"{"kty": "RSA", "n": "0vx7", "e": "AQAB", "d": "X4cT"}"#
        #expect(try Validators.parseJWKS(single).get() == [0])
        #expect(throws: Validators.JWKSProblem.self) { try Validators.parseJWKS("[]").get() }
        #expect(throws: Validators.JWKSProblem.self) { try Validators.parseJWKS(#"{"keys": {}}"#).get() }
    }

    @Test func jwksURIs() {
        #expect(Validators.jwksURIProblem("https://example.com/.well-known/jwks.json") == nil)
        #expect(Validators.jwksURIProblem("http://jwks.auth.svc:8080/keys") == nil)
        #expect(Validators.jwksURIProblem("ftp://example.com/keys") != nil)
        #expect(Validators.jwksURIProblem("example.com/keys") != nil)
        #expect(Validators.jwksURIProblem("https://" + String(repeating: "a", count: 2048)) != nil)
    }

    @Test func builtValuesValidate() {
        let meta = ObjectMeta(name: "p", namespace: "foo")
        let policy = AuthorizationPolicy(
            selector: WorkloadSelector(matchLabels: ["app": "web"]),
            rules: [.init(from: [.init(source: .init(namespaces: ["bar"]))], to: [.init(operation: .init(methods: ["GET"]))])],
            action: .ALLOW)
        #expect(policy.validate(in: ValidationContext(meta: meta)).isValid)

        var deny = policy
        deny.action = .DENY
        let result = deny.validate(in: ValidationContext(meta: meta))
        #expect(result.isValid)
        #expect(result.warnings.map(\.path.description) == ["spec.rules[0]"])

        let peer = PeerAuthentication(mtls: .init(mode: .STRICT), portLevelMtls: ["80": .init(mode: .DISABLE)])
        #expect(peer.validate(in: ValidationContext(meta: meta)).errors.map(\.path.description) == ["spec.portLevelMtls"])

        let request = RequestAuthentication(jwtRules: [.init(jwks_uri: "https://example.com/keys")])
        #expect(request.validate(in: ValidationContext(meta: meta)).isValid)
        #expect(request.jwtRules?.first?.effectiveJwksUri == "https://example.com/keys")
    }

    @Test func decodesPortKeysAndEnums() throws {
        let yaml = """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: {name: web, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          mtls: {mode: STRICT}
          portLevelMtls:
            8080: {mode: DISABLE}
        """
        let out = ConfigDecoder().decode(yaml, file: "pa.yaml")
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
        let peer = try #require(out.resources.first?.typed(as: PeerAuthentication.self))
        #expect(peer.spec.mtls?.mode == .STRICT)
        #expect(peer.spec.portLevelMtls?["8080"]?.mode == .DISABLE)
    }
}
