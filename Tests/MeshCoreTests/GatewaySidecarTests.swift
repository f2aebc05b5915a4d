import Testing
@testable import MeshCore

@Suite struct GatewaySidecarTests {
    private func meta(_ name: String = "gw", namespace: String = "prod") -> ValidationContext {
        ValidationContext(meta: ObjectMeta(name: name, namespace: namespace))
    }

    @Test(arguments: [
        ("HTTP", true, false), ("http2", true, false), ("GRPC-Web", true, false), ("HTTPS", false, true),
        ("tls", false, true), ("TCP", false, false), ("HBONE", false, false),
    ])
    func protocolParsing(text: String, isHTTP: Bool, isTLS: Bool) {
        let p = Validators.ListenerPortProtocol(parsing: text)
        #expect(p.isHTTP == isHTTP)
        #expect(p.isTLS == isTLS)
    }

    @Test func unsupportedProtocols() {
        #expect(Validators.ListenerPortProtocol(parsing: "HBONE") == .unsupported)
        #expect(Validators.ListenerPortProtocol(parsing: "") == .unsupported)
    }

    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", "8080"), ("[::1]:9000", "::1", "9000"), (":80", "", "80"),
    ])
    func splitHostPort(text: String, host: String, port: String) {
        let split = Validators.splitHostPort(text)
        #expect(split?.host == host)
        #expect(split?.port == port)
    }

    @Test(arguments: ["127.0.0.1", "::1:80", "[::1]80", "[::1"])
    func splitHostPortRejects(text: String) {
        #expect(Validators.splitHostPort(text) == nil)
    }

    @Test(arguments: [
        ("*/reviews.example.com", true), ("./*", true), ("prod/*.example.com", true), ("reviews.example.com", true),
        ("1.2.3.4", true), ("~/a.example.com", false), ("prod/reviews", false), ("foo.*.com", false),
    ])
    func gatewayHosts(host: String, valid: Bool) {
        #expect(Validators.namespaceSlashHostProblems(host, isGateway: true).isEmpty == valid)
    }

    @Test(arguments: [
        ("./*", true), ("~/a.example.com", true), ("~prod/*", true), ("*/*", true),
        ("reviews.example.com", false), ("prod/1.2.3.4", false), ("Bad_NS/a.example.com", false),
    ])
    func sidecarHosts(host: String, valid: Bool) {
        #expect(Validators.namespaceSlashHostProblems(host, isGateway: false).isEmpty == valid)
    }

    @Test func unsetTLSModeIsPassthrough() {
        let tls = ServerTLSSettings(httpsRedirect: true)
        #expect(tls.effectiveMode == .PASSTHROUGH)
        #expect(tls.isPassthrough)
        #expect(tls.validate(at: "tls") == ValidationResult())
    }

    @Test func credentialNameSatisfiesMutualTLS() {
        let tls = ServerTLSSettings(mode: .MUTUAL, credentialName: "cert")
        #expect(tls.validate(at: "tls").isValid)
        let files = ServerTLSSettings(mode: .MUTUAL, serverCertificate: "/c.pem", privateKey: "/k.pem")
        #expect(files.validate(at: "tls").errors.map(\.path.description) == ["tls.caCertificates"])
    }

    @Test func cipherSuiteRules() {
        #expect(ServerTLSSettings.isValidCipherSuite("ECDHE-RSA-AES128-GCM-SHA256"))
        #expect(ServerTLSSettings.isValidCipherSuite("ALL"))
        #expect(ServerTLSSettings.isValidCipherSuite("!aNULL"))
        #expect(!ServerTLSSettings.isValidCipherSuite("TLS_AES_128_GCM_SHA256"))
    }

    @Test func builtGatewayValidates() {
        let gateway = Gateway(
            servers: [.init(port: .init(number: 443, protocol: "HTTPS", name: "https"), hosts: ["*.example.com"],
                            tls: .init(mode: .SIMPLE, credentialName: "wildcard-cert"))],
            selector: ["istio": "ingressgateway"])
        #expect(gateway.validate(in: meta()) == ValidationResult())
        var broken = gateway
        broken.servers?[0].tls = nil
        #expect(broken.validate(in: meta()).errors.map(\.description) == ["spec.servers[0].tls: server must have TLS settings for HTTPS/TLS protocols"])
    }

    @Test func builtSidecarValidates() {
        let sidecar = Sidecar(
            workloadSelector: .init(labels: ["app": "reviews"]),
            egress: [.init(hosts: ["./*", "istio-system/*"])],
            outboundTrafficPolicy: .init(mode: .ALLOW_ANY))
        #expect(sidecar.validate(in: meta("default")) == ValidationResult())
        #expect(sidecar.workloadSelector?.matches(["app": "reviews", "version": "v1"]) == true)
        #expect(!Sidecar().validate(in: meta("default")).isValid)
    }

    @Test func envoyFilterAlwaysWarns() {
        let filter = EnvoyFilter(configPatches: [
            .init(applyTo: .CLUSTER, patch: .init(operation: .REMOVE)),
        ])
        let result = filter.validate(in: meta())
        #expect(result.isValid)
        #expect(result.warnings.count == 1)
    }

    @Test func proxyConfigConcurrency() {
        #expect(ProxyConfig(concurrency: 0).validate(in: meta()).isValid)
        #expect(!ProxyConfig(concurrency: -2).validate(in: meta()).isValid)
    }
}
