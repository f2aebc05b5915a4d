import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshTestSupport
import Synchronization
import Testing

/// gRPC through a sidecar, with grpc-swift-2 on both ends: the client calls the sidecar's
/// `GRPC` egress listener (h2c), the sidecar routes to a `GRPC` service port over HTTP/2. All four
/// kinds of call, with initial and trailing metadata, a failure status, and a bidirectional stream
/// where each reply must arrive before the next request is sent (nothing may be buffered in
/// either direction), and the proxy's own reply (a fault abort) as a gRPC status.
/// Parameterised by data plane: Envoy and the Swift proxy must behave alike.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GRPCEndToEndTests {
    /// UTF-8 text messages, so the test needs no generated code.
    struct TextCoder: MessageSerializer, MessageDeserializer {
        typealias Message = String
        func serialize<Bytes: GRPCContiguousBytes>(_ message: String) throws -> Bytes { Bytes(Array(message.utf8)) }
        func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> String {
            bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    static let service = "swiftmesh.test.Echo"
    static func method(_ name: String) -> MethodDescriptor { MethodDescriptor(fullyQualifiedService: service, method: name) }

    /// `Get` (unary), `Expand` (server streaming: one message per word), `Collect` (client
    /// streaming: joins what it got), `Chat` (bidirectional: answers each message as it arrives),
    /// `Fail` (NOT_FOUND with metadata).
    struct EchoService: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            let coder = TextCoder()
            router.registerHandler(forMethod: GRPCEndToEndTests.method("Get"), deserializer: coder, serializer: coder) { request, _ in
                var text = ""
                for try await message in request.messages { text = message }
                let reply = "echo: \(text)"
                return StreamingServerResponse(metadata: ["x-server": "echo"]) { writer in
                    try await writer.write(reply)
                    return ["x-trailer": "done"]
                }
            }
            router.registerHandler(forMethod: GRPCEndToEndTests.method("Expand"), deserializer: coder, serializer: coder) { request, _ in
                var text = ""
                for try await message in request.messages { text = message }
                let words = text.split(separator: " ").map(String.init)
                return StreamingServerResponse { writer in
                    for word in words { try await writer.write(word) }
                    return ["x-count": "\(words.count)"]
                }
            }
            router.registerHandler(forMethod: GRPCEndToEndTests.method("Collect"), deserializer: coder, serializer: coder) { request, _ in
                var parts: [String] = []
                for try await message in request.messages { parts.append(message) }
                let joined = parts.joined(separator: "+")
                return StreamingServerResponse { writer in
                    try await writer.write(joined)
                    return [:]
                }
            }
            router.registerHandler(forMethod: GRPCEndToEndTests.method("Chat"), deserializer: coder, serializer: coder) { request, _ in
                StreamingServerResponse { writer in
                    for try await message in request.messages { try await writer.write("re: \(message)") }
                    return ["x-chat": "over"]
                }
            }
            router.registerHandler(forMethod: GRPCEndToEndTests.method("Fail"), deserializer: coder, serializer: coder) { (_: StreamingServerRequest<String>, _) -> StreamingServerResponse<String> in
                StreamingServerResponse(error: RPCError(code: .notFound, message: "no such echo", metadata: ["x-reason": "test"]))
            }
        }
    }

    static func mesh(serverIP: String, serverPort: Int, clientIP: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: echo, namespace: shop}
        spec:
          hosts: [echo.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 7070, name: grpc, protocol: GRPC, targetPort: \(serverPort)}]
          endpoints: [{address: \(serverIP)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: echo, namespace: shop}
        spec:
          hosts: [echo.shop.svc.cluster.local]
          http:
          - match: [{uri: {exact: /\(service)/Denied}}]
            fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
            route: [{destination: {host: echo.shop.svc.cluster.local}}]
          - route: [{destination: {host: echo.shop.svc.cluster.local}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: client, namespace: shop}
        spec:
          workloadSelector: {labels: {app: client}}
          egress:
          - port: {number: 7070, protocol: GRPC, name: grpc}
            bind: \(clientIP)
            captureMode: NONE
            hosts: ["./*"]
        """
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func everyKindOfCallWithMetadataAndStatusGoesThroughTheSidecar(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let serverIP = LoopbackAddresses.next()
        let serverTransport = HTTP2ServerTransport.Posix(address: .ipv4(host: serverIP, port: 0), transportSecurity: .plaintext)
        let server = GRPCServer(transport: serverTransport, services: [EchoService()])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            defer { server.beginGracefulShutdown() }
            let serverPort = try #require(try await serverTransport.listeningAddress.ipv4?.port)
            let clientIP = LoopbackAddresses.next()
            try mesh.write("mesh.yaml", Self.mesh(serverIP: serverIP, serverPort: serverPort, clientIP: clientIP))
            let proxy = try await mesh.startProxy(namespace: "shop", labels: ["app": "client"], ip: clientIP)
            #expect(await mesh.waitUntilReady(proxy), "the \(dataPlane) proxy never became ready")
            #expect(await LoopbackNetwork.waitUntilAccepting(host: clientIP, port: 7070, timeout: .seconds(30)))

            var config = HTTP2ClientTransport.Posix.Config.defaults
            config.http2.authority = "echo.shop.svc.cluster.local:7070"
            let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
                target: .ipv4(address: clientIP, port: 7070), transportSecurity: .plaintext, config: config))
            group.addTask { try await client.runConnections() }
            defer { client.beginGracefulShutdown() }
            try await Self.exercise(client, dataPlane: dataPlane)

            // Istio's gRPC message counters (the Swift proxy runs Istio's stats filter; upstream
            // Envoy has none): the successful calls sent 1 + 1 + 3 + 5 messages and got 1 + 4 + 1 + 5.
            if dataPlane == .swift {
                let text = await mesh.admin(proxy, "/stats/prometheus") ?? ""
                func total(_ name: String) -> Int {
                    text.split(separator: "\n").filter {
                        $0.hasPrefix(name + "{") && $0.contains("response_code=\"200\"") && $0.contains("grpc_response_status=\"0\"")
                    }.compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
                }
                let sent = total("istio_request_messages_total"), received = total("istio_response_messages_total")
                print("gRPC swift messages: asked 10 request and 11 response messages, measured \(sent) and \(received)")
                #expect(sent == 10 && received == 11, "\(text.split(separator: "\n").filter { $0.contains("messages_total") })")
            }

            // A fault abort (the proxy's own local reply) reaches a gRPC client as a gRPC status
            // (403 → PERMISSION_DENIED, Envoy's mapping) with the reply's text as the message.
            do {
                _ = try await client.unary(request: ClientRequest(message: "x"), descriptor: Self.method("Denied"), serializer: TextCoder(),
                                           deserializer: TextCoder(), options: .defaults) { try $0.message }
                Issue.record("an aborted call succeeded through the \(dataPlane) proxy")
            } catch let error as RPCError {
                print("gRPC \(dataPlane) aborted: \(error.code) \(error.message)")
                #expect(error.code == .permissionDenied && error.message == "fault filter abort", "\(error)")
            }
        }
    }

    static func exercise(_ client: GRPCClient<HTTP2ClientTransport.Posix>, dataPlane: LoopbackMesh.DataPlane) async throws {
        let coder = TextCoder()
        // Unary, with initial and trailing metadata (the first call retries while routes warm up).
        var unary: (message: String, server: String?, trailer: String?)?
        _ = await LoopbackMesh.eventually {
            unary = try? await client.unary(request: ClientRequest(message: "hi"), descriptor: method("Get"), serializer: coder,
                                            deserializer: coder, options: .defaults) { response in
                (try response.message, response.metadata["x-server"].first { _ in true }.map { "\($0)" },
                 response.trailingMetadata["x-trailer"].first { _ in true }.map { "\($0)" })
            }
            return unary != nil
        }
        print("gRPC \(dataPlane) unary: \(String(describing: unary))")
        #expect(unary?.message == "echo: hi")
        #expect(unary?.server == "echo" && unary?.trailer == "done")

        // Server streaming: several messages, then the trailers.
        let expanded = try await client.serverStreaming(
            request: ClientRequest(message: "one two three four"), descriptor: method("Expand"), serializer: coder, deserializer: coder,
            options: .defaults) { response in
            var words: [String] = []
            var count: String?
            for try await part in response.bodyParts {
                switch part {
                case .message(let word): words.append(word)
                case .trailingMetadata(let trailers): count = trailers["x-count"].first { _ in true }.map { "\($0)" }
                }
            }
            return (words, count)
        }
        #expect(expanded.0 == ["one", "two", "three", "four"] && expanded.1 == "4")

        // Client streaming.
        let collected = try await client.clientStreaming(
            request: StreamingClientRequest { writer in for part in ["a", "b", "c"] { try await writer.write(part) } },
            descriptor: method("Collect"), serializer: coder, deserializer: coder, options: .defaults) { try $0.message }
        #expect(collected == "a+b+c")

        // Bidirectional: each request is sent only after the reply to the previous one arrived.
        let turn = AsyncStream.makeStream(of: Void.self)
        let replies = try await client.bidirectionalStreaming(
            request: StreamingClientRequest { writer in
                var iterator = turn.stream.makeAsyncIterator()
                for index in 0..<5 {
                    try await writer.write("m\(index)")
                    guard await iterator.next() != nil else { return }
                }
            },
            descriptor: method("Chat"), serializer: coder, deserializer: coder, options: .defaults) { response in
            var received: [String] = []
            for try await message in response.messages {
                received.append(message)
                turn.continuation.yield()
            }
            return received
        }
        turn.continuation.finish()
        #expect(replies == (0..<5).map { "re: m\($0)" })

        // A failure status with its message and metadata.
        do {
            _ = try await client.unary(request: ClientRequest(message: "x"), descriptor: method("Fail"), serializer: coder,
                                       deserializer: coder, options: .defaults) { try $0.message }
            Issue.record("Fail succeeded through the \(dataPlane) proxy")
        } catch let error as RPCError {
            #expect(error.code == .notFound && error.message == "no such echo", "\(error)")
            #expect(error.metadata["x-reason"].contains { "\($0)" == "test" }, "\(error.metadata)")
        }
    }
}
