import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection or one HTTP/2 stream (after `HTTP2FramePayloadToHTTP1ServerCodec`).
///
/// It counts the request body as it arrives, then answers through ``EchoResponder``:
/// `/status/CODE` sets the status, `/delay/MS` schedules the answer MS milliseconds later,
/// `/flaky/N/KEY` fails the first N attempts per key with 503 and `/reset/N/KEY` by closing the
/// connection (``EchoRequestLog``), `?delay=MS` delays any answer, `/ws` with
/// `upgrade: websocket` becomes a WebSocket echo (``WebSocketEcho``), `/last-request[?prefix=P]`
/// describes the latest earlier request (whose path starts with P): what a mirror received, say.
/// HTTP/1 connections stay open unless the request asked to close them; the pipeline handler in
/// front of this one orders pipelined requests and closes idle connections on quiesce.
final class EchoHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: EchoResponder
    private var head: HTTPRequestHead?
    private var bodySize = 0
    private var pendingDelay: Scheduled<Void>?

    init(responder: EchoResponder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            bodySize = 0
        case .body(let bytes):
            bodySize += bytes.readableBytes
        case .end:
            guard let requestHead = head else { return }
            head = nil
            if WebSocketEcho.isRequest(requestHead) {
                WebSocketEcho.upgrade(context: context, head: requestHead)
                return
            }
            let route = EchoFailure.apply(to: EchoRequestLog.shared.record(EchoRoute(uri: requestHead.uri), head: requestHead))
            if requestHead.uri.hasPrefix(EchoRequestLog.lastRequestPath) {
                // An earlier request, described as if it were being answered now.
                let prefix = requestHead.uri.split(separator: "?", maxSplits: 1).dropFirst().first?
                    .split(separator: "&").first { $0.hasPrefix("prefix=") }.map { String($0.dropFirst("prefix=".count)) } ?? ""
                let earlier = EchoRequestLog.shared.lastRequest(withPathPrefix: prefix)
                respond(context: context, head: earlier ?? requestHead, status: earlier == nil ? .notFound : route.status, bodySize: 0, answering: requestHead)
                return
            }
            if route.resetsConnection {
                context.close(promise: nil)
                return
            }
            if route.delayMilliseconds > 0 {
                let size = bodySize
                let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
                pendingDelay = context.eventLoop.scheduleTask(in: .milliseconds(route.delayMilliseconds)) {
                    loopBoundSelf.value.pendingDelay = nil
                    loopBoundSelf.value.respond(context: loopBoundContext.value, head: requestHead, status: route.status, bodySize: size)
                }
            } else {
                respond(context: context, head: requestHead, status: route.status, bodySize: bodySize)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pendingDelay?.cancel()
        pendingDelay = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        pendingDelay?.cancel()
        pendingDelay = nil
        context.fireChannelInactive()
    }

    /// - Parameter answering: The request being answered, when it is not the one described.
    private func respond(context: ChannelHandlerContext, head described: HTTPRequestHead, status: HTTPResponseStatus, bodySize: Int,
                         answering: HTTPRequestHead? = nil) {
        guard context.channel.isActive else { return }
        let requestHead = answering ?? described
        let isHTTP2 = requestHead.version.major >= 2
        let keepAlive = isHTTP2 || requestHead.isKeepAlive
        let hasBody = EchoRoute.statusAllowsBody(status) && requestHead.method != .HEAD
        var body = context.channel.allocator.buffer(capacity: 512)
        responder.writeJSON(for: described, bodySize: bodySize, into: &body)

        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        headers.add(name: "content-type", value: "application/json")
        if EchoRoute.statusAllowsBody(status) {
            headers.add(name: "content-length", value: String(body.readableBytes))
        }
        headers.add(name: "x-echo-server", value: responder.name)
        headers.add(name: "x-echo-requests", value: String(EchoRequestLog.shared.total))
        if !isHTTP2 {
            if !keepAlive {
                headers.add(name: "connection", value: "close")
            } else if requestHead.version.minor == 0 {
                headers.add(name: "connection", value: "keep-alive")
            }
        }
        let responseHead = HTTPResponseHead(version: requestHead.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if hasBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
