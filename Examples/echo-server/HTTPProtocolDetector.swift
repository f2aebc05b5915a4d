import Logging
import NIOCore

/// The first handler of every connection: it reads until it can tell HTTP/2 prior knowledge (the
/// 24-byte connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) from HTTP/1.x, installs the
/// matching pipeline after itself, replays what it read and removes itself.
///
/// HTTP/1.1 `Upgrade: h2c` requests are answered over HTTP/1.1 (servers may ignore `Upgrade`).
final class HTTPProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let responder: EchoResponder
    private let logger: Logger
    private var buffered: ByteBuffer?

    init(responder: EchoResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered != nil {
            buffered!.writeBuffer(&bytes)
        } else {
            buffered = bytes
        }
        guard let buffer = buffered else { return }
        let view = buffer.readableBytesView
        let compared = min(view.count, Self.preface.count)
        let matches = view.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if !matches {
            select(.http1, context: context)
        } else if compared == Self.preface.count {
            select(.http2, context: context)
        }
        // Otherwise a prefix of the preface: wait for more bytes.
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Nothing was received yet: there is no request to finish.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error before protocol detection: \(error)")
        context.close(promise: nil)
    }

    private enum Detected { case http1, http2 }

    private func select(_ proto: Detected, context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        do {
            switch proto {
            case .http1:
                try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                try pipeline.addHandler(EchoHandler(responder: responder))
            case .http2:
                try pipeline.configureEchoHTTP2(responder: responder)
            }
        } catch {
            logger.error("could not configure the connection: \(error)")
            context.close(promise: nil)
            return
        }
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}
