import NIOCore
import NIOHTTP1
import NIOWebSocket

/// `/ws`: a WebSocket echo (RFC 6455) on any request of an HTTP/1.1 connection, not only its
/// first (a proxy may send the upgrade on a reused keep-alive connection). The handshake is
/// answered with `101 Switching Protocols` and `Sec-WebSocket-Accept`; then every text or binary
/// frame comes back unchanged, a ping gets its pong and a close is answered with a close.
enum WebSocketEcho {
    static let upgrader = NIOWebSocketServerUpgrader(
        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
        upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(WebSocketEchoHandler()) }
        })

    /// Whether `head` asks for the WebSocket echo: `GET /ws` with `upgrade: websocket`.
    static func isRequest(_ head: HTTPRequestHead) -> Bool {
        guard head.version.major == 1, head.method == .GET else { return false }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        return path == "/ws" && head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    /// Answers the handshake and turns the connection's pipeline from HTTP/1.1 into WebSocket frames.
    /// A handshake NIO refuses (no key, version not 13) gets 400 and the connection closes.
    static func upgrade(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let channel = context.channel
        upgrader.buildUpgradeResponse(channel: channel, upgradeRequest: head, initialResponseHeaders: HTTPHeaders())
            .assumeIsolated()
            .whenComplete { result in
                let pipeline = channel.pipeline.syncOperations
                switch result {
                case .success(let headers):
                    let response = HTTPResponseHead(version: head.version, status: .switchingProtocols, headers: headers)
                    channel.writeAndFlush(HTTPServerResponsePart.head(response), promise: nil)
                    if let handler = try? pipeline.handler(type: HTTPServerPipelineHandler.self) { pipeline.removeHandler(handler, promise: nil) }
                    if let handler = try? pipeline.handler(type: HTTPServerProtocolErrorHandler.self) { pipeline.removeHandler(handler, promise: nil) }
                    if let handler = try? pipeline.handler(type: NIOHTTPResponseHeadersValidator.self) { pipeline.removeHandler(handler, promise: nil) }
                    if let handler = try? pipeline.handler(type: HTTPResponseEncoder.self) { pipeline.removeHandler(handler, promise: nil) }
                    if let handler = try? pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) { pipeline.removeHandler(handler, promise: nil) }
                    // The frame handlers go after this one, which then leaves.
                    upgrader.upgrade(context: context, upgradeRequest: head).assumeIsolated().whenComplete { _ in
                        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                        channel.read()
                    }
                case .failure:
                    var headers = HTTPHeaders([("content-length", "0"), ("connection", "close")])
                    headers.add(name: "x-echo-websocket", value: "refused")
                    channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .badRequest, headers: headers)), promise: nil)
                    channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
                }
            }
    }
}

/// Echoes WebSocket data frames; answers pings and the closing handshake.
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            context.write(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)), promise: nil)
        case .ping:
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            guard !closing else { context.close(promise: nil); return }
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }
}
