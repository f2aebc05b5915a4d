import Testing
import MeshCore

/// Unit tests for the shared rules behind DestinationRule, ServiceEntry and WorkloadEntry validation.
@Suite struct ServiceRegistryRulesTests {
    @Test(arguments: [
        ("reviews", true), ("reviews.prod.svc.cluster.local", true), ("istio.io.", true), ("Example.COM", true),
        ("10.0.0.1", false), ("*.example.com", false), ("bad_label.com", false), ("", false), ("a..b", false),
    ])
    func fqdn(host: String, valid: Bool) {
        #expect((Validators.istioFQDNProblem(host) == nil) == valid)
    }

    @Test(arguments: [
        ("*", true), ("*.example.com", true), ("*foo.example.com", true), ("*-foo.example.com", true),
        ("foo.*.com", false), ("**.com", false), ("foo*.com", false), ("1.2.3.4", false),
    ])
    func wildcardDomain(host: String, valid: Bool) {
        #expect((Validators.istioWildcardDomainProblem(host) == nil) == valid)
    }

    @Test func maglevPrimes() {
        #expect(Validators.isPrime(65537))
        #expect(Validators.isPrime(2))
        #expect(!Validators.isPrime(65536))
        #expect(!Validators.isPrime(0))
        #expect(!Validators.isPrime(9))
    }

    @Test func localities() {
        #expect(Validators.localitiesProblem(["us-west/zone1/*", "us-west/zone2/*", "us-east"]) == nil)
        #expect(Validators.localitiesProblem(["us-west", "us-west/zone1"])?.contains("overlap") == true)
        #expect(Validators.localitiesProblem(["*", "us-west"])?.contains("overlap") == true)
        #expect(Validators.localitiesProblem(["us-*/zone"])?.contains("wildcard") == true)
        #expect(Validators.localitiesProblem(["us-west//a"])?.contains("empty") == true)
    }

    @Test func protocols() {
        #expect(Validators.ServicePortProtocol(parsing: "grpc-web") == .GRPCWeb)
        #expect(Validators.ServicePortProtocol(parsing: "MONGO")?.isTCP == true)
        #expect(Validators.ServicePortProtocol(parsing: "https")?.isTLS == true)
        #expect(Validators.ServicePortProtocol(parsing: "spdy") == nil)
    }

    @Test func exportToForServiceEntryAllowsNone() {
        let ok = Validators.exportTo(["~"], configNamespace: "prod", isServiceEntry: true, isDestinationRuleWithSelector: false, at: "spec.exportTo")
        #expect(ok.errors.isEmpty)
        let bad = Validators.exportTo(["~"], configNamespace: "prod", isServiceEntry: false, isDestinationRuleWithSelector: false, at: "spec.exportTo")
        #expect(bad.errors.map(\.path.description) == ["spec.exportTo[0]"])
    }

    @Test func connectionPoolBuiltInCode() {
        let pool = ConnectionPoolSettings(tcp: .init(maxConnections: -1, idleTimeout: ConfigDuration(nanoseconds: 0)))
        let result = pool.validate(at: "spec.inboundConnectionPool")
        #expect(result.errors.map(\.description) == ["spec.inboundConnectionPool.tcp.maxConnections: max connections must be non-negative"])
    }

    @Test func clientTLSCredentialNameSkipsFileChecks() {
        let tls = ClientTLSSettings(mode: .MUTUAL, credentialName: "client-credential")
        #expect(tls.validate(at: "tls", namespace: "prod").isValid)
        #expect(!ClientTLSSettings(mode: .MUTUAL).validate(at: "tls", namespace: "prod").isValid)
    }

    @Test func workloadEntryAsServiceEntryEndpoint() {
        let endpoint = WorkloadEntry(address: "10.0.0.1", ports: ["http": 8080, "admin": 9000])
        let result = endpoint.validate(at: "spec.endpoints[0]", servicePorts: ["http"], allowFQDNAddresses: false)
        #expect(result.errors.map(\.path.description) == ["spec.endpoints[0].ports[admin]"])
    }

    @Test func decodedDestinationRuleRoundTrips() throws {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: prod}
        spec:
          host: reviews
          trafficPolicy:
            loadBalancer:
              consistentHash:
                httpCookie: {name: user, ttl: 1.5s}
            outlierDetection:
              consecutive5xxErrors: 3
          subsets:
          - name: v1
            labels: {version: v1}
        """
        let out = ConfigDecoder().decode(yaml, file: "dr.yaml")
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
        let dr = try #require(out.resources.first?.typed(as: DestinationRule.self))
        #expect(dr.spec.trafficPolicy?.loadBalancer?.consistentHash?.httpCookie?.ttl == ConfigDuration(milliseconds: 1500))
        #expect(dr.spec.trafficPolicy?.outlierDetection?.consecutive5xxErrors == 3)
        #expect(dr.spec.subsets?.first?.labels == ["version": "v1"])
    }
}
