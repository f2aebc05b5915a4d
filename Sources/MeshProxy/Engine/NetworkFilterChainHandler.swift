import NIOCore
import SwiftProtobuf

/// Runs a chain's network filters (``NetworkFilter``) in front of its terminal filter: the first
/// handler after the transport (TLS) in the connection's pipeline. Reads go through the filters
/// in order, writes in reverse order; a filter that stops holds the bytes until it resumes.
final class NetworkFilterChainHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The configured filters of a chain, with their factories.
    struct Entry: Sendable {
        var name: String
        var factory: any NetworkFilterFactory
    }

    private let entries: [Entry]
    private let stats: StatsStore?
    private var filters: [(filter: any NetworkFilter, context: NetworkFilterContext)] = []
    private var context: ChannelHandlerContext?
    private var started = false
    private var closed = false

    /// The TLS session (set by the TLS layer after the handshake).
    var tls: DownstreamTLSInfo?
    /// The connection's dynamic metadata.
    var dynamicMetadata: [String: Google_Protobuf_Struct] = [:]
    /// The destination `original_dst` restored (nil: the socket's local address).
    let originalDestination: SocketAddress?

    // Read side: bytes held by the filter at `readStoppedAt` (it resumes from the next one).
    private var readStoppedAt: Int?
    private var heldRead: ByteBuffer?
    private var heldReadEnd = false
    private var pendingInputClosed = false
    // Write side, likewise, walking the filters backwards.
    private var writeStoppedAt: Int?
    private var heldWrites: [(IOData, EventLoopPromise<Void>?)] = []

    init(entries: [Entry], stats: StatsStore?, tls: DownstreamTLSInfo? = nil, originalDestination: SocketAddress? = nil) {
        self.entries = entries
        self.originalDestination = originalDestination
        self.stats = stats
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        filters = entries.enumerated().map { index, entry in
            (entry.factory.makeFilter(), NetworkFilterContext(channel: context.channel, stats: stats, handler: self, index: index))
        }
        if context.channel.isActive { start() }
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    private func start() {
        guard !started else { return }
        started = true
        for (index, entry) in filters.enumerated() {
            if entry.filter.onNewConnection(context: entry.context) == .stopIteration {
                readStoppedAt = index
                return
            }
            if closed { return }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        for entry in filters { entry.filter.onClose(context: entry.context) }
        context.fireChannelInactive()
    }

    // MARK: Read

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        let buffer = unwrapInboundIn(data)
        if readStoppedAt != nil {
            if heldRead == nil { heldRead = buffer } else { heldRead!.writeImmutableBuffer(buffer) }
            return
        }
        runRead(buffer, endOfStream: false, from: 0)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if readStoppedAt != nil {
                heldReadEnd = true
                pendingInputClosed = true
                return
            }
            runRead(ByteBuffer(), endOfStream: true, from: 0)
            if closed { return }
            if readStoppedAt != nil {
                pendingInputClosed = true
                return
            }
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func runRead(_ buffer: ByteBuffer, endOfStream: Bool, from start: Int) {
        var buffer = buffer
        var index = start
        while index < filters.count {
            let entry = filters[index]
            let status = entry.filter.onData(&buffer, endOfStream: endOfStream, context: entry.context)
            if closed { return }
            if status == .stopIteration {
                readStoppedAt = index
                heldRead = buffer
                heldReadEnd = endOfStream
                return
            }
            index += 1
        }
        if buffer.readableBytes > 0, let context { context.fireChannelRead(wrapInboundOut(buffer)) }
    }

    func continueReading(after index: Int) {
        guard !closed, let stopped = readStoppedAt, stopped == index else { return }
        readStoppedAt = nil
        if !started { started = true }
        let buffer = heldRead ?? ByteBuffer()
        let end = heldReadEnd
        heldRead = nil
        heldReadEnd = false
        if buffer.readableBytes > 0 || end { runRead(buffer, endOfStream: end, from: index + 1) }
        if readStoppedAt == nil, let context { context.fireChannelReadComplete() }
        if pendingInputClosed, readStoppedAt == nil, !closed, let context {
            pendingInputClosed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard readStoppedAt == nil else { return }
        context.fireChannelReadComplete()
    }

    // MARK: Write

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let io = unwrapOutboundIn(data)
        if writeStoppedAt != nil {
            heldWrites.append((io, promise))
            return
        }
        runWrite(io, promise: promise, from: filters.count - 1)
    }

    private func runWrite(_ io: IOData, promise: EventLoopPromise<Void>?, from start: Int) {
        guard case .byteBuffer(var buffer) = io else {
            context?.write(wrapOutboundOut(io), promise: promise)
            return
        }
        var index = start
        while index >= 0 {
            let entry = filters[index]
            let status = entry.filter.onWrite(&buffer, endOfStream: false, context: entry.context)
            if closed {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            if status == .stopIteration {
                writeStoppedAt = index
                heldWrites.insert((.byteBuffer(buffer), promise), at: 0)
                return
            }
            index -= 1
        }
        context?.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }

    func continueWriting(after index: Int) {
        guard !closed, let stopped = writeStoppedAt, stopped == index else { return }
        writeStoppedAt = nil
        var held = heldWrites
        heldWrites = []
        // The first held write resumes after the stopping filter; later ones start from the end.
        if !held.isEmpty {
            let first = held.removeFirst()
            runWrite(first.0, promise: first.1, from: index - 1)
        }
        for (offset, item) in held.enumerated() {
            if writeStoppedAt != nil {
                heldWrites.append(contentsOf: held[offset...])
                break
            }
            runWrite(item.0, promise: item.1, from: filters.count - 1)
        }
        context?.flush()
    }

    func flush(context: ChannelHandlerContext) {
        guard writeStoppedAt == nil else { return }
        context.flush()
    }

    // MARK: Close

    func closeConnection() {
        guard !closed, let context else { return }
        closed = true
        heldRead = nil
        for (_, promise) in heldWrites { promise?.fail(ChannelError.ioOnClosedChannel) }
        heldWrites = []
        context.close(mode: .all, promise: nil)
    }
}
