@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Test support: sits at the head of an `EmbeddedChannel` in front of ``DownstreamHTTP1Handler``
/// and turns the bytes the handler writes back into response parts with NIO's response decoder,
/// so tests read `HTTPServerResponsePart`s (and so every response they read was parsed from the
/// wire). The request heads written inbound tell the decoder which responses answer `HEAD`.
final class ResponseBytesDecoder: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = HTTPServerResponsePart

    private let decoder = EmbeddedChannel(handler: ByteToMessageHandler(
        HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))

    /// Adds a decoder and `handler` to `channel`.
    static func install(_ handler: DownstreamHTTP1Handler, on channel: EmbeddedChannel) throws {
        try channel.pipeline.syncOperations.addHandlers([ResponseBytesDecoder(), handler])
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            // The decoder learns the request method from the request it sees written.
            _ = try? decoder.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: head.version, method: head.method, uri: head.uri)))
            _ = try? decoder.readOutbound(as: HTTPClientRequestPart.self)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let bytes) = unwrapOutboundIn(data) else {
            Issue.record("the connection manager wrote a file region")
            return
        }
        do {
            try decoder.writeInbound(bytes)
            while let part = try decoder.readInbound(as: HTTPClientResponsePart.self) {
                switch part {
                case .head(let head): context.write(wrapOutboundOut(.head(head)), promise: nil)
                case .body(let body): context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                case .end(let trailers): context.write(wrapOutboundOut(.end(trailers)), promise: nil)
                }
            }
            promise?.succeed()
        } catch {
            Issue.record("the connection manager wrote a response that does not parse: \(error)")
            promise?.fail(error)
        }
    }
}
