import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// The HTTP/2 (h2c) connections of one event loop to the hosts of one cluster, as Envoy's HTTP/2
/// pool keeps them: every request is a stream on a host's connection, and another connection is
/// opened only when each one has `max_concurrent_streams` streams open or has carried
/// `max_requests_per_connection` of them (it then drains: no new streams, closed after its last).
/// A stream waiting for a connection still being set up counts against the pending-request
/// circuit breaker, and so does a request that finds every connection at its stream limit when
/// the connection breaker allows no more: it waits for a stream to end or a connection to close.
/// A connection that receives GOAWAY or closes is replaced on the next request.
/// Used only on its event loop.
final class HTTP2ConnectionPool: UpstreamPool {
    private final class Connection {
        let key: UpstreamEndpointKey
        var channel: (any Channel)?
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        var ready: EventLoopFuture<Void>
        var usable = true
        var activeStreams = 0
        /// Streams this connection has carried (for `max_requests_per_connection`).
        var streamsOpened = 0
        /// It has carried its last stream: no new ones, closed after the last ends.
        var draining = false
        /// Both sides' SPIFFE identities, with TLS.
        var tlsIdentities: UpstreamTLSIdentities?
        var idleTimer: Scheduled<Void>?

        init(key: UpstreamEndpointKey, ready: EventLoopFuture<Void>) {
            self.key = key
            self.ready = ready
        }
    }

    let eventLoop: any EventLoop
    var settings: UpstreamPoolSettings
    private var connections: [UpstreamEndpointKey: [Connection]] = [:]

    init(eventLoop: any EventLoop, settings: UpstreamPoolSettings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    /// None: a stream is opened asynchronously, even on a connection with room (``acquire(_:_:)``).
    func takeIdle(_ key: UpstreamEndpointKey) -> UpstreamChannel? { nil }

    func acquire(_ key: UpstreamEndpointKey, _ completion: @escaping (Result<UpstreamChannel, UpstreamFailure>) -> Void) {
        eventLoop.preconditionInEventLoop()
        if let existing = connectionWithCapacity(for: key) {
            // Waiting for a connection that is still being set up: a pending request.
            let pending = existing.channel == nil
            if pending, !settings.acquirePendingSlot() {
                completion(.failure(.overflow))
                return
            }
            openStream(on: existing, pending: pending, completion)
            return
        }
        // A request without a stream is pending (while a connection is set up for it, or while
        // it waits for one): the pending breaker is checked before any connection is opened.
        guard settings.acquirePendingSlot() else {
            completion(.failure(.overflow))
            return
        }
        if settings.acquireConnectionSlot() || forceConnectionForFirst(key) {
            openStream(on: newConnection(key), pending: true, completion)
            return
        }
        // Every connection is at its stream limit and no other may be opened: the request waits
        // for a stream to end (or a connection to close).
        waiters.append(Waiter(key: key, completion: completion))
    }

    /// A waiting request on the host's connections.
    private struct Waiter {
        var key: UpstreamEndpointKey
        var completion: (Result<UpstreamChannel, UpstreamFailure>) -> Void
    }

    private var waiters: [Waiter] = []

    private func connectionWithCapacity(for key: UpstreamEndpointKey) -> Connection? {
        let maxStreams = settings.maxConcurrentStreams ?? Int.max
        return connections[key]?.first(where: { $0.usable && !$0.draining && $0.activeStreams < maxStreams })
    }

    /// As Envoy's pools: a host without any connection gets one even when the cluster's
    /// connections are all taken (by other hosts or workers), so its requests cannot wait for a
    /// connection they will never get. The overflow was counted.
    private func forceConnectionForFirst(_ key: UpstreamEndpointKey) -> Bool {
        guard connections[key]?.isEmpty ?? true else { return false }
        settings.forceConnectionSlot()
        return true
    }

    private func newConnection(_ key: UpstreamEndpointKey) -> Connection {
        let connection = connect(key)
        connections[key, default: []].append(connection)
        return connection
    }

    /// Opens a stream on `connection` once it is ready; `pending` holds a pending-request slot
    /// until then.
    private func openStream(on connection: Connection, pending: Bool, _ completion: @escaping (Result<UpstreamChannel, UpstreamFailure>) -> Void) {
        let key = connection.key
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        connection.activeStreams += 1
        connection.streamsOpened += 1
        if let limit = settings.maxRequestsPerConnection, connection.streamsOpened >= limit {
            // Its last stream: drained, then closed when that ends (``streamClosed(_:)``).
            connection.draining = true
        }
        connection.ready.assumeIsolated().whenComplete { [weak self] result in
            guard let self else { return }
            if pending { self.settings.releasePendingSlot() }
            if case .failure(let error) = result {
                self.streamClosed(connection)
                completion(.failure(error as? UpstreamFailure ?? .connectFailed("\(error)")))
                return
            }
            guard let multiplexer = connection.multiplexer, connection.usable else {
                self.streamClosed(connection)
                completion(.failure(.connectionClosed))
                return
            }
            let handler = NIOLoopBound(UpstreamChannelHandler(), eventLoop: self.eventLoop)
            multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                    try stream.pipeline.syncOperations.addHandler(handler.value)
                }
            }.assumeIsolated().whenComplete { [weak self] result in
                switch result {
                case .success(let stream):
                    let exchange = UpstreamChannel(channel: stream, host: key, tlsIdentities: connection.tlsIdentities, responseDecoder: nil)
                    handler.value.attach(exchange)
                    stream.closeFuture.assumeIsolated().whenComplete { [weak self] _ in self?.streamClosed(connection) }
                    completion(.success(exchange))
                case .failure:
                    self?.streamClosed(connection)
                    completion(.failure(.connectionClosed))
                }
            }
        }
    }

    /// Gives waiting requests for `key` the capacity there is: streams on its connections, then
    /// new connections while the connection breaker allows (or the host has none).
    private func serveWaiters(for key: UpstreamEndpointKey) {
        while let index = waiters.firstIndex(where: { $0.key == key }) {
            let connection: Connection
            let pending: Bool
            if let existing = connectionWithCapacity(for: key) {
                connection = existing
                pending = existing.channel == nil
            } else if settings.acquireConnectionSlot() || forceConnectionForFirst(key) {
                connection = newConnection(key)
                pending = true
            } else {
                return
            }
            let waiter = waiters.remove(at: index)
            // A waiter holds a pending slot; it keeps it while its connection is being set up.
            if !pending { settings.releasePendingSlot() }
            openStream(on: connection, pending: pending, waiter.completion)
        }
    }

    func release(_ channel: UpstreamChannel) {
        // The stream closed itself when the response ended.
    }

    func discard(_ channel: UpstreamChannel) {
        channel.abandon()   // closing a stream channel resets the stream
    }

    func closeAll() {
        for connection in connections.values.joined() {
            connection.usable = false
            connection.idleTimer?.cancel()
            connection.channel?.close(promise: nil)
        }
        connections = [:]
        let abandoned = waiters
        waiters = []
        for waiter in abandoned {
            settings.releasePendingSlot()
            waiter.completion(.failure(.connectionClosed))
        }
    }

    private func streamClosed(_ connection: Connection) {
        connection.activeStreams -= 1
        if !waiters.isEmpty { serveWaiters(for: connection.key) }
        guard connection.activeStreams == 0 else { return }
        guard connection.usable, !connection.draining else {
            // Drained (max_requests_per_connection or GOAWAY): nothing more will use it.
            connection.channel?.close(promise: nil)
            forget(connection)
            return
        }
        guard let timeout = settings.idleTimeout else { return }
        connection.idleTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self, weak connection] in
            guard let connection, connection.activeStreams == 0 else { return }
            connection.usable = false
            connection.channel?.close(promise: nil)
            self?.forget(connection)
        }
    }

    /// Removes a connection from the pool (it closed or will close).
    private func forget(_ connection: Connection) {
        connections[connection.key]?.removeAll { $0 === connection }
        if connections[connection.key]?.isEmpty == true { connections[connection.key] = nil }
    }

    /// A connection closed or failed and gave back its slot: waiting requests may open another.
    private func connectionGone(_ connection: Connection) {
        settings.releaseConnectionSlot()
        forget(connection)
        if !waiters.isEmpty { serveWaiters(for: connection.key) }
    }

    private func connect(_ key: UpstreamEndpointKey) -> Connection {
        let promise = eventLoop.makePromise(of: Void.self)
        let connection = Connection(key: key, ready: promise.futureResult)
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        let handshake = NIOLoopBoundBox<EventLoopFuture<UpstreamTLSIdentities?>?>(nil, eventLoop: eventLoop)
        let callbacks = NIOLoopBound((handshake: settings.tlsHandshake, error: settings.tlsError), eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = key.tls {
                        handshake.value = try channel.pipeline.syncOperations.addUpstreamTLS(tls, onHandshake: callbacks.value.handshake, onError: callbacks.value.error).map { Optional($0) }
                    }
                    var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
                    connectionConfiguration.initialSettings = [
                        HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
                        HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
                    ]
                    var streamConfiguration = NIOHTTP2Handler.StreamConfiguration()
                    streamConfiguration.targetWindowSize = 1 << 20
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connectionConfiguration, streamConfiguration: streamConfiguration,
                        inboundStreamInitializer: { stream in stream.close() })
                    try channel.pipeline.syncOperations.addHandler(GoAwayObserver { bound.value.usable = false })
                    bound.value.multiplexer = multiplexer
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMap { channel in (handshake.value ?? channel.eventLoop.makeSucceededFuture(nil)).map { (channel, $0) } }
            .assumeIsolated()
            .whenComplete { [weak self] result in
                switch result {
                case .success(let (channel, identities)):
                    self?.settings.connectionOpened()
                    connection.channel = channel
                    connection.tlsIdentities = identities
                    // Every stream it was opened for already gave up: nothing will use it.
                    if connection.activeStreams == 0, !connection.usable || connection.draining { channel.close(promise: nil) }
                    channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in
                        connection.usable = false
                        self?.connectionGone(connection)
                    }
                    promise.succeed(())
                case .failure(let error):
                    self?.settings.connectFailed()
                    connection.usable = false
                    self?.connectionGone(connection)
                    promise.fail(UpstreamFailure.connectFailed(HTTP1ConnectionPool.reason(error)))
                }
            }
        return connection
    }
}

/// Marks a connection unusable for new streams once the peer sends GOAWAY.
private final class GoAwayObserver: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    private let onGoAway: () -> Void

    init(onGoAway: @escaping () -> Void) { self.onGoAway = onGoAway }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { onGoAway() }
        context.fireChannelRead(data)
    }
}
