import Foundation
import MeshTestSupport
import Testing

extension LoopbackMesh {
    /// Starts Envoy as a gateway (`sidecar --proxy envoy --type router`) on its own loopback address.
    func startGateway(
        namespace: String = "istio-system", labels: [String: String] = ["istio": "ingressgateway"], ip: String? = nil
    ) async throws -> Proxy {
        try await startProxy(namespace: namespace, labels: labels, type: "router", ip: ip)
    }

    /// One plain-text request to a gateway listener, with `Host: host`.
    func requestGateway(_ gateway: Proxy, port: Int, host: String, path: String, headers: [(String, String)] = []) async -> Response {
        await Self.request(host: gateway.ip, port: port, path: path, authority: host, headers: headers)
    }
}

/// A test CA, a server certificate for some DNS names and a client certificate, made with
/// `openssl` in a temporary directory (removed by ``remove()``).
struct TestCertificates: Sendable {
    var directory: URL
    var caCertificate: URL { directory.appendingPathComponent("ca.crt") }
    var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    var serverKey: URL { directory.appendingPathComponent("server.key") }
    var clientCertificate: URL { directory.appendingPathComponent("client.crt") }
    var clientKey: URL { directory.appendingPathComponent("client.key") }

    /// The openssl binary, or nil (recorded as a failure under `CI=true`, where `.ci/run` installs it).
    static func openssl() -> URL? {
        for path in ["/usr/bin/openssl", "/usr/local/bin/openssl"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("openssl is required under CI=true") }
        return nil
    }

    /// Makes a P-256 CA, a server certificate for `dnsNames` and a client certificate `client`, all valid one day.
    static func make(dnsNames: [String]) async throws -> TestCertificates? {
        guard let openssl = openssl() else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certs = TestCertificates(directory: directory)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func run(_ arguments: [String]) async throws {
            let result = try await ChildProcess.run(openssl, arguments)
            guard result.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await run(["req", "-x509"] + ec + ["-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", "1",
                       "-subj", "/CN=SwiftMesh Gateway Test CA",
                       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let sans = dnsNames.map { "DNS:\($0)" }.joined(separator: ",")
        for (name, subject, usage) in [("server", dnsNames.first ?? "server", "serverAuth"), ("client", "client", "clientAuth")] {
            try await run(["req"] + ec + ["-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(subject)"])
            let ext = name == "server" ? "subjectAltName=\(sans)\nextendedKeyUsage=\(usage)\n" : "extendedKeyUsage=\(usage)\n"
            try ext.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try await run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                           "-CAcreateserial", "-out", path("\(name).crt"), "-days", "1", "-extfile", path("\(name).ext")])
        }
        return certs
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// curl, for HTTPS requests that check the gateway's certificate (`.ci/run` installs it).
enum Curl {
    /// The outcome of one curl run: its exit status, the HTTP status (0 when none) and the body.
    struct Result: Sendable {
        var exitStatus: Int32
        var httpStatus: Int
        var body: String
        var stderr: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }
        var echoName: String? { json?["name"] as? String }
    }

    static func binary() -> URL? {
        for path in ["/usr/bin/curl", "/usr/local/bin/curl"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("curl is required under CI=true") }
        return nil
    }

    /// GET `url` with `arguments` (e.g. `--cacert`, `--resolve`); the HTTP status is read from `-w`.
    static func get(_ curl: URL, _ url: String, _ arguments: [String]) async throws -> Result {
        let marker = "\n--curl-status:"
        let result = try await ChildProcess.run(curl, ["-sS", "--max-time", "10", "-w", "\(marker)%{http_code}"] + arguments + [url])
        var body = result.stdout
        var status = 0
        if let range = body.range(of: marker, options: .backwards) {
            status = Int(body[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            body = String(body[..<range.lowerBound])
        }
        return Result(exitStatus: result.status, httpStatus: status, body: body, stderr: result.stderr)
    }
}
