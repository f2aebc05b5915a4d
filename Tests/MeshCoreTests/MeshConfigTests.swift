import Foundation
import Testing
@testable import MeshCore

/// MeshConfig loading: strict decoding, Istio's defaults, merge rules and validation.
@Suite struct MeshConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata/meshconfig")

    static func fixtures() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// Same header format as the validation fixtures: `# expect-error: PATH: TEXT`, `# expect-warning: PATH: TEXT`.
    @Test(arguments: fixtures())
    func fixture(_ name: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(name), encoding: .utf8)
        let expected = ValidationFixtureTests.expectations(in: text)
        var diagnostics: [Diagnostic]
        do {
            let (_, warnings) = try MeshConfig.loadReportingWarnings(text, file: name)
            #expect(name.hasPrefix("valid"), "\(name) loaded, but an invalid fixture must be rejected")
            diagnostics = warnings
        } catch {
            #expect(name.hasPrefix("invalid"), "\(name) was rejected:\n\(error)")
            #expect(error.diagnostics.allSatisfy { $0.location?.file == name })
            diagnostics = error.diagnostics
        }
        if name.hasPrefix("invalid") {
            #expect(expected.contains { $0.severity == .error }, "an invalid fixture must list its expected errors")
        }
        var unmatched = diagnostics
        for expectation in expected {
            if let i = unmatched.firstIndex(where: expectation.matches) {
                unmatched.remove(at: i)
            } else {
                Issue.record("expected \(expectation) not reported; got:\n\(diagnostics.map(\.description).joined(separator: "\n"))")
            }
        }
        #expect(unmatched.isEmpty, "unexpected findings:\n\(unmatched.map(\.description).joined(separator: "\n"))")
    }

    @Test func defaultsAreValid() {
        let result = MeshConfig.defaults.validate()
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.warnings.isEmpty, "\(result.warnings)")
    }

    @Test func emptyConfigIsIncomplete() {
        let messages = MeshConfig().validate().errors.map(\.description)
        #expect(messages.contains { $0.hasPrefix("defaultConfig: missing default config") })
        #expect(messages.contains { $0.hasPrefix("proxyListenPort:") })
        #expect(messages.contains { $0.hasPrefix("connectTimeout:") })
        #expect(messages.contains { $0.hasPrefix("trustDomain:") })
    }

    @Test func loadAppliesDefaults() throws {
        let mesh = try MeshConfig.load("accessLogFile: /dev/stdout\n", file: "mesh")
        #expect(mesh.accessLogFile == "/dev/stdout")
        #expect(mesh.rootNamespace == "istio-system")
        #expect(mesh.trustDomain == "cluster.local")
        #expect(mesh.connectTimeout == ConfigDuration(milliseconds: 10_000))
        #expect(mesh.outboundTrafficPolicy?.mode == .ALLOW_ANY)
        #expect(mesh.defaultConfig?.discoveryAddress == "istiod.istio-system.svc:15012")
        #expect(mesh.defaultConfig?.drainDuration == ConfigDuration(milliseconds: 45_000))
        #expect(mesh.extensionProviders?.compactMap(\.name) == ["prometheus", "stackdriver", "envoy"])
        #expect(ValidationContext(meta: ObjectMeta(name: "x"), mesh: mesh).rootNamespace == "istio-system")
    }

    @Test func proxyConfigIsMergedFieldByField() throws {
        let yaml = """
        defaultConfig:
          discoveryAddress: istiod.istio-system.svc:15012
          tracingServiceName: CANONICAL_NAME_ONLY
          proxyMetadata:
            FOO: bar
        """
        var base = MeshConfig.defaults
        base.defaultConfig?.proxyMetadata = ["KEEP": "1", "FOO": "old"]
        let (mesh, _) = try ConfigDecoder.loadMeshConfig(yaml, file: "m", defaults: base)
        let pc = try #require(mesh.defaultConfig)
        #expect(pc.tracingServiceName == .CANONICAL_NAME_ONLY)
        #expect(pc.serviceCluster == nil, "the cluster-name oneof switches to tracingServiceName")
        #expect(pc.proxyAdminPort == 15000, "unset fields keep their defaults")
        #expect(pc.binaryPath == "/usr/local/bin/envoy")
        #expect(pc.proxyMetadata == ["KEEP": "1", "FOO": "bar"])
    }

    @Test func topLevelFieldsReplaceAndProvidersMergeByName() throws {
        let yaml = """
        trustDomainAliases: [b.example.org, a.example.org]
        defaultServiceExportTo: ["."]
        extensionProviders:
        - name: envoy
          envoyFileAccessLog: {path: /var/log/envoy.log}
        - name: zipkin
          zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
        defaultProviders:
          metrics: [prometheus]
        """
        let mesh = try MeshConfig.load(yaml, file: "m")
        #expect(mesh.defaultServiceExportTo == ["."])
        #expect(mesh.trustDomainAliases == ["a.example.org", "b.example.org"])
        #expect(mesh.extensionProviders?.compactMap(\.name) == ["prometheus", "stackdriver", "envoy", "zipkin"])
        #expect(mesh.extensionProviders?[2].envoyFileAccessLog?.path == "/var/log/envoy.log")
        #expect(mesh.defaultProviders?.metrics == ["prometheus"])
    }

    @Test func errorsNameFileLineAndPath() {
        let yaml = """
        # mesh
        accessLogFile: /dev/stdout
        defaultConfig:
          proxyAdminPort: 15000
          drainDuration: 2.5s
        """
        do {
            _ = try MeshConfig.load(yaml, file: "mesh.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "mesh.yaml:5: defaultConfig.drainDuration: drain time only supports durations to seconds precision",
            ])
        }
    }

    @Test func unknownFieldsAreErrorsWithLines() {
        do {
            _ = try MeshConfig.load("enableTracing: true\ndefaultConfig:\n  bogus: 1\n", file: "m.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "m.yaml:3: defaultConfig.bogus: unknown field \"bogus\"")
        }
    }

    @Test func providerWarningsPointAtTheFilesList() throws {
        let yaml = """
        extensionProviders:
        - name: tracer
          zipkin:
            service: zipkin.example.com
        """
        let (_, warnings) = try MeshConfig.loadReportingWarnings(yaml, file: "m.yaml")
        #expect(warnings.map(\.description) == [
            "m.yaml:3: warning: extensionProviders[0].zipkin.port: invalid extension provider tracer: port number 0 must be in the range 1..65535",
        ])
    }

    @Test func roundTripsThroughJSON() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("valid-full.yaml"), encoding: .utf8)
        let mesh = try MeshConfig.load(text, file: "valid-full.yaml")
        let data = try JSONEncoder().encode(mesh)
        let decoded = try ConfigDecoder.decodeValue(MeshConfig.self, from: String(decoding: data, as: UTF8.self), file: "json")
        #expect(decoded == mesh)
    }

    @Test(arguments: [
        ("istiod.istio-system.svc:15012", true), ("10.0.0.1:80", true), ("[::1]:15012", true),
        ("istiod", false), ("istiod:0", false), ("a_b:80", false), ("::1:80", false), ("host.123:80", false),
    ])
    func proxyAddresses(address: String, valid: Bool) {
        #expect((Validators.proxyAddressProblem(address) == nil) == valid, "\(address): \(Validators.proxyAddressProblem(address) ?? "ok")")
    }
}

/// Syntax checks for Telemetry access-log filters and Wasm URLs.
@Suite struct TelemetryWasmRuleTests {
    @Test(arguments: [
        "response.code >= 400", "request.headers['x-user'] == \"bob\"", "a ? b : c", "!has(request.path)",
        "xds.cluster_name.startsWith('outbound') && size(request.headers) > 2u", "[1, 2, 3].exists(x, x > 2)",
        "{'a': 1}.a == 1", "-1.5e3 < 0", "'''multi\nline''' != r'raw\\d'", "x in ['a', 'b']",
        "google.protobuf.Duration{seconds: 5} > duration('1s')",
    ])
    func validCEL(_ expression: String) {
        #expect(CELSyntax.problem(in: expression) == nil, "\(expression): \(CELSyntax.problem(in: expression) ?? "")")
    }

    @Test(arguments: ["", "a ==", "(a", "a)", "a b", "'open", "a ? b", "a.", "if a", "a = 1", "f(a,,b)"])
    func invalidCEL(_ expression: String) {
        #expect(CELSyntax.problem(in: expression) != nil, "\(expression) should not parse")
    }

    @Test(arguments: [
        "oci://ghcr.io/a/b:v1", "ghcr.io/a/b:v1", "ghcr.io/a/b@sha256:abcd", "file:///opt/f.wasm", "http://h/f.wasm",
        "HTTPS://h:8443/f.wasm", "/opt/plugin.wasm",
    ])
    func validWasmURLs(_ url: String) {
        #expect(Validators.wasmURLProblem(url) == nil, "\(url): \(Validators.wasmURLProblem(url) ?? "")")
    }

    @Test(arguments: ["", "ftp://h/f.wasm", "s3://bucket/f.wasm", "localhost:5000/a", "registry.local:5000", ":8080/x", "http://h/%4", "#%blah$#@"])
    func invalidWasmURLs(_ url: String) {
        #expect(Validators.wasmURLProblem(url) != nil, "\(url) should be rejected")
    }
}
