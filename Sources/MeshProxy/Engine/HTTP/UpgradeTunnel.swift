import NIOCore
import NIOHTTP1

/// What an upgraded stream (an HTTP/1.1 `Upgrade`, such as WebSocket, answered `101 Switching
/// Protocols`) becomes, as in Envoy: a bidirectional byte pipe between the downstream
/// connection and the upstream connection. Bytes read on one side are written to the other,
/// reading pauses while the other side cannot take more, and when either side closes the other
/// is closed once what was read from the first has been written. Both channels live on the
/// stream's event loop.
final class UpgradeTunnel {
    /// Notified of every chunk relayed (`toUpstream` or not, its size) and once when the tunnel ends.
    protocol Observer: AnyObject {
        func tunnelRelayed(bytes: Int, toUpstream: Bool)
        func tunnelClosed()
    }

    let downstream: any Channel
    let upstream: any Channel
    /// Held until the tunnel ends: after the switch nothing else keeps the stream alive.
    private var observer: (any Observer)?
    private var ended = false
    /// Until both pipelines carry relays (``open()``), bytes are held here: what a decoder had
    /// buffered past the switch is forwarded while the other side still speaks HTTP/1.1.
    private var isOpen = false
    private var heldForUpstream: [ByteBuffer] = []
    private var heldForDownstream: [ByteBuffer] = []

    /// Relays between `downstream` and `upstream` once ``installUpstream()`` and
    /// ``installDownstream(removing:)`` have put relay handlers in both pipelines and ``open()`` ran.
    init(downstream: any Channel, upstream: any Channel, observer: any Observer) {
        self.downstream = downstream
        self.upstream = upstream
        self.observer = observer
    }

    /// Replaces the HTTP/1.1 client handlers of the upstream pipeline (the response decoder and
    /// handler) with a relay; bytes the decoder read past the `101` go to the downstream. Call on the event loop once the `101` response has ended (the decoder emits
    /// nothing after it).
    func installUpstream() throws {
        let relay = TunnelRelayHandler(tunnel: self, toUpstream: false)
        let pipeline = upstream.pipeline.syncOperations
        try pipeline.addHandler(relay)
        if let handler = try? pipeline.handler(type: UpstreamChannelHandler.self) { pipeline.removeHandler(handler, promise: nil) }
        // Last, so bytes it buffered after the response are forwarded (leftOverBytesStrategy .forwardBytes) to the relay.
        if let decoder = try? pipeline.handler(type: ByteToMessageHandler<UpstreamResponseDecoder>.self) { pipeline.removeHandler(decoder, promise: nil) }
    }

    /// Replaces the HTTP/1.1 server handlers of the downstream pipeline (the request decoder and
    /// `http`, the connection manager's handler) with a relay; bytes the decoder buffered after
    /// the upgrade request go upstream.
    func installDownstream(removing http: any RemovableChannelHandler) throws {
        let relay = TunnelRelayHandler(tunnel: self, toUpstream: true)
        let pipeline = downstream.pipeline.syncOperations
        try pipeline.addHandler(relay)
        pipeline.removeHandler(http, promise: nil)
        if let decoder = try? pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) { pipeline.removeHandler(decoder, promise: nil) }
    }

    /// Starts relaying, after ``installUpstream()`` and ``installDownstream(removing:)``: sends
    /// what was held and resumes reading on both sides.
    func open() {
        guard !isOpen, !ended else { return }
        isOpen = true
        for bytes in heldForUpstream { upstream.write(bytes, promise: nil) }
        for bytes in heldForDownstream { downstream.write(bytes, promise: nil) }
        heldForUpstream = []
        heldForDownstream = []
        upstream.flush()
        downstream.flush()
        upstream.read()
        downstream.read()
    }

    /// The channel bytes read on one side are written to.
    fileprivate func peer(toUpstream: Bool) -> any Channel { toUpstream ? upstream : downstream }

    /// Whether bytes are being relayed (not held).
    fileprivate var relaying: Bool { isOpen }

    fileprivate func forward(_ bytes: ByteBuffer, toUpstream: Bool) {
        observer?.tunnelRelayed(bytes: bytes.readableBytes, toUpstream: toUpstream)
        guard isOpen else {
            if toUpstream { heldForUpstream.append(bytes) } else { heldForDownstream.append(bytes) }
            return
        }
        peer(toUpstream: toUpstream).write(bytes, promise: nil)
    }

    /// One side closed or failed: close the other once what was written to it is out.
    fileprivate func sideClosed(_ channel: any Channel) {
        let other = channel === downstream ? upstream : downstream
        other.writeAndFlush(ByteBuffer()).assumeIsolated().whenComplete { _ in other.close(promise: nil) }
        finish()
    }

    /// Ends the tunnel from the stream's side (idle timeout, max duration): closes both.
    func close() {
        downstream.close(promise: nil)
        upstream.close(promise: nil)
        finish()
    }

    private func finish() {
        guard !ended else { return }
        ended = true
        let observer = self.observer
        self.observer = nil
        observer?.tunnelClosed()
    }
}

/// One side of an ``UpgradeTunnel``: writes what it reads to the other channel and stops
/// reading while that channel is not writable.
final class TunnelRelayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let tunnel: UpgradeTunnel
    private let toUpstream: Bool
    private var wrote = false

    init(tunnel: UpgradeTunnel, toUpstream: Bool) {
        self.tunnel = tunnel
        self.toUpstream = toUpstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard bytes.readableBytes > 0 else { return }
        tunnel.forward(bytes, toUpstream: toUpstream)
        wrote = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard tunnel.relaying else { return }
        let peer = tunnel.peer(toUpstream: toUpstream)
        if wrote {
            wrote = false
            peer.flush()
        }
        if !peer.isWritable {
            // Resumed by the peer's relay when it drains.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // This channel drained: the other side may read again.
        if context.channel.isWritable {
            tunnel.peer(toUpstream: toUpstream).setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tunnel.sideClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
