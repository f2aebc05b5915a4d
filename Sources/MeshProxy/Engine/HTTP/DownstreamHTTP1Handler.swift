import Logging
import NIOCore
import NIOHTTP1

/// The HTTP connection manager on one HTTP/1.1 (or one HTTP/2 stream's) downstream channel:
/// turns request parts into ``HTTPStream``s, one at a time, and writes their responses.
final class DownstreamHTTP1Handler: ChannelDuplexHandler, DownstreamResponder {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPServerResponsePart

    private let manager: HTTPConnectionManagerRuntime
    private let isTLS: Bool
    private let tls: DownstreamTLSInfo?
    private let closesAfterResponse: Bool
    private var context: ChannelHandlerContext?
    private var stream: HTTPStream?
    private var keepAlive = true
    private var requestsOnConnection = 0
    private var idleTimer: Scheduled<Void>?

    init(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil, closesAfterResponse: Bool = true) {
        self.manager = manager
        self.isTLS = isTLS
        self.tls = tls
        self.closesAfterResponse = closesAfterResponse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idleTimer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            idleTimer?.cancel()
            idleTimer = nil
            requestsOnConnection += 1
            keepAlive = head.isKeepAlive
            if let limit = manager.configuration.maxRequestsPerConnection, requestsOnConnection >= limit { keepAlive = false }
            let info = DownstreamConnectionInfo(remoteAddress: context.channel.remoteAddress, localAddress: context.channel.localAddress, isTLS: isTLS, tls: tls)
            let stream = HTTPStream(eventLoop: context.eventLoop, connection: info, manager: manager, responder: self)
            self.stream = stream
            stream.receiveHead(head, endOfStream: false)
        case .body(let body):
            stream?.receiveBody(body)
        case .end(let trailers):
            stream?.receiveEnd(trailers)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream?.downstreamClosed()
        stream = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { stream?.downstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stream?.downstreamClosed()
        stream = nil
        context.close(promise: nil)
    }

    // MARK: DownstreamResponder

    func writeResponseHead(_ head: HTTPResponseHead) {
        guard let context else { return }
        var head = head
        if !keepAlive, closesAfterResponse { head.headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    func writeResponseBody(_ body: ByteBuffer) {
        // Flushed when the upstream read that carried it completes (``flushResponse()``) or at the end.
        context?.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    }

    func flushResponse() { context?.flush() }

    func writeResponseEnd(_ trailers: HTTPHeaders?) {
        guard let context else { return }
        let close = !keepAlive && closesAfterResponse
        context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { [weak self] _ in
            if close { self?.context?.close(promise: nil) }
        }
    }

    var isDownstreamWritable: Bool { context?.channel.isWritable ?? false }

    func resetDownstream() {
        context?.close(promise: nil)
    }

    func streamFinished(_ stream: HTTPStream) {
        if self.stream === stream { self.stream = nil }
        armIdleTimer()
    }

    private func armIdleTimer() {
        guard let context, let timeout = manager.configuration.idleTimeout, closesAfterResponse else { return }
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout.timeAmount) { [weak self] in
            guard let self, self.stream == nil else { return }
            self.context?.close(promise: nil)
        }
    }
}
