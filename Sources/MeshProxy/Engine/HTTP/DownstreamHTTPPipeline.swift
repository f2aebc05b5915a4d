import NIOCore
import NIOHTTP1
import NIOHTTP2

extension ChannelPipeline.SynchronousOperations {
    /// The HTTP connection manager over HTTP/1.1.
    /// - Parameter originalDestination: The destination `original_dst` restored, which stands for
    ///   the socket's local address (nil: none was restored).
    func configureDownstreamHTTP1(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil,
                                  originalDestination: SocketAddress? = nil) throws {
        // NIO's request decoder, forwarding the bytes after an upgrade request when removed
        // (``UpgradeTunnel``), and the connection manager, which answers a request that does not
        // parse with 400 and writes its responses as bytes (``HTTP1MessageSerializer``). Every
        // handler here is a stage each request and response part passes through: NIO's response
        // encoder, error handler, header validator and pipelining handler are left out. Response
        // headers come from a parsed upstream response, validated configuration or the proxy
        // itself, and the values taken from certificates or tokens are checked where they are made
        // (x-forwarded-client-cert, JWT claim headers).
        try addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        try addHandler(DownstreamHTTP1Handler(manager: manager, isTLS: isTLS, tls: tls, originalDestination: originalDestination))
    }

    /// The HTTP connection manager over HTTP/2: NIO's codec, then ``DownstreamHTTP2Handler``
    /// driving one ``HTTPStream`` per request stream.
    func configureDownstreamHTTP2(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil,
                                  originalDestination: SocketAddress? = nil) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .initialWindowSize, value: DownstreamHTTP2Handler.streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: manager.configuration.maxRequestHeadersBytes),
        ]
        // Below the codec: the responses of the streams answered in one event-loop iteration go out in one write.
        try addHandler(FlushCoalescingHandler())
        try addHandler(NIOHTTP2Handler(mode: .server, connectionConfiguration: connection))
        let sweeper = StreamIdleSweeper(eventLoop: eventLoop)
        // The drain handler after the streams' handler, which keeps the window updates to itself.
        try addHandler(DownstreamHTTP2Handler(
            manager: manager, isTLS: isTLS, tls: tls, originalDestination: originalDestination, streamIdleSweeper: sweeper))
        try addHandler(DownstreamHTTP2DrainHandler(
            maxConnectionDuration: manager.configuration.maxConnectionDuration, drainTimeout: manager.configuration.drainTimeout,
            maxDurationReached: { manager.filterCounter("downstream_cx_max_duration_reached").increment() },
            streamIdleSweeper: sweeper))
    }
}

/// Asks a downstream HTTP/2 connection to drain as Envoy does (``DownstreamHTTP2DrainHandler``):
/// `max_requests_per_connection` was reached.
struct ConnectionDrainEvent: Sendable {}

/// On an HTTP/2 downstream connection: when the listener is updated, sends a GOAWAY (no error,
/// every open stream still served) so the client opens a new connection for new requests.
///
/// With `max_connection_duration`, once it elapses the connection drains as Envoy's connection
/// manager does: `downstream_cx_max_duration_reached` counts, a GOAWAY with the highest stream ID
/// announces the shutdown, and after the connection manager's `drain_timeout` a second GOAWAY
/// names the last stream the client opened (later ones are refused); the connection closes as
/// soon as no stream is open after that.
final class DownstreamHTTP2DrainHandler: ChannelInboundHandler {
    typealias InboundIn = Any
    typealias OutboundOut = HTTP2Frame

    private enum DrainState { case serving, draining, closing }

    private let maxConnectionDuration: Duration?
    private let drainTimeout: Duration
    private let maxDurationReached: (() -> Void)?
    private var sentGoAway = false
    private var state = DrainState.serving
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var durationTimer: Scheduled<Void>?
    private var drainTimer: Scheduled<Void>?
    /// The connection's stream idle sweeper, stopped with the connection.
    private let streamIdleSweeper: StreamIdleSweeper?

    /// - Parameters:
    ///   - maxConnectionDuration: The connection manager's `max_connection_duration`, if any.
    ///   - drainTimeout: Its `drain_timeout`: how long after the first GOAWAY the final one follows.
    ///   - maxDurationReached: Called when `maxConnectionDuration` elapses (the stat).
    ///   - streamIdleSweeper: The connection's stream idle sweeper, stopped when the connection closes.
    init(
        maxConnectionDuration: Duration? = nil, drainTimeout: Duration = .seconds(5), maxDurationReached: (() -> Void)? = nil,
        streamIdleSweeper: StreamIdleSweeper? = nil
    ) {
        self.streamIdleSweeper = streamIdleSweeper
        self.maxConnectionDuration = maxConnectionDuration
        self.drainTimeout = drainTimeout
        self.maxDurationReached = maxDurationReached
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armDurationTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armDurationTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        streamIdleSweeper?.stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { cancelTimers() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ListenerDrainEvent:
            sendShutdownNotice(context: context)
            return
        case is ConnectionDrainEvent:
            startDraining(context: context)
            return
        case let created as NIOHTTP2StreamCreatedEvent:
            openStreams += 1
            if created.streamID > lastStreamID { lastStreamID = created.streamID }
        case is StreamClosedEvent:
            openStreams = max(0, openStreams - 1)
            if state == .closing, openStreams == 0 { context.close(promise: nil) }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func sendShutdownNotice(context: ChannelHandlerContext) {
        guard !sentGoAway else { return }
        sentGoAway = true
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
    }

    private func armDurationTimer(context: ChannelHandlerContext) {
        guard durationTimer == nil, state == .serving, let limit = maxConnectionDuration else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        durationTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limit.timeAmount) { [weak self] in
            self?.maxDurationElapsed(context: bound.value)
        }
    }

    private func maxDurationElapsed(context: ChannelHandlerContext) {
        durationTimer = nil
        guard state == .serving else { return }
        maxDurationReached?()
        startDraining(context: context)
    }

    /// Envoy's drain sequence: the shutdown notice now, the final GOAWAY after `drain_timeout`,
    /// then the close once no stream is open.
    private func startDraining(context: ChannelHandlerContext) {
        guard state == .serving else { return }
        durationTimer?.cancel()
        durationTimer = nil
        state = .draining
        sendShutdownNotice(context: context)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        drainTimer = context.eventLoop.assumeIsolated().scheduleTask(in: drainTimeout.timeAmount) { [weak self] in
            self?.drainTimedOut(context: bound.value)
        }
    }

    private func drainTimedOut(context: ChannelHandlerContext) {
        drainTimer = nil
        state = .closing
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
        if openStreams == 0 { context.close(promise: nil) }
    }

    private func cancelTimers() {
        durationTimer?.cancel()
        durationTimer = nil
        drainTimer?.cancel()
        drainTimer = nil
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
    private let originalDestination: SocketAddress?
    private var buffered: ByteBuffer?

    init(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil, originalDestination: SocketAddress? = nil) {
        self.manager = manager
        self.isTLS = isTLS
        self.tls = tls
        self.originalDestination = originalDestination
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
                try pipeline.configureDownstreamHTTP2(manager: manager, isTLS: isTLS, tls: tls, originalDestination: originalDestination)
            } else {
                try pipeline.configureDownstreamHTTP1(manager: manager, isTLS: isTLS, tls: tls, originalDestination: originalDestination)
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
