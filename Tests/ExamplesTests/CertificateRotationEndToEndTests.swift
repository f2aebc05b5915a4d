import Foundation
import MeshTestSupport
import Synchronization
import Testing

/// Workload certificate rotation under load, on both data planes (Envoy, and the Swift proxy fed
/// in-process by its agent): two sidecars with istiod certificates of a
/// short lifetime (`--cert-ttl 24s`, so the agents renew at half-life, ±1 % jitter, about 12 s
/// after issue) carry steady traffic (a request every 100 ms on one keep-alive connection to the
/// client's sidecar, mutual TLS STRICT between the sidecars) across both renewals; every request
/// must succeed, and the proxy's `/certs` must show each sidecar's certificate replaced.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CertificateRotationEndToEndTests {
    /// Set once the traffic loop should stop.
    final class StopFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    struct TrafficResult: Sendable {
        var succeeded = 0
        var failed = 0
        var connections = 0
        var failures: [String] = []
    }

    /// The serial numbers of the workload certificates (SPIFFE URI SAN) in a sidecar's `/certs`.
    static func workloadSerials(_ certs: String?) -> Set<String> {
        guard let data = certs?.data(using: .utf8),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let contexts = root["certificates"] as? [[String: Any]] else { return [] }
        var serials = Set<String>()
        for context in contexts {
            for certificate in context["cert_chain"] as? [[String: Any]] ?? [] {
                let sans = certificate["subject_alt_names"] as? [[String: Any]] ?? []
                guard sans.contains(where: { ($0["uri"] as? String)?.hasPrefix("spiffe://") == true }),
                      let serial = certificate["serial_number"] as? String else { continue }
                serials.insert(serial)
            }
        }
        return serials
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func certificatesRotateUnderSteadyTrafficWithoutFailures(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let (mesh, ca) = try await LoopbackMesh.startWithCA(namespace: MutualTLSEndToEndTests.namespace, dataPlane: dataPlane) else { return }
        defer {
            mesh.stop()
            ca.remove()
        }
        let serverIP = LoopbackAddresses.next(), clientIP = LoopbackAddresses.next()
        let echo = try await mesh.startEcho("reviews", ip: serverIP)
        let ingressPort = try LoopbackNetwork.freePort(on: serverIP)
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", MutualTLSEndToEndTests.services(
            serverIP: serverIP, ingressPort: ingressPort, echoPort: echo.port, clientIP: clientIP, proxyPort: proxyPort))
        try mesh.write("peer-authentication.yaml", MutualTLSEndToEndTests.peerAuthentication("STRICT"))
        let tlsMode = ["security.istio.io/tlsMode": "istio"]
        let ttl = ["--cert-ttl", "24s"]
        let server = try await mesh.startProxy(
            namespace: MutualTLSEndToEndTests.namespace, labels: tlsMode.merging(["app": "reviews"]) { a, _ in a }, serviceAccount: "reviews",
            ip: serverIP, arguments: Self.secureFlags(ca) + ttl)
        let client = try await mesh.startProxy(
            namespace: MutualTLSEndToEndTests.namespace, labels: tlsMode.merging(["app": "client"]) { a, _ in a }, serviceAccount: "client",
            ip: clientIP, arguments: Self.secureFlags(ca) + ttl)
        let ready = await mesh.waitUntilReady(server, timeout: .seconds(60))
        let clientReady = await mesh.waitUntilReady(client, timeout: .seconds(60))
        try #require(ready && clientReady, "\(mesh.diagnostics)")
        let url = "http://reviews.bookinfo.svc.cluster.local:9080/hello"
        let warm = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            await mesh.requestThroughProxy(client, port: proxyPort, url: url).status == 200
        }
        try #require(warm, "\(mesh.diagnostics)")

        let serverBefore = Self.workloadSerials(await mesh.admin(server, "/certs"))
        let clientBefore = Self.workloadSerials(await mesh.admin(client, "/certs"))
        try #require(!serverBefore.isEmpty && !clientBefore.isEmpty, "no workload certificate in /certs")

        // Steady traffic on one keep-alive connection, off the cooperative pool.
        let stop = StopFlag()
        let trafficStart = ContinuousClock.now
        let traffic = Task {
            await offPool { () -> TrafficResult in
                var result = TrafficResult()
                var connection: TCPTestConnection?
                let deadline = ContinuousClock.now + .seconds(45)
                while !stop.value.load(ordering: .relaxed), ContinuousClock.now < deadline {
                    do {
                        if connection == nil {
                            connection = try TCPTestConnection(host: clientIP, port: proxyPort, timeout: .seconds(5))
                            result.connections += 1
                        }
                        try connection!.sendHTTP1Request(path: url, host: "reviews.bookinfo.svc.cluster.local:9080")
                        let response = try connection!.readHTTP1Response()
                        if response.status == 200 {
                            result.succeeded += 1
                        } else {
                            result.failed += 1
                            result.failures.append("HTTP \(response.status): \(response.text.prefix(200))")
                        }
                        if response.header("connection")?.lowercased() == "close" { connection = nil }
                    } catch {
                        result.failed += 1
                        result.failures.append("\(error)")
                        connection = nil
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return result
            }
        }

        // Both sidecars' certificates change while the traffic runs (bounded: 30 s).
        var serverAfter = serverBefore, clientAfter = clientBefore
        var serverRotatedAt: Duration?, clientRotatedAt: Duration?
        _ = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            if serverRotatedAt == nil {
                serverAfter = Self.workloadSerials(await mesh.admin(server, "/certs"))
                if !serverAfter.isEmpty, serverAfter.isDisjoint(with: serverBefore) { serverRotatedAt = ContinuousClock.now - trafficStart }
            }
            if clientRotatedAt == nil {
                clientAfter = Self.workloadSerials(await mesh.admin(client, "/certs"))
                if !clientAfter.isEmpty, clientAfter.isDisjoint(with: clientBefore) { clientRotatedAt = ContinuousClock.now - trafficStart }
            }
            return serverRotatedAt != nil && clientRotatedAt != nil
        }
        // Keep the traffic going a little past the last renewal.
        try await Task.sleep(for: .seconds(2))
        stop.value.store(true, ordering: .relaxed)
        let result = await traffic.value
        let elapsed = ContinuousClock.now - trafficStart
        // New connections after the renewals: concurrent requests make the client's sidecar open
        // more upstream connections, whose handshakes use both sidecars' new certificates.
        let handshakesBefore = await mesh.stat(client, "cluster.outbound|9080||reviews.bookinfo.svc.cluster.local.ssl.handshake") ?? -1
        let statuses = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<6 { group.addTask { await mesh.requestThroughProxy(client, port: proxyPort, url: url.replacingOccurrences(of: "/hello", with: "/delay/300")).status } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let handshakes = await mesh.stat(client, "cluster.outbound|9080||reviews.bookinfo.svc.cluster.local.ssl.handshake") ?? -1
        print("after the renewals: 6 concurrent requests answered \(statuses.sorted()); upstream TLS handshakes \(handshakesBefore) → \(handshakes)")
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(handshakes > handshakesBefore, "new upstream connections were made with the renewed certificates")
        let issued = (server.process.output + client.process.output).components(separatedBy: "workload certificate issued").count - 1
        print("certificate rotation under load: \(result.succeeded) ok, \(result.failed) failed over \(elapsed) on \(result.connections) client connection(s); server serial \(serverBefore.sorted()) → \(serverAfter.sorted()) at \(serverRotatedAt.map { "\($0)" } ?? "never"), client serial \(clientBefore.sorted()) → \(clientAfter.sorted()) at \(clientRotatedAt.map { "\($0)" } ?? "never"); certificates issued by the agents: \(issued); upstream TLS handshakes: \(handshakes)")
        #expect(serverRotatedAt != nil && clientRotatedAt != nil, "\(mesh.diagnostics)")
        #expect(result.failed == 0, "\(result.failures.prefix(5))")
        // How many depends on the machine's load (48 seen with the whole suite running on 2 cores).
        #expect(result.succeeded >= 10, "steady traffic ran")
        #expect(result.connections == 1, "the keep-alive connection lasted")
        #expect(issued >= 4, "each agent issued at least twice")
    }

    static func secureFlags(_ ca: LoopbackMesh.MeshCA) -> [String] {
        ["--xds", ca.secureAddress, "--ca", ca.secureAddress, "--root-cert", ca.rootCert.path,
         "--token-file", ca.agentToken.path]
    }
}
