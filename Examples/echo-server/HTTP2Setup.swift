import NIOCore
import NIOHTTP1
import NIOHTTP2

extension ChannelPipeline.SynchronousOperations {
    /// Installs the server side of HTTP/2 (prior knowledge): each stream is translated to HTTP/1
    /// request parts and served by its own ``EchoHandler``; an ``HTTP2Quiescer`` sends GOAWAY on
    /// shutdown and closes the connection when its last stream ends.
    func configureEchoHTTP2(responder: EchoResponder) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 65536),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        _ = try configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: connection,
            streamConfiguration: stream,
            inboundStreamInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try sync.addHandler(EchoHandler(responder: responder))
                }
            }
        )
        try addHandler(HTTP2Quiescer())
    }
}

/// Graceful shutdown for an HTTP/2 connection: on `ChannelShouldQuiesceEvent` it sends GOAWAY
/// naming the last stream it saw and closes the connection once no stream is open.
final class HTTP2Quiescer: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID(0)
    private var quiescing = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            openStreams += 1
            if created.streamID > lastStreamID { lastStreamID = created.streamID }
        case is StreamClosedEvent:
            openStreams -= 1
            if quiescing && openStreams <= 0 { context.close(promise: nil) }
        case is ChannelShouldQuiesceEvent:
            guard !quiescing else { break }
            quiescing = true
            let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
            context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
            if openStreams <= 0 { context.close(promise: nil) }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }
}
