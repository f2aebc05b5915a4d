import Foundation
import MeshCA
import MeshTestSupport
import MeshXDS
@testable import sidecar
import SwiftProtobuf
import Testing
import X509

/// The secure bootstrap the agent writes with `--ca`, checked as data and by real Envoy.
@Suite struct SecureBootstrapTests {
    static let security = BootstrapSecurity(sdsSocketPath: "/tmp/agent/workload-spiffe-uds/socket")
    static var bootstrap: EnvoyBootstrap {
        var bootstrap = SidecarBootstrapTests.bootstrap
        bootstrap.xdsPort = 15012
        bootstrap.security = security
        return bootstrap
    }

    @Test func xdsClusterUsesTLSWithTheSDSWorkloadCertificate() throws {
        let clusters = try #require(Self.bootstrap.json["static_resources"]?["clusters"])
        guard case .array(let list) = clusters else { Issue.record("clusters is not an array"); return }
        #expect(list.compactMap { $0["name"]?.stringValue } == ["xds-grpc", "sds-grpc"])
        let tls = try #require(list[0]["transport_socket"]?["typed_config"])
        #expect(tls["sni"]?.stringValue == "istiod.istio-system.svc")
        let common = try #require(tls["common_tls_context"])
        let validation = try #require(common["combined_validation_context"])
        #expect(validation["validation_context_sds_secret_config"]?["name"]?.stringValue == "ROOTCA")
        #expect("\(validation["default_validation_context"] ?? .null)".contains("istiod.istio-system.svc"))
        guard case .array(let sds)? = common["tls_certificate_sds_secret_configs"] else { Issue.record("no SDS config"); return }
        #expect(sds.first?["name"]?.stringValue == "default")
        #expect(list[1]["load_assignment"]?["endpoints"].map { "\($0)" }?.contains("/tmp/agent/workload-spiffe-uds/socket") == true)
    }

    @Test func envoyAcceptsTheSecureBootstrap() async throws {
        guard let envoy = EnvoyForTests.binary()?.path else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-secure-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var bootstrap = SidecarBootstrapTests.bootstrap
        bootstrap.security = BootstrapSecurity(sdsSocketPath: directory.appendingPathComponent("sds.sock").path)
        let file = directory.appendingPathComponent("envoy-rev.json")
        try bootstrap.json.serialized().write(to: file, atomically: true, encoding: .utf8)
        let run = try await ChildProcess.run(URL(fileURLWithPath: envoy), ["--mode", "validate", "-c", file.path, "--log-level", "error", "--disable-hot-restart"], timeout: .seconds(60))
        #expect(run.status == 0, "envoy --mode validate failed:\n\(run.stdout)\n\(run.stderr)")
    }

    @Test func certTTLParses() {
        #expect(WorkloadSecurity.parseLifetime("20s") == .seconds(20))
        #expect(WorkloadSecurity.parseLifetime("24h") == .seconds(86400))
        #expect(WorkloadSecurity.parseLifetime("90d") == .seconds(90 * 86400))
        #expect(WorkloadSecurity.parseLifetime("0s") == nil)
        #expect(WorkloadSecurity.parseLifetime("ten") == nil)
    }
}

/// The SDS responses the agent serves.
@Suite struct SecretDiscoveryTests {
    @Test func defaultAndRootCASecrets() throws {
        let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        let (key, csr) = try WorkloadCSR.make(identity: identity)
        let issued = try ca.sign(try CertificateSigningRequest(pemEncoded: csr), options: SigningOptions(identity: identity))
        let certificate = WorkloadCertificate(chain: issued.chain, privateKeyPEM: key)
        let response = try SecretDiscoveryServer.response(names: ["default", "ROOTCA", "unknown"], certificate: certificate, roots: ca.trustBundle, nonce: "n1")
        #expect(response.typeURL == "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret")
        #expect(response.resources.count == 2, "unknown names are left out")
        let secrets = try response.resources.map { try Envoy_Extensions_TransportSockets_Tls_V3_Secret(unpackingAny: $0) }
        #expect(secrets.map(\.name) == ["default", "ROOTCA"])
        #expect(String(decoding: secrets[0].tlsCertificate.certificateChain.inlineBytes, as: UTF8.self) == certificate.certificateChainPEM)
        #expect(String(decoding: secrets[0].tlsCertificate.privateKey.inlineBytes, as: UTF8.self) == key)
        #expect(String(decoding: secrets[1].validationContext.trustedCa.inlineBytes, as: UTF8.self) == ca.trustBundle.pem)
        #expect(response.versionInfo.hasPrefix("\(issued.leaf.serialNumber)"))
    }

    @Test func streamStateSendsOnNewNamesOrCertificatesButNotOnACK() throws {
        let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        func make() throws -> WorkloadCertificate {
            let (key, csr) = try WorkloadCSR.make(identity: identity)
            return WorkloadCertificate(chain: try ca.sign(try CertificateSigningRequest(pemEncoded: csr), options: SigningOptions(identity: identity)).chain, privateKeyPEM: key)
        }
        var state = SDSStreamState()
        state.requested(["default"])
        #expect(state.pending() == nil, "nothing to send before a certificate exists")
        let first = try make()
        state.certificate = first
        let pending = try #require(state.pending())
        #expect(pending.0 == ["default"])
        state.sent(names: ["default"], version: SecretDiscoveryServer.version(of: first, roots: ca.trustBundle))
        state.requested(["default"])  // the ACK
        #expect(state.pending() == nil)
        state.certificate = try make()  // rotation
        #expect(state.pending() != nil)
    }
}

/// istiod with its CA and secure port, and an Envoy sidecar that gets its certificate from it,
/// talks to it over TLS, loads `default` and `ROOTCA` over SDS, and rotates without a restart.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CAEndToEndTests {
    func eventually(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(250))
        }
        return await condition()
    }

    static func get(_ host: String, _ port: Int, _ path: String) async -> String? {
        await offPool {
            guard let connection = try? TCPTestConnection(host: host, port: port, timeout: .seconds(5)) else { return nil }
            try? connection.sendHTTP1Request(path: path, host: "\(host):\(port)", headers: [("connection", "close")])
            return (try? connection.readHTTP1Response())?.text
        }
    }

    /// The serial numbers and URI SANs of the workload certificate in Envoy's `/certs`.
    static func workloadCertificates(_ json: String?) -> [(serial: String, uris: [String])] {
        guard let data = json?.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let certificates = object["certificates"] as? [[String: Any]]
        else { return [] }
        var result: [(String, [String])] = []
        for entry in certificates {
            for chain in entry["cert_chain"] as? [[String: Any]] ?? [] {
                let uris = (chain["subject_alt_names"] as? [[String: Any]] ?? []).compactMap { $0["uri"] as? String }
                if let serial = chain["serial_number"] as? String, !uris.isEmpty { result.append((serial, uris)) }
            }
        }
        return result
    }

    /// Envoy's `http.admin.downstream_rq_total`: how many admin requests this Envoy process has served.
    static func adminRequests(_ host: String, _ port: Int) async -> Int {
        let stats = await get(host, port, "/stats?filter=http.admin.downstream_rq_total") ?? ""
        let line = stats.split(separator: "\n").first { $0.hasPrefix("http.admin.downstream_rq_total:") }
        return line.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    @Test func envoyGetsItsIdentityFromIstiodAndTalksToItOverTLS() async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ca-e2e-\(UUID().uuidString)")
        let configDir = dir.appendingPathComponent("config"), caDir = dir.appendingPathComponent("cacerts")
        try FileManager.default.createDirectory(at: configDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("istiod-tokens"), agentToken = dir.appendingPathComponent("token")
        let token = "e2e-bootstrap-token-\(UUID().uuidString)"
        try "\(token) spiffe://cluster.local/ns/bookinfo/sa/client\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        try "\(token)\n".write(to: agentToken, atomically: true, encoding: .utf8)

        // istiod on its own loopback address: 127.0.0.1 ports are also handed out as source ports.
        let istiodIP = LoopbackNetwork.randomAddress()
        let xdsPort = try LoopbackNetwork.freePort(on: istiodIP)
        let securePort = try LoopbackNetwork.freePort(on: istiodIP)
        let debugPort = try LoopbackNetwork.freePort(on: istiodIP)
        var processes: [ChildProcess] = []
        defer { ChildProcess.terminate(processes.reversed()) }
        let istiod = try ChildProcess(ExampleBinary.url(named: "istiod"), [
            "--config-dir", configDir.path, "--xds-address", "\(istiodIP):\(xdsPort)", "--debug-address", "\(istiodIP):\(debugPort)",
            "--ca-dir", caDir.path, "--secure-address", "\(istiodIP):\(securePort)", "--bootstrap-token-file", tokenFile.path,
            "--poll-interval", "200",
        ])
        processes.append(istiod)
        try #require(await LoopbackNetwork.waitUntilAccepting(host: istiodIP, port: securePort, timeout: .seconds(30)), "\(istiod.output)")
        let rootFile = caDir.appendingPathComponent("root-cert.pem")
        #expect(FileManager.default.fileExists(atPath: caDir.appendingPathComponent("ca-key.pem").path), "a self-signed root was created")
        let keyMode = try FileManager.default.attributesOfItem(atPath: caDir.appendingPathComponent("ca-key.pem").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let clientIP = LoopbackNetwork.randomAddress()
        let adminPort = try LoopbackNetwork.freePort(on: clientIP)
        let sidecar = try ChildProcess(ExampleBinary.url(named: "sidecar"), [
            "--proxy", "envoy", "--ip", clientIP, "--namespace", "bookinfo", "--labels", "app=client", "--service-account", "client",
            "--xds", "\(istiodIP):\(securePort)", "--ca", "\(istiodIP):\(securePort)", "--root-cert", rootFile.path,
            "--token-file", agentToken.path, "--cert-ttl", "20s", "--admin-port", String(adminPort), "--envoy-bin", envoy.path,
        ])
        processes.append(sidecar)

        // 1. Envoy is connected to istiod's secure port (the only xDS address it was given), over TLS.
        let connected = await eventually { await Self.get(istiodIP, debugPort, "/debug/syncz")?.contains("sidecar~\(clientIP)~") == true }
        try #require(connected, "Envoy never connected over TLS\nistiod:\n\(istiod.output.suffix(3000))\nsidecar:\n\(sidecar.output.suffix(4000))")
        let stats = await Self.get(clientIP, adminPort, "/stats?filter=cluster.xds-grpc.ssl.handshake") ?? ""
        let handshakes = stats.split(separator: "\n").compactMap { $0.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }.first ?? 0
        #expect(handshakes >= 1, "the xds-grpc cluster completed TLS handshakes: \(stats)")

        // 2. Envoy loaded `default` and `ROOTCA` over SDS; /certs shows the SPIFFE identity.
        let secrets = await Self.get(clientIP, adminPort, "/config_dump?resource=dynamic_active_secrets") ?? ""
        #expect(secrets.contains("\"name\": \"default\"") && secrets.contains("\"name\": \"ROOTCA\""), "\(secrets.prefix(3000))")
        let certs = await Self.get(clientIP, adminPort, "/certs")
        let first = try #require(Self.workloadCertificates(certs).first, "no workload certificate in /certs: \(certs ?? "nil")")
        // From here on Envoy is known to be running. A restart would reset its admin request counter,
        // which only grows while the same process serves: it must grow by at least the polls below.
        let adminRequestsBefore = await Self.adminRequests(clientIP, adminPort)
        #expect(adminRequestsBefore > 0)
        #expect(first.uris == ["spiffe://cluster.local/ns/bookinfo/sa/client"])

        // 3. With a 20 s lifetime the agent renews at about 10 s: a new serial, same Envoy.
        var rotated: String?
        var polls = 0
        _ = await eventually(timeout: .seconds(45)) {
            polls += 1
            let serial = Self.workloadCertificates(await Self.get(clientIP, adminPort, "/certs")).first?.serial
            if let serial, serial != first.serial { rotated = serial }
            return rotated != nil
        }
        let newSerial = try #require(rotated, "no rotation seen in /certs\nsidecar:\n\(sidecar.output.suffix(4000))")
        print("rotation: serial \(first.serial) -> \(newSerial)")
        #expect(!sidecar.hasExited)
        let adminRequestsAfter = await Self.adminRequests(clientIP, adminPort)
        #expect(adminRequestsAfter >= adminRequestsBefore + polls,
                "Envoy was not restarted: admin requests \(adminRequestsBefore) → \(adminRequestsAfter) over \(polls) polls")
        // Still connected to istiod after the rotation.
        #expect(await eventually { await Self.get(istiodIP, debugPort, "/debug/syncz")?.contains("sidecar~\(clientIP)~") == true })
    }
}
