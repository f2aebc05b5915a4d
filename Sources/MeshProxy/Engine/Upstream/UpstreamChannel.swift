import NIOCore
import NIOHTTP1

/// Receives one upstream response's parts; set on a connection per request attempt.
protocol UpstreamResponseReceiver: AnyObject {
    /// A 1xx head (`100 Continue`) before the response.
    func upstreamInformationalHead(_ head: HTTPResponseHead)
    func upstreamResponseHead(_ head: HTTPResponseHead)
    func upstreamResponseBody(_ body: ByteBuffer)
    /// The upstream read that delivered the last parts is done: a good moment to flush downstream.
    func upstreamReadComplete()
    func upstreamResponseEnd(_ trailers: HTTPHeaders?)
    /// The connection failed or closed before the response ended.
    func upstreamReset(_ error: any Error)
    /// The downstream may not be able to take more; `false` pauses reading from upstream.
    var upstreamMayRead: Bool { get }
    /// The connection can take writes again (its outbound buffer drained below the low watermark).
    func upstreamWritable()
}

extension UpstreamResponseReceiver {
    func upstreamWritable() {}
    func upstreamInformationalHead(_ head: HTTPResponseHead) {}
}

/// Where one upstream request goes: an HTTP/1.1 connection (used by one request at a time and
/// returned to its pool when the response ends with keep-alive) or one HTTP/2 stream (after
/// `HTTP2FramePayloadToHTTP1ClientCodec`). Lives on one event loop.
final class UpstreamChannel {
    let channel: any Channel
    let host: UpstreamEndpointKey
    fileprivate(set) var requestsServed = 0
    /// False once the peer or a request asked to close, or the connection failed.
    fileprivate(set) var isReusable = true
    fileprivate(set) var isClosed = false
    /// The current request's receiver, cleared when its response ends, fails or is abandoned.
    /// Strong rather than weak, so that the receiver (a stream) has no side table.
    fileprivate var receiver: (any UpstreamResponseReceiver)?
    fileprivate var requestKeepAlive = true
    var idleTimer: Scheduled<Void>?
    /// When it became idle in an HTTP/1.1 pool (nil while in use).
    var idleSince: NIODeadline?
    /// Called when the connection closes while idle in a pool.
    var onClose: ((UpstreamChannel) -> Void)?

    /// Both sides' SPIFFE identities, over TLS.
    let tlsIdentities: UpstreamTLSIdentities?

    /// On an HTTP/1.1 connection, the decoder of its responses, told the head of every request
    /// sent so that it knows which responses answer `HEAD`; the requests are written as bytes.
    /// Nil on an HTTP/2 stream, which takes request parts.
    private let responseDecoder: UpstreamResponseDecoder?
    private var serializer = HTTP1MessageSerializer()

    init(channel: any Channel, host: UpstreamEndpointKey, tlsIdentities: UpstreamTLSIdentities? = nil, responseDecoder: UpstreamResponseDecoder?) {
        self.channel = channel
        self.host = host
        self.tlsIdentities = tlsIdentities
        self.responseDecoder = responseDecoder
    }

    deinit {
        // Nobody can use it any more: do not leak the socket (or the HTTP/2 stream).
        if !isClosed { channel.close(promise: nil) }
    }

    /// Starts a request; the response goes to `receiver`.
    func send(_ head: HTTPRequestHead, receiver: any UpstreamResponseReceiver) {
        self.receiver = receiver
        requestsServed += 1
        requestKeepAlive = head.isKeepAlive
        guard let responseDecoder else {
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            return
        }
        var head = head
        HTTP1RequestFraming.frame(&head)
        responseDecoder.requestSent(head)
        serializer.requestHead(head)
    }

    /// Sends a body chunk: on HTTP/1.1, written with the next flush or the end unless too large to
    /// copy. Bytes not yet written do not count against the channel's writability; there is never
    /// more than one downstream read's worth.
    func sendBody(_ body: ByteBuffer) {
        guard responseDecoder != nil else {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            return
        }
        guard let direct = serializer.body(body) else { return }
        if let before = direct.before { channel.write(before, promise: nil) }
        channel.write(direct.body, promise: nil)
    }

    func sendEnd(_ trailers: HTTPHeaders? = nil) {
        if responseDecoder != nil {
            channel.writeAndFlush(serializer.end(trailers), promise: nil)
        } else {
            channel.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
        }
    }

    func flush() {
        if let pending = serializer.takePending() { channel.write(pending, promise: nil) }
        channel.flush()
    }

    /// Whether the connection's outbound buffer is below its high watermark.
    var isWritable: Bool { channel.isWritable }

    /// Stops delivering to the current receiver and closes (a reset from our side).
    func abandon() {
        receiver = nil
        isReusable = false
        close()
    }

    func close() {
        isReusable = false
        guard !isClosed else { return }
        isClosed = true
        channel.close(promise: nil)
    }

    /// Resumes reading after the downstream drained.
    func resumeReading() {
        channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    fileprivate func pauseReading() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    fileprivate func responseEnded(_ head: HTTPResponseHead?) {
        if let head, !head.isKeepAlive { isReusable = false }
        if !requestKeepAlive { isReusable = false }
        let current = receiver
        receiver = nil
        current?.upstreamResponseEnd(nil)
    }
}

/// NIO's HTTP/1.1 response decoder on an upstream connection, decoding only: the proxy writes
/// its requests as bytes (``HTTP1MessageSerializer``) rather than as request parts through the
/// decoder and NIO's request encoder, and tells the decoder each request head itself
/// (``requestSent(_:)``). Removed after a `101`, it forwards the bytes read past the response.
final class UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart

    private let decoder: HTTPResponseDecoder
    private var decoding = false
    /// Request heads sent while a read was being decoded.
    private var heldHeads: [HTTPRequestHead] = []

    init(leftOverBytesStrategy: RemoveAfterUpgradeStrategy) {
        decoder = HTTPResponseDecoder(leftOverBytesStrategy: leftOverBytesStrategy)
    }

    /// A request went out: the decoder expects its response next (without a body for `HEAD`).
    ///
    /// A request sent while a read is being decoded (a response's end released the connection
    /// to a waiting request) is told to the decoder once that read is decoded, as NIO's decoder
    /// handler does with the writes it observes: more bytes in the same read are a response
    /// nobody asked for, not this request's.
    func requestSent(_ head: HTTPRequestHead) {
        if decoding {
            heldHeads.append(head)
        } else {
            decoder.write(data: .head(head))
        }
    }

    func decoderAdded(context: ChannelHandlerContext) { decoder.decoderAdded(context: context) }

    func decoderRemoved(context: ChannelHandlerContext) { decoder.decoderRemoved(context: context) }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        decoding = true
        defer { decoded() }
        return try decoder.decode(context: context, buffer: &buffer)
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        decoding = true
        defer { decoded() }
        return try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    private func decoded() {
        decoding = false
        guard !heldHeads.isEmpty else { return }
        for head in heldHeads { decoder.write(data: .head(head)) }
        heldHeads.removeAll()
    }
}

/// The channel handler under ``UpstreamChannel``: hands response parts to the receiver.
final class UpstreamChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// Weak: a connection dropped while open is closed by its `deinit`, wherever it is released.
    private weak var connection: UpstreamChannel?
    private var head: HTTPResponseHead?
    private var inResponse = false

    func attach(_ connection: UpstreamChannel) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if (100..<200).contains(head.status.code), head.status != .switchingProtocols {
                if head.status == .continue { connection.receiver?.upstreamInformationalHead(head) }
                return
            }
            guard connection.receiver != nil else {
                // A response nobody asked for: the connection is out of step; never reuse it.
                connection.close()
                return
            }
            self.head = head
            inResponse = true
            connection.receiver?.upstreamResponseHead(head)
        case .body(let body):
            connection.receiver?.upstreamResponseBody(body)
            if let receiver = connection.receiver, !receiver.upstreamMayRead { connection.pauseReading() }
        case .end(let trailers):
            inResponse = false
            let finished = head
            head = nil
            if let trailers, let receiver = connection.receiver {
                connection.receiver = nil
                if let finished, !finished.isKeepAlive { connection.isReusable = false }
                receiver.upstreamResponseEnd(trailers)
            } else {
                connection.responseEnded(finished)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.receiver?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection?.receiver?.upstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let connection else { return }
        connection.isReusable = false
        connection.isClosed = true
        if let receiver = connection.receiver {
            connection.receiver = nil
            receiver.upstreamReset(UpstreamFailure.connectionClosed)
        }
        connection.onClose?(connection)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let connection else { context.close(promise: nil); return }
        connection.isReusable = false
        if let receiver = connection.receiver {
            connection.receiver = nil
            receiver.upstreamReset(error)
        }
        context.close(promise: nil)
    }
}

/// Why an upstream attempt failed without a response.
enum UpstreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case connectFailed(String)
    case connectionClosed
    case perTryTimeout
    case overflow

    var description: String {
        switch self {
        case .connectFailed(let reason): "connection failure, transport failure reason: \(reason)"
        case .connectionClosed: "connection termination"
        case .perTryTimeout: "per try timeout"
        case .overflow: "overflow"
        }
    }
}

/// An upstream host's address as a pool key.
struct UpstreamEndpointKey: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    /// The TLS context connections to the host use (from the cluster's transport socket, or the
    /// `transport_socket_matches` entry the host's metadata selects); nil for plaintext.
    var tls: TLSContextSource? = nil
    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
