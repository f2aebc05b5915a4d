import Foundation
import MeshTestSupport
import Testing

/// The embedder's example (`Examples/stamp-proxy`): the Swift proxy built with two extra HTTP
/// filters and a network filter, configured by istiod through an EnvoyFilter with `TypedStruct`
/// configs. The request filter stamps a header and answers 403 itself for a deny header; the
/// response filter buffers the whole body, masks a word and fixes `content-length`; the network
/// filter closes a TCP connection that sends more than its quota.
@Suite(.serialized, .timeLimit(.minutes(3))) struct StampProxyEndToEndTests {
    static func mesh(echo: LoopbackMesh.Workload, bind: String, port: Int, tcpPort: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: web, namespace: shop}
        spec:
          hosts: [web.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(echo.port)}]
          endpoints: [{address: \(echo.ip)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ledger, namespace: shop}
        spec:
          hosts: [ledger.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: \(tcpPort), name: tcp, protocol: TCP, targetPort: \(echo.port)}]
          endpoints: [{address: \(echo.ip)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: shop}
        spec:
          egress:
          - port: {number: \(port), protocol: HTTP_PROXY, name: egress}
            bind: \(bind)
            captureMode: NONE
            hosts: ["./*"]
          - port: {number: \(tcpPort), protocol: TCP, name: tcp-ledger}
            bind: \(bind)
            captureMode: NONE
            hosts: ["./ledger.shop.svc.cluster.local"]
        ---
        apiVersion: networking.istio.io/v1alpha3
        kind: EnvoyFilter
        metadata: {name: example-filters, namespace: shop}
        spec:
          configPatches:
        \(insertBeforeRouter("example.request_stamp", type: "example.RequestStamp", value: "{header: x-stamp, value: swiftmesh, deny_header: x-deny}"))
        \(insertBeforeRouter("example.response_redact", type: "example.ResponseRedact", value: "{word: secret}"))
          - applyTo: NETWORK_FILTER
            match:
              context: SIDECAR_OUTBOUND
              listener:
                portNumber: \(tcpPort)
                filterChain:
                  filter: {name: envoy.filters.network.tcp_proxy}
            patch:
              operation: INSERT_BEFORE
              value:
                name: example.connection_quota
                typed_config:
                  "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                  type_url: type.googleapis.com/example.ConnectionQuota
                  value: {max_bytes: 200}
        """
    }

    /// An EnvoyFilter patch inserting a `TypedStruct`-configured HTTP filter before the router.
    static func insertBeforeRouter(_ name: String, type: String, value: String) -> String {
        """
          - applyTo: HTTP_FILTER
            match:
              context: SIDECAR_OUTBOUND
              listener:
                filterChain:
                  filter:
                    name: envoy.filters.network.http_connection_manager
                    subFilter: {name: envoy.filters.http.router}
            patch:
              operation: INSERT_BEFORE
              value:
                name: \(name)
                typed_config:
                  "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                  type_url: type.googleapis.com/\(type)
                  value: \(value)
        """
    }

    @Test func theExampleFiltersStampDenyAndRedact() async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: .swift) else { return }
        defer { mesh.stop() }
        let echo = try await mesh.startEcho("web")
        let ip = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: ip)
        let adminPort = try LoopbackNetwork.freePort(on: ip)
        let tcpPort = try LoopbackNetwork.freePort(on: ip)
        try mesh.write("mesh.yaml", Self.mesh(echo: echo, bind: ip, port: port, tcpPort: tcpPort))
        let proxy = try ChildProcess(ExampleBinary.url(named: "stamp-proxy"), [
            "--node-id", "sidecar~\(ip)~app.shop~shop.svc.cluster.local", "--xds", "\(mesh.controlIP):\(mesh.xdsPort)",
            "--admin", "\(ip):\(adminPort)",
        ])
        defer { ChildProcess.terminate([proxy]) }
        let url = "http://web.shop.svc.cluster.local:9080"
        var stamped = LoopbackMesh.Response(status: -1, headers: [], body: "", error: nil)
        let served = await LoopbackMesh.eventually {
            stamped = await LoopbackMesh.request(host: ip, port: port, path: "\(url)/public/secret-plan", authority: "web.shop.svc.cluster.local:9080")
            return stamped.status == 200
        }
        try #require(served, "stamp-proxy never served: \(stamped.status) \(stamped.body.prefix(300))\n\(proxy.output.suffix(3000))")
        print("stamp-proxy: asked a stamp and the word masked, measured x-stamp \(stamped.echoHeaders["x-stamp"] ?? "-"), "
              + "x-redacted \(stamped.header("x-redacted") ?? "-"), body path \(stamped.echoPath ?? "-")")
        #expect(stamped.echoHeaders["x-stamp"] == "swiftmesh")
        #expect(stamped.header("x-stamp-upstream-us") != nil)
        // The echo's JSON repeats the path: every "secret" in it is masked, the body still parses,
        // and its length is what content-length says.
        #expect(stamped.echoPath == "/public/******-plan", "\(stamped.body.prefix(300))")
        #expect(!stamped.body.contains("secret") && (stamped.header("x-redacted").flatMap(Int.init) ?? 0) >= 1)
        #expect(stamped.header("content-length") == String(stamped.body.utf8.count))

        let denied = await LoopbackMesh.request(host: ip, port: port, path: "\(url)/x", authority: "web.shop.svc.cluster.local:9080", headers: [("x-deny", "1")])
        #expect(denied.status == 403 && denied.body == "denied by request_stamp")

        // The network filter in front of tcp_proxy: a connection within its 200-byte quota reaches
        // the workload (an HTTP exchange over plain TCP); one that sends more is closed first.
        var small: HTTP1TestResponse?
        _ = await LoopbackMesh.eventually {
            small = try? Self.exchange(ip: ip, port: tcpPort, body: [])
            return small?.status == 200
        }
        let large = Result { try Self.exchange(ip: ip, port: tcpPort, body: Array(repeating: UInt8(ascii: "x"), count: 1000)) }
        let closed = await LoopbackMesh.request(host: ip, port: adminPort, path: "/stats?filter=connection_quota").body
        print("stamp-proxy network filter: asked a 200-byte quota, measured \(small?.status ?? 0) within it, "
              + "\((try? large.get()).map { "HTTP \($0.status)" } ?? "the connection closed") past it; stats: \(closed.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(small?.status == 200)
        #expect((try? large.get()) == nil, "a connection past its quota must be closed before it is answered")
        #expect(closed.contains("example.connection_quota.closed: 1"), "\(closed)")
    }

    /// One HTTP/1.1 exchange over a plain TCP connection (through the TCP proxy listener).
    static func exchange(ip: String, port: Int, body: [UInt8]) throws -> HTTP1TestResponse {
        let connection = try TCPTestConnection(host: ip, port: port, timeout: .seconds(5))
        try connection.sendHTTP1Request(method: body.isEmpty ? "GET" : "POST", path: "/ledger", host: "ledger.shop.svc.cluster.local",
                                        headers: [("connection", "close")], body: body)
        return try connection.readHTTP1Response()
    }
}
