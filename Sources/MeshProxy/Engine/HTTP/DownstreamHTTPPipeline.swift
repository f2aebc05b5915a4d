import NIOCore
import NIOHTTP1
import NIOHTTP2

extension ChannelPipeline.SynchronousOperations {
    /// The HTTP connection manager over HTTP/1.1.
    func configureDownstreamHTTP1(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil) throws {
        // An upgrade configuration without upgraders: NIO never upgrades by itself, but its request
        // decoder forwards the bytes after an upgrade request when removed (``UpgradeTunnel``).
        try configureHTTPServerPipeline(withPipeliningAssistance: false, withServerUpgrade: ([], { _ in }), withErrorHandling: true)
        try addHandler(HTTP1PipeliningGate())
        try addHandler(DownstreamHTTP1Handler(manager: manager, isTLS: isTLS, tls: tls))
    }

    /// The HTTP connection manager over HTTP/2: every stream becomes HTTP/1-style request parts
    /// served by its own ``DownstreamHTTP1Handler``.
    func configureDownstreamHTTP2(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: manager.configuration.maxRequestHeadersBytes),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        // Below the codec: the responses of the streams answered in one event-loop iteration go out in one write.
        try addHandler(FlushCoalescingHandler())
        let sweeper = StreamIdleSweeper(eventLoop: eventLoop)
        // Stream channels live on their connection's event loop.
        let loopBoundSweeper = NIOLoopBound(sweeper, eventLoop: eventLoop)
        _ = try configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream,
            inboundStreamInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try channel.pipeline.syncOperations.addHandler(DownstreamHTTP1Handler(
                        manager: manager, isTLS: isTLS, tls: tls, closesAfterResponse: false, streamIdleSweeper: loopBoundSweeper.value))
                }
            })
        try addHandler(DownstreamHTTP2DrainHandler(streamIdleSweeper: sweeper))
    }
}

/// On an HTTP/2 downstream connection: when the listener is updated, sends a GOAWAY (no error,
/// every open stream still served) so the client opens a new connection for new requests.
final class DownstreamHTTP2DrainHandler: ChannelInboundHandler {
    typealias InboundIn = Any
    typealias OutboundOut = HTTP2Frame

    private var sentGoAway = false
    /// The connection's stream idle sweeper, stopped with the connection.
    private let streamIdleSweeper: StreamIdleSweeper?

    init(streamIdleSweeper: StreamIdleSweeper? = nil) {
        self.streamIdleSweeper = streamIdleSweeper
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func channelInactive(context: ChannelHandlerContext) {
        streamIdleSweeper?.stop()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ListenerDrainEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !sentGoAway else { return }
        sentGoAway = true
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
    }
}

/// The first handler of a connection whose codec is AUTO: tells the HTTP/2 connection preface
/// (prior knowledge, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) from HTTP/1.x, installs the matching
/// pipeline after itself, replays what it read and removes itself.
final class DownstreamProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private let manager: HTTPConnectionManagerRuntime
    private let isTLS: Bool
    private let tls: DownstreamTLSInfo?
    private var buffered: ByteBuffer?

    init(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil) {
        self.manager = manager
        self.isTLS = isTLS
        self.tls = tls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        guard let buffer = buffered else { return }
        let view = buffer.readableBytesView
        let compared = min(view.count, Self.preface.count)
        if !view.prefix(compared).elementsEqual(Self.preface.prefix(compared)) {
            install(http2: false, context: context)
        } else if compared == Self.preface.count {
            install(http2: true, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func install(http2: Bool, context: ChannelHandlerContext) {
        do {
            let pipeline = context.pipeline.syncOperations
            if http2 {
                try pipeline.configureDownstreamHTTP2(manager: manager, isTLS: isTLS, tls: tls)
            } else {
                try pipeline.configureDownstreamHTTP1(manager: manager, isTLS: isTLS, tls: tls)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
