import Foundation
import MeshTestSupport
import Testing
import X509

/// Gateway credentials from Kubernetes `Secret`s on a ``LoopbackMesh``: a gateway whose agent
/// gets a workload certificate from istiod's CA (so its xDS connection proves its namespace),
/// Secret YAML built from test certificates made at test time, and the certificate a gateway
/// actually serves, read with `openssl s_client`.
extension LoopbackMesh {
    /// Starts Envoy as a gateway (`--type router`) with a certificate from `ca`, talking xDS to
    /// istiod's secure port, where it is served the secrets of `namespace`.
    func startSecureGateway(
        ca: MeshCA, namespace: String, labels: [String: String] = ["istio": "ingressgateway"],
        serviceAccount: String = "ingressgateway", ip: String
    ) async throws -> Proxy {
        try await startProxy(namespace: namespace, labels: labels, serviceAccount: serviceAccount, type: "router", ip: ip, arguments: [
            "--xds", ca.secureAddress, "--ca", ca.secureAddress, "--root-cert", ca.rootCert.path,
            "--token-file", ca.agentToken.path,
        ])
    }

    /// A `v1` Secret YAML document. `type` `kubernetes.io/tls` uses keys `tls.crt`/`tls.key`/`ca.crt`,
    /// any other value is written as given in `data`.
    static func secretYAML(name: String, namespace: String, type: String = "kubernetes.io/tls", data: [String: String]) -> String {
        let lines = data.keys.sorted().map { "  \($0): \(Data(data[$0]!.utf8).base64EncodedString())" }
        return """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: \(namespace)}
            type: \(type)
            data:
            \(lines.joined(separator: "\n"))
            """
    }
}

extension TestCertificates {
    /// Issues another server certificate from this CA (`name.crt`, `name.key`) for `dnsNames`,
    /// with subject `CN=<subject>`.
    func issueServer(_ name: String, subject: String, dnsNames: [String]) async throws {
        guard let openssl = Self.openssl() else { throw HarnessError("openssl missing") }
        func path(_ file: String) -> String { directory.appendingPathComponent(file).path }
        func run(_ arguments: [String]) async throws {
            let result = try await ChildProcess.run(openssl, arguments)
            guard result.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        }
        try await run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(subject)"])
        try "subjectAltName=\(dnsNames.map { "DNS:\($0)" }.joined(separator: ","))\nextendedKeyUsage=serverAuth\n"
            .write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try await run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                       "-CAcreateserial", "-out", path("\(name).crt"), "-days", "1", "-extfile", path("\(name).ext")])
    }

    /// The text of a file in the certificate folder.
    func text(_ file: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
    }

    /// The serial number of a certificate file, as swift-certificates prints it.
    func serial(_ file: String) throws -> String {
        "\(try Certificate(pemEncoded: text(file)).serialNumber)"
    }
}

/// What a TLS server presents, read with `openssl s_client` (which verifies it against a CA).
enum ServedCertificate {
    struct Observation: Sendable {
        /// `Verify return code: 0 (ok)` was printed: the chain verified against the CA.
        var verified: Bool
        var serial: String?
        var subject: String?
        var output: String
    }

    /// Connects to `ip:port` with SNI `serverName`, verifying against `caFile`.
    static func observe(ip: String, port: Int, serverName: String, caFile: URL) async throws -> Observation {
        guard let openssl = TestCertificates.openssl() else { throw HarnessError("openssl missing") }
        let result = try await ChildProcess.run(openssl, [
            "s_client", "-connect", "\(ip):\(port)", "-servername", serverName, "-CAfile", caFile.path, "-verify_hostname", serverName,
        ], timeout: .seconds(15))
        var observation = Observation(verified: result.stdout.contains("Verify return code: 0 (ok)"), output: result.stdout + result.stderr)
        if let begin = result.stdout.range(of: "-----BEGIN CERTIFICATE-----"),
           let end = result.stdout.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<result.stdout.endIndex),
           let certificate = try? Certificate(pemEncoded: String(result.stdout[begin.lowerBound..<end.upperBound])) {
            observation.serial = "\(certificate.serialNumber)"
            observation.subject = "\(certificate.subject)"
        }
        return observation
    }
}
