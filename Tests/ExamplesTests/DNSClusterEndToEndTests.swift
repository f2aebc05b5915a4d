import Foundation
import MeshTestSupport
import Testing

/// A ServiceEntry with `resolution: DNS` (a `STRICT_DNS` cluster) whose endpoint is the hostname
/// `localhost`, reached through a sidecar's HTTP_PROXY egress listener — real Envoy and the Swift
/// proxy, the same test body. The cluster's host must be the resolved `127.0.0.1`, keeping
/// `localhost` as its hostname, as Envoy's `/clusters` shows it.
@Suite(.serialized, .timeLimit(.minutes(4))) struct DNSClusterEndToEndTests {
    static let host = "dns-echo.example.com"

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func dnsServiceEntryResolvesLocalhost(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let echo = try await mesh.startEcho("dns-echo", ip: "127.0.0.1")
        let clientIP = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("dns.yaml", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: dns-echo, namespace: bookinfo}
            spec:
              hosts: [\(Self.host)]
              location: MESH_EXTERNAL
              resolution: DNS
              ports: [{number: 9080, name: http, protocol: HTTP}]
              endpoints: [{address: localhost, ports: {http: \(echo.port)}}]
            ---
            \(MeshYAML.egressSidecar(namespace: "bookinfo", bind: clientIP, port: proxyPort))
            """)
        let client = try await mesh.startProxy(namespace: "bookinfo", labels: ["app": "client"], serviceAccount: "client", ip: clientIP)
        #expect(await mesh.waitUntilReady(client), "the client's proxy never became ready\n\(mesh.diagnostics)")

        func get(_ path: String) async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://\(Self.host):9080\(path)")
        }
        let answered = await LoopbackMesh.eventually { await get("/").status == 200 }
        #expect(answered, "no answer through the DNS cluster\n\(mesh.diagnostics)")

        let tally = await LoopbackMesh.tally(10, key: { $0.echoName ?? "status \($0.status)" }) { await get("/dns") }
        print("asked: 10 requests to \(Self.host) (endpoint localhost:\(echo.port)); answered: \(tally)")
        #expect(tally == ["dns-echo": 10])

        // The cluster's host is the resolved address, with the DNS name as its hostname.
        let cluster = "outbound|9080||\(Self.host)"
        let resolvedHost = "\(cluster)::127.0.0.1:\(echo.port)::hostname::localhost"
        var clusters = ""
        let resolved = await LoopbackMesh.eventually(timeout: .seconds(15)) {
            clusters = await mesh.admin(client, "/clusters") ?? ""
            return clusters.contains(resolvedHost)
        }
        let lines = clusters.split(separator: "\n").filter { $0.hasPrefix(cluster + "::") && $0.hasSuffix("::hostname::localhost") }
        print("/clusters: \(lines)")
        #expect(resolved, "\(resolvedHost) missing from /clusters:\n\(clusters)")
        #expect(!clusters.contains("\(cluster)::localhost:"), "the hostname itself is a host")
    }
}
