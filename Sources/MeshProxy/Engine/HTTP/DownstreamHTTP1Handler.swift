import Logging
import NIOCore
import NIOHTTP1

/// The HTTP connection manager on one HTTP/1.1 downstream connection: turns the request parts
/// NIO's decoder reads into ``HTTPStream``s, one exchange at a time (``HTTP1PipeliningQueue``),
/// and writes their responses as bytes (``HTTP1MessageSerializer``). HTTP/2 connections have
/// ``DownstreamHTTP2Handler``.
final class DownstreamHTTP1Handler: ChannelDuplexHandler, DownstreamResponder, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = IOData

    private let manager: HTTPConnectionManagerRuntime
    private let isTLS: Bool
    private let tls: DownstreamTLSInfo?
    /// The destination `original_dst` restored (nil: the socket's local address).
    private let originalDestination: SocketAddress?
    private var context: ChannelHandlerContext?
    private(set) var stream: HTTPStream?
    private var keepAlive = true
    private var requestsOnConnection = 0
    /// Envoy's `idle_timeout`.
    private var idleTimer: ConnectionIdleTimer?
    private var connectionDurationTimer: Scheduled<Void>?
    /// `max_connection_duration` was reached: the connection closes after the current response.
    private var draining = false
    /// A response head went out and its end has not.
    private var responseInProgress = false
    /// The method of the request being answered, for the response's framing.
    private var requestMethod: HTTPMethod?
    /// The request being answered is an HTTP/1.0 one the configuration accepts (`accept_http_10`;
    /// a refused one is answered 426 in HTTP/1.1, as Envoy does).
    private var answersInHTTP10 = false
    /// The connection is closing (after an error or a response sent with `connection: close`, or
    /// gone): pipelined requests still held are not served.
    private var closing = false
    private var pipelining = HTTP1PipeliningQueue()
    /// A `read()` was withheld because pipelined requests are held.
    private var readWithheld = false
    private var heldDeliveryScheduled = false
    private var serializer = HTTP1MessageSerializer()

    init(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil, originalDestination: SocketAddress? = nil) {
        self.originalDestination = originalDestination
        self.manager = manager
        self.isTLS = isTLS
        self.tls = tls
    }

    private var ownSweeper: StreamIdleSweeper?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
        armConnectionDurationTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // Removed for an upgrade (after which the decoder reads no more requests, so none is
        // held) or on close: a withheld read is still owed.
        if readWithheld {
            readWithheld = false
            context.read()
        }
        // A stream still here ends with the connection; it and this handler hold each other until then.
        let stream = self.stream
        self.stream = nil
        stream?.downstreamClosed()
        ownSweeper?.stop()
        // The timers' closures hold the handler (strongly, see ``armIdleTimer()``): they go here.
        idleTimer?.cancel()
        idleTimer = nil
        connectionDurationTimer?.cancel()
        connectionDurationTimer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, let part = pipelining.arrived(unwrapInboundIn(data)) else { return }
        serve(part, context: context)
    }

    func read(context: ChannelHandlerContext) {
        if pipelining.isHolding {
            readWithheld = true
        } else {
            context.read()
        }
    }

    private func serve(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(var head):
            idleTimer?.busy()
            requestsOnConnection += 1
            keepAlive = head.isKeepAlive && !draining
            requestMethod = head.method
            answersInHTTP10 = head.version == .http1_0 && manager.configuration.acceptHTTP10
            if let limit = manager.configuration.maxRequestsPerConnection, requestsOnConnection >= limit { keepAlive = false }
            let info = connectionInfo(context)
            let stream = HTTPStream(eventLoop: context.eventLoop, connection: info, manager: manager, responder: self)
            self.stream = stream
            if head.version == .http1_0 {
                // As Envoy's HTTP/1 codec: HTTP/1.0 only with `accept_http_10`, else 426 (`low_version`).
                guard manager.configuration.acceptHTTP10 else {
                    stream.receiveRefusedHead(head, endOfStream: false, reply: Self.http10Refusal)
                    return
                }
                if let host = manager.configuration.defaultHostForHTTP10, !head.headers.contains(name: "host") {
                    head.headers.add(name: "host", value: host)
                }
            }
            stream.receiveHead(head, endOfStream: false)
        case .body(let body):
            stream?.receiveBody(body)
        case .end(let trailers):
            stream?.receiveEnd(trailers)
        }
    }

    /// The connection's addresses and TLS, read once per connection (the channel's address getters take a lock).
    private var cachedConnectionInfo: DownstreamConnectionInfo?

    private func connectionInfo(_ context: ChannelHandlerContext) -> DownstreamConnectionInfo {
        if let cachedConnectionInfo { return cachedConnectionInfo }
        let info = DownstreamConnectionInfo(remoteAddress: context.channel.remoteAddress, localAddress: originalDestination ?? context.channel.localAddress, isTLS: isTLS, tls: tls)
        cachedConnectionInfo = info
        return info
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Pipelined requests still held are never served: nobody could read their responses.
        closing = true
        stream?.downstreamClosed()
        stream = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ListenerDrainEvent {
            // The listener was updated: finish the response in flight with `connection: close`,
            // or close an idle connection now.
            draining = true
            if stream == nil {
                context.close(promise: nil)
            } else {
                keepAlive = false
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { stream?.downstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request that does not parse is answered 400 and the connection closes, unless a
        // response is already under way (it cannot be interrupted by another one).
        closing = true
        if error is HTTPParserError, !responseInProgress {
            let head = HTTPResponseHead(version: .http1_1, status: .badRequest, headers: Self.badRequestHeaders)
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(serializer.standaloneHead(head))), promise: nil)
        }
        stream?.downstreamClosed()
        stream = nil
        context.close(promise: nil)
    }

    private static let badRequestHeaders = HTTPHeaders([("connection", "close"), ("content-length", "0")])
    private static let http10Refusal = HTTPLocalReply(status: .upgradeRequired, body: "Upgrade Required", details: "low_version")

    // MARK: DownstreamResponder

    func writeInformationalHead(_ head: HTTPResponseHead) {
        var head = head
        HTTP1ResponseFraming.frame(&head, requestMethod: requestMethod)
        context?.writeAndFlush(wrapOutboundOut(.byteBuffer(serializer.standaloneHead(head))), promise: nil)
    }

    func writeResponseHead(_ head: HTTPResponseHead) {
        guard let context else { return }
        var head = head
        if answersInHTTP10 {
            // As Envoy answers an accepted HTTP/1.0 request: in HTTP/1.0, never chunked, so a
            // body without a length ends with the connection.
            head.version = .http1_0
            if !head.headers.contains(name: "content-length") { keepAlive = false }
        }
        // Not on a switch to another protocol: what follows is no longer HTTP/1.1.
        if !keepAlive, head.status != .switchingProtocols { head.headers.replaceOrAdd(name: "connection", value: "close") }
        HTTP1ResponseFraming.frame(&head, requestMethod: requestMethod)
        responseInProgress = true
        serializer.responseHead(head, requestMethod: requestMethod)
    }

    func writeResponseBody(_ body: ByteBuffer) {
        // Written when the upstream read that carried it completes (``flushResponse()``) or at the
        // end, unless too large to copy.
        guard let context, let direct = serializer.body(body) else { return }
        if let before = direct.before { context.write(wrapOutboundOut(.byteBuffer(before)), promise: nil) }
        context.write(wrapOutboundOut(.byteBuffer(direct.body)), promise: nil)
    }

    func flushResponse() {
        guard let context else { return }
        if let pending = serializer.takePending() { context.write(wrapOutboundOut(.byteBuffer(pending)), promise: nil) }
        context.flush()
    }

    func writeResponseEnd(_ trailers: HTTPHeaders?) {
        guard let context else { return }
        responseInProgress = false
        let bytes = wrapOutboundOut(.byteBuffer(serializer.end(trailers)))
        if keepAlive {
            context.writeAndFlush(bytes, promise: nil)
        } else {
            context.writeAndFlush(bytes).assumeIsolated().whenComplete { _ in
                self.context?.close(promise: nil)
            }
        }
        // After `connection: close`, requests pipelined behind this one are never served.
        if !keepAlive { closing = true }
        if pipelining.responseEndWritten(), !closing { scheduleHeldDelivery(context: context) }
    }

    /// Serves held pipelined requests on the next event-loop tick, not from inside the response's write.
    private func scheduleHeldDelivery(context: ChannelHandlerContext) {
        guard !heldDeliveryScheduled else { return }
        heldDeliveryScheduled = true
        // Strong: it runs on the next tick. A weak reference would put every retain and release
        // of the handler on the runtime's slow path.
        context.eventLoop.assumeIsolated().execute {
            self.heldDeliveryScheduled = false
            guard let context = self.context else { return }
            while !self.closing, let part = self.pipelining.nextHeld() { self.serve(part, context: context) }
            if !self.pipelining.isHolding, self.readWithheld {
                self.readWithheld = false
                context.read()
            }
        }
    }

    var isDownstreamWritable: Bool { context?.channel.isWritable ?? false }

    func resetDownstream() {
        context?.close(promise: nil)
    }

    func streamFinished(_ stream: HTTPStream) {
        if self.stream === stream {
            self.stream = nil
            idleTimer?.idle()
        }
    }

    var supportsUpgrade: Bool { context != nil }

    var streamIdleSweeper: StreamIdleSweeper? {
        if let ownSweeper { return ownSweeper }
        guard let context else { return nil }
        let sweeper = StreamIdleSweeper(eventLoop: context.eventLoop)
        ownSweeper = sweeper
        return sweeper
    }

    func closeAfterResponse() { keepAlive = false }

    func setRequestBodyFlowing(_ flowing: Bool) {
        guard let context else { return }
        // Reading stops with auto-read off; held pipelined requests still withhold reads (``read(context:)``).
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: flowing)
    }

    func upgrade(to upstream: any Channel, observer: any UpgradeTunnel.Observer) -> UpgradeTunnel? {
        guard let context else { return nil }
        idleTimer?.cancel()
        idleTimer = nil
        // The tunnel's stream keeps its idle sweeper: removing this handler must not stop it.
        ownSweeper = nil
        connectionDurationTimer?.cancel()
        connectionDurationTimer = nil
        // The `101` head, should it still be pending, goes out before the pipeline stops speaking HTTP/1.1.
        if let pending = serializer.takePending() { context.writeAndFlush(wrapOutboundOut(.byteBuffer(pending)), promise: nil) }
        let tunnel = UpgradeTunnel(downstream: context.channel, upstream: upstream, observer: observer)
        stream = nil
        do {
            try tunnel.installDownstream(removing: self)
        } catch {
            return nil
        }
        return tunnel
    }

    /// Envoy's `max_connection_duration` for HTTP/1.1: an idle connection closes at once, a busy one
    /// after its current response (`connection: close`).
    private func armConnectionDurationTimer() {
        guard let context, let limit = manager.configuration.maxConnectionDuration else { return }
        connectionDurationTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limit.timeAmount) {
            guard let context = self.context else { return }
            self.manager.filterCounter("downstream_cx_max_duration_reached").increment()
            self.draining = true
            if self.stream == nil {
                context.close(promise: nil)
            } else {
                self.keepAlive = false
            }
        }
    }

    /// Envoy's `idle_timeout`: the connection closes once it has had no active stream for that long.
    ///
    /// The timers of the handler hold it strongly until ``handlerRemoved(context:)``: a weak
    /// reference would give the handler a side table, and the handler (every request's responder)
    /// is retained and released many times per request, each time on the runtime's slow path.
    private func armIdleTimer() {
        guard let context, let timeout = manager.configuration.idleTimeout else { return }
        let timer = ConnectionIdleTimer(eventLoop: context.eventLoop, timeout: timeout.timeAmount) {
            self.context?.close(promise: nil)
        }
        if stream != nil { timer.busy() }
        idleTimer = timer
    }
}
