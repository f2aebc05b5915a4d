import Foundation
import MeshTestSupport
import Testing

/// WebSocket through a sidecar driven by istiod — real Envoy and the Swift proxy, one
/// parameterised test. Istio's connection managers allow the `websocket` upgrade: the client's
/// handshake reaches an echo-server's `/ws`, its `101` (with the `Sec-WebSocket-Accept` the key
/// asks for) comes back, and the connection becomes a byte pipe: masked frames of several sizes
/// go out and come back, a ping gets its pong, the closing handshake closes both sides. An
/// upgrade nobody allowed is refused with 403.
@Suite(.serialized, .timeLimit(.minutes(4))) struct WebSocketEndToEndTests {
    static let namespace = "chat"
    static let host = "echo.chat.svc.cluster.local"

    static func config(_ echo: LoopbackMesh.Workload, bind: String, proxyPort: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: echo, namespace: \(namespace)}
        spec:
          hosts: [\(host)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(echo.port)}]
          endpoints: [{address: \(echo.ip)}]
        ---
        \(MeshYAML.egressSidecar(namespace: namespace, bind: bind, port: proxyPort))
        """
    }

    /// One client frame (FIN set, masked as RFC 6455 requires of clients).
    static func clientFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            precondition(payload.count <= 0xFFFF)
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index % 4]) }
        return frame
    }

    /// Reads one server frame (servers do not mask); returns its opcode and payload.
    static func readFrame(_ connection: TCPTestConnection) throws -> (opcode: UInt8, payload: [UInt8]) {
        let header = try connection.read(count: 2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let extended = try connection.read(count: 2)
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            length = try connection.read(count: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        let mask = header[1] & 0x80 != 0 ? try connection.read(count: 4) : nil
        var payload = try connection.read(count: length)
        if let mask { for index in payload.indices { payload[index] ^= mask[index % 4] } }
        return (header[0] & 0x0F, payload)
    }

    struct Session: Sendable {
        var status: Int
        var accept: String?
        var upgrade: String?
        /// Payload sizes that came back unchanged, in order.
        var echoed: [Int] = []
        var pong = false
        var closeCode: Int?
        var peerClosed = false
        var error: String?
    }

    /// The RFC 6455 example key and the accept value it implies.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let expectedAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    /// A whole WebSocket session through the proxy's HTTP_PROXY listener.
    static func session(proxy: String, port: Int, sizes: [Int]) async -> Session {
        await offPool {
            var session = Session(status: -1)
            do {
                let connection = try TCPTestConnection(host: proxy, port: port)
                try connection.sendHTTP1Request(path: "http://\(host):9080/ws", host: "\(host):9080", headers: [
                    ("connection", "Upgrade"), ("upgrade", "websocket"),
                    ("sec-websocket-key", key), ("sec-websocket-version", "13"),
                ])
                let response = try connection.readHTTP1Response()
                session.status = response.status
                session.accept = response.header("sec-websocket-accept")
                session.upgrade = response.header("upgrade")
                guard response.status == 101 else { return session }
                for size in sizes {
                    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
                    let opcode: UInt8 = size % 2 == 0 ? 0x2 : 0x1
                    let text = opcode == 0x1 ? Array(String(repeating: "w", count: size).utf8) : payload
                    try connection.write(clientFrame(opcode: opcode, text))
                    let frame = try readFrame(connection)
                    if frame.opcode == opcode && frame.payload == text { session.echoed.append(size) }
                }
                try connection.write(clientFrame(opcode: 0x9, Array("are you there".utf8)))
                let pong = try readFrame(connection)
                session.pong = pong.opcode == 0xA && pong.payload == Array("are you there".utf8)
                try connection.write(clientFrame(opcode: 0x8, [0x03, 0xE8] + Array("bye".utf8)))
                let close = try readFrame(connection)
                if close.opcode == 0x8, close.payload.count >= 2 { session.closeCode = Int(close.payload[0]) << 8 | Int(close.payload[1]) }
                session.peerClosed = connection.peerClosed()
            } catch {
                session.error = "\(error)"
            }
            return session
        }
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func webSocketThroughTheSidecar(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let echo = try await mesh.startEcho("ws-echo")
        let clientIP = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("mesh.yaml", Self.config(echo, bind: clientIP, proxyPort: proxyPort))
        let client = try await mesh.startProxy(namespace: Self.namespace, labels: ["app": "client"], ip: clientIP)
        let ready = await mesh.waitUntilReady(client)
        try #require(ready, "\(mesh.diagnostics)")
        let answering = await LoopbackMesh.eventually {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://\(Self.host):9080/").status == 200
        }
        try #require(answering, "no HTTP through the sidecar\n\(mesh.diagnostics)")

        let sizes = [5, 125, 126, 4000, 16000]
        let session = await Self.session(proxy: clientIP, port: proxyPort, sizes: sizes)
        print("websocket: asked 101 with Sec-WebSocket-Accept \(Self.expectedAccept), \(sizes.count) frames of \(sizes) bytes echoed, a pong and the close handshake; measured \(session.status) accept \(session.accept ?? "-"), echoed \(session.echoed), pong \(session.pong), close code \(session.closeCode.map(String.init) ?? "-"), closed \(session.peerClosed)\(session.error.map { ", error \($0)" } ?? "")")
        #expect(session.status == 101, "\(session)\n\(mesh.diagnostics)")
        #expect(session.accept == Self.expectedAccept && session.upgrade?.lowercased() == "websocket")
        #expect(session.echoed == sizes && session.pong && session.closeCode == 1000)
        #expect(session.peerClosed, "the closing handshake closes the client's connection through the proxy")

        // A plain request still works on a new connection, and the upgrade was counted.
        let after = await mesh.requestThroughProxy(client, port: proxyPort, url: "http://\(Self.host):9080/after")
        #expect(after.status == 200 && after.echoPath == "/after")
        let upgrades = await mesh.stat(client, "http.outbound_\(clientIP)_\(proxyPort).downstream_cx_upgrades_total")
        #expect((upgrades ?? 0) >= 1, "downstream_cx_upgrades_total \(upgrades.map(String.init) ?? "missing")")

        // An upgrade type no connection manager or route allows is refused.
        let refused = await mesh.requestThroughProxy(
            client, port: proxyPort, url: "http://\(Self.host):9080/ws",
            headers: [("connection", "Upgrade"), ("upgrade", "spdy/3")])
        print("upgrade spdy/3: asked 403, measured \(refused.status)")
        #expect(refused.status == 403)
    }
}
