import Logging
import NIOCore
import NIOPosix

/// A TCP proxy filter chain at one configuration version.
final class TCPProxyRuntime: Sendable {
    let configuration: TCPProxyConfiguration
    let state: ProxyStateStore
    let logger: Logger
    let connectionsTotal: StatCounter
    /// Istio's network stats filter, nil when not configured.
    let istioStats: IstioStatsRuntime?

    init(configuration: TCPProxyConfiguration, state: ProxyStateStore, stats: StatsStore, istioStats: IstioStatsRuntime? = nil, logger: Logger) {
        self.configuration = configuration
        self.istioStats = istioStats
        self.state = state
        self.logger = logger
        let label = StatsStore.PrometheusName.Label(name: "envoy_tcp_prefix", value: configuration.statPrefix)
        connectionsTotal = stats.counter("tcp.\(configuration.statPrefix).downstream_cx_total", prometheus: .init(name: "envoy_tcp_downstream_cx_total", labels: [label]))
    }
}

/// Proxies one downstream connection's bytes to an upstream host and back, with backpressure
/// (each side reads only while the other can write) and half-close.
final class TCPProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let runtime: TCPProxyRuntime
    private var partner: TCPProxyPartner?
    private var pending: [ByteBuffer] = []
    private var pendingClose = false
    private var context: ChannelHandlerContext?
    private var idleTimer: Scheduled<Void>?
    private var started = false
    /// What the access logs need, recorded only when the proxy has access logs.
    private var accessLog: AccessLogEntry?
    private var accessLogStart: NIODeadline?
    /// Istio's TCP metrics for this connection, when the chain has the stats filter.
    private var istio: TCPIstioReporting?
    /// The destination `original_dst` restored (nil: the socket's local address).
    private let originalDestination: SocketAddress?

    init(runtime: TCPProxyRuntime, tls: DownstreamTLSInfo? = nil, originalDestination: SocketAddress? = nil) {
        self.runtime = runtime
        self.originalDestination = originalDestination
        if let stats = runtime.istioStats { istio = TCPIstioReporting(runtime: stats, tls: tls) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added after TLS termination, the connection is already active.
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        runtime.connectionsTotal.increment()
        if !runtime.configuration.accessLogs.isEmpty {
            accessLogStart = .now()
            var entry = AccessLogEntry(startTime: .now(), durationNanoseconds: 0)
            entry.downstreamLocalAddress = originalDestination ?? context.channel.localAddress
            entry.downstreamRemoteAddress = context.channel.remoteAddress
            accessLog = entry
        }
        connect(context: context, attempt: 1, tried: [UpstreamHost]())
    }

    private func connect(context: ChannelHandlerContext, attempt: Int, tried: [UpstreamHost]) {
        let clusterName = runtime.configuration.cluster(random: FastRandom.next())
        accessLog?.upstreamCluster = clusterName
        let cluster = runtime.state.current.clusters[clusterName]
        istio?.report.cluster = cluster
        guard let cluster else {
            insertFlag(.noClusterFound)
            context.close(promise: nil)
            return
        }
        guard let host = cluster.chooseHost(hash: nil, excluding: tried, maxSelectionAttempts: 1, authority: nil, downstream: DownstreamDestination(localAddress: originalDestination ?? context.channel.localAddress)) else {
            insertFlag(.noHealthyUpstream)
            context.close(promise: nil)
            return
        }
        accessLog?.upstreamHost = "\(host.host.address)"
        if istio != nil { istio?.upstreamHostChosen(host.host) }
        accessLog?.upstreamRequestAttemptCount = attempt
        guard cluster.tryAcquireConnection() else {
            insertFlag(.upstreamOverflow)
            context.close(promise: nil)
            return
        }
        let downstream = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handshake = NIOLoopBoundBox<EventLoopFuture<UpstreamTLSIdentities?>?>(nil, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(cluster.connectTimeout.timeAmount)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = host.key.tls {
                        handshake.value = try channel.pipeline.syncOperations.addUpstreamTLS(
                            tls, onHandshake: { cluster.upstream.stats.increment(.sslHandshake) },
                            onError: { cluster.upstream.stats.increment(.sslConnectionError) }).map { Optional($0) }
                    }
                    try channel.pipeline.syncOperations.addHandler(TCPProxyPartner(downstream: downstream.value))
                }
            }
            .connect(host: host.key.host, port: host.key.port)
            .flatMap { channel in (handshake.value ?? channel.eventLoop.makeSucceededFuture(nil)).map { (channel, $0) } }
            .whenComplete { result in
                let handler = downstream.value
                let context = loopContext.value
                switch result {
                case .success(let (channel, identities)):
                    cluster.stats.connectionOpened(http2: false)
                    handler.istio?.connected(identities: identities, context: context)
                    channel.closeFuture.whenComplete { _ in cluster.releaseConnection(); cluster.stats.connectionClosed() }
                    if handler.accessLog != nil {
                        handler.accessLog?.upstreamLocalAddress = channel.localAddress
                        handler.accessLog?.upstreamRemoteAddress = channel.remoteAddress
                    }
                    if let partner = try? channel.pipeline.syncOperations.handler(type: TCPProxyPartner.self) {
                        handler.partner = partner
                        for buffer in handler.pending { channel.write(buffer, promise: nil) }
                        handler.pending = []
                        channel.flush()
                        if handler.pendingClose { channel.close(mode: .output, promise: nil) }
                    }
                    handler.resetIdleTimer()
                case .failure:
                    cluster.releaseConnection()
                    cluster.stats.connectFailed()
                    cluster.recordFailure(host: host, .connectFailed("connect"))
                    if attempt < handler.runtime.configuration.maxConnectAttempts {
                        handler.connect(context: context, attempt: attempt + 1, tried: tried + [host.host])
                    } else {
                        handler.insertFlag(.upstreamConnectionFailure)
                        context.close(promise: nil)
                    }
                }
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        resetIdleTimer()
        accessLog?.bytesReceived += buffer.readableBytes
        istio?.received += buffer.readableBytes
        if let partner { partner.write(buffer) } else { pending.append(buffer) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flush()
        if let partner, !partner.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if let partner { partner.closeOutput() } else { pendingClose = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        istio?.closed()
        istio = nil
        partner?.close()
        partner = nil
        if var entry = accessLog, let start = accessLogStart {
            accessLog = nil
            let timing = AccessLogEntry.ending(startedAt: start)
            entry.startTime = timing.startTime
            entry.durationNanoseconds = timing.durationNanoseconds
            for log in runtime.configuration.accessLogs { log.log(entry) }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    // Called by the partner.
    func write(_ buffer: ByteBuffer) {
        resetIdleTimer()
        accessLog?.bytesSent += buffer.readableBytes
        istio?.sent += buffer.readableBytes
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }
    func flush() { context?.flush() }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    func closeOutput() { context?.close(mode: .output, promise: nil) }
    func close() { context?.close(promise: nil) }
    func resumeReading() { context?.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }

    /// Records a response flag for the access log and Istio's metrics.
    private func insertFlag(_ flag: ResponseFlags) {
        accessLog?.responseFlags.insert(flag)
        istio?.report.flags.insert(flag)
    }

    private func resetIdleTimer() {
        guard let context, let timeout = runtime.configuration.idleTimeout else { return }
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout.timeAmount) { [weak self] in
            self?.close()
            self?.partner?.close()
        }
    }
}

/// The upstream side of a TCP proxy connection.
final class TCPProxyPartner: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private weak var downstream: TCPProxyHandler?
    private var context: ChannelHandlerContext?

    init(downstream: TCPProxyHandler) { self.downstream = downstream }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { downstream?.write(unwrapInboundIn(data)) }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstream?.flush()
        if downstream?.isWritable == false { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { downstream?.closeOutput() }
    }

    func channelInactive(context: ChannelHandlerContext) { downstream?.close() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { downstream?.resumeReading() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func write(_ buffer: ByteBuffer) { context?.write(wrapOutboundOut(buffer), promise: nil) }
    func flush() { context?.flush() }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    func closeOutput() { context?.close(mode: .output, promise: nil) }
    func close() { context?.close(promise: nil) }
    func resumeReading() { context?.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
}
