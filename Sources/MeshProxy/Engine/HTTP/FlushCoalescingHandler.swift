import NIOCore

/// Sits below the HTTP/2 codec of a downstream connection and turns the flushes requested while
/// the event loop handles one batch of I/O events into one flush after that batch: every HTTP/2
/// stream flushes its own response as its upstream answers, and without this each of them costs
/// a `writev` on the shared connection. The deferred flush runs as an event-loop task, which NIO
/// runs right after the I/O events of the same loop iteration, so responses are not held back
/// for longer than the rest of that iteration. A close first flushes what is pending, so frames
/// written before it (GOAWAY, RST_STREAM) still go out.
final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private var flushScheduled = false

    init() {}

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            guard self.flushScheduled else { return }
            self.flushScheduled = false
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushNow(context: context)
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard flushScheduled else { return }
        flushScheduled = false
        context.flush()
    }
}
