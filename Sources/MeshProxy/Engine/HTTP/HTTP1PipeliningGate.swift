import NIOCore
import NIOHTTP1

/// Serialises pipelined HTTP/1.1 requests on a downstream connection: a request that arrives
/// before the previous response has ended is held (with its body and end) and delivered once
/// that response's end is written, so the connection manager serves one exchange at a time and
/// responses leave in request order.
///
/// Unlike NIO's `HTTPServerPipelineHandler`, reading stops only while a pipelined request is
/// actually held. That handler also stops reading between every request's end and its
/// response's end, which costs two `epoll_ctl` system calls per request on a keep-alive
/// connection (read interest removed, then restored); a client that waits for each response, as
/// nearly all do, never makes this gate hold anything. What one socket read decodes is all that is
/// ever held.
final class HTTP1PipeliningGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The exchange the connection manager is serving: its request and response ends seen.
    private var exchangeOpen = false
    private var requestEnded = false
    private var responseEnded = false
    /// Parts of requests that arrived while an exchange was open, oldest first.
    private var held = CircularBuffer<HTTPServerRequestPart>()
    /// A `read()` was withheld because requests are held.
    private var readWithheld = false
    private var deliveryScheduled = false

    init() {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !held.isEmpty || (exchangeOpen && isHead(part)) {
            held.append(part)
            return
        }
        deliver(part, context: context)
    }

    func read(context: ChannelHandlerContext) {
        if held.isEmpty {
            context.read()
        } else {
            readWithheld = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), exchangeOpen {
            responseEnded = true
            if requestEnded { closeExchange(context: context) }
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Removed for an upgrade or on close: nothing held may be lost, and a withheld read is owed.
        while let part = held.popFirst() { context.fireChannelRead(wrapInboundOut(part)) }
        if readWithheld {
            readWithheld = false
            context.read()
        }
    }

    private func isHead(_ part: HTTPServerRequestPart) -> Bool {
        if case .head = part { return true }
        return false
    }

    private func deliver(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head:
            exchangeOpen = true
            requestEnded = false
            responseEnded = false
        case .body:
            break
        case .end:
            requestEnded = true
            // A response can end before its request (a local reply to a request still sending its body).
            if responseEnded { exchangeOpen = false }
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    private func closeExchange(context: ChannelHandlerContext) {
        exchangeOpen = false
        guard !held.isEmpty, !deliveryScheduled else { return }
        // Delivered on the next event-loop tick, not from inside the response's write.
        deliveryScheduled = true
        // Strong: it runs on the next tick. A weak reference would put every retain and release
        // of the gate (one per request part) on the runtime's slow path.
        context.eventLoop.assumeIsolated().execute {
            self.deliveryScheduled = false
            self.deliverHeld(context: context)
        }
    }

    /// Delivers held parts until another exchange opens and waits for its response.
    private func deliverHeld(context: ChannelHandlerContext) {
        while let part = held.first {
            if exchangeOpen, isHead(part) { break }
            held.removeFirst()
            deliver(part, context: context)
        }
        if held.isEmpty, readWithheld {
            readWithheld = false
            context.read()
        }
    }
}
