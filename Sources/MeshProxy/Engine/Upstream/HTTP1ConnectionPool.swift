import NIOCore
import NIOHTTP1
import NIOPosix

/// Hands out upstream channels for requests, per event loop and cluster.
protocol UpstreamPool: AnyObject {
    var eventLoop: any EventLoop { get }
    /// A channel for one request to `key`, handed to `completion` on the pool's event loop
    /// (at once when an idle connection is available).
    func acquire(_ key: UpstreamEndpointKey, _ completion: @escaping (Result<UpstreamChannel, UpstreamFailure>) -> Void)
    /// An idle connection to `key` ready for a request, if there is one: the usual case, taken
    /// without making a completion closure.
    func takeIdle(_ key: UpstreamEndpointKey) -> UpstreamChannel?
    /// The response ended normally.
    func release(_ channel: UpstreamChannel)
    /// The request failed or was abandoned: close or reset the channel.
    func discard(_ channel: UpstreamChannel)
    /// Closes everything (cluster removed, proxy stopping).
    func closeAll()
}

/// The HTTP/1.1 connections of one event loop to the hosts of one cluster, as Envoy keeps a pool
/// per worker, cluster and host: idle keep-alive connections are reused (most recent first),
/// new ones are opened while the cluster's connection budget allows, and requests beyond it wait
/// as pending requests. Used only on its event loop.
final class HTTP1ConnectionPool: UpstreamPool {
    typealias Settings = UpstreamPoolSettings

    private struct Waiter {
        var key: UpstreamEndpointKey
        var completion: (Result<UpstreamChannel, UpstreamFailure>) -> Void
    }

    let eventLoop: any EventLoop
    /// A host's idle connections, most recently released last. A class, so that popping and
    /// appending change the list in place: mutating a dictionary value in place goes through
    /// accessor coroutines that allocate their frames.
    private final class IdleConnections {
        var list: [UpstreamChannel] = []
    }

    private var idle: [UpstreamEndpointKey: IdleConnections] = [:]
    private var waiters: [Waiter] = []
    /// Connections open or opening per host (idle or busy), each holding a connection slot.
    private var connections: [UpstreamEndpointKey: Int] = [:]
    /// Closes connections idle for the idle timeout. One timer for the whole pool, armed when a
    /// connection goes idle and none is armed, instead of one scheduled and cancelled per request.
    private var idleSweepTimer: Scheduled<Void>?
    var settings: Settings

    init(eventLoop: any EventLoop, settings: Settings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    func takeIdle(_ key: UpstreamEndpointKey) -> UpstreamChannel? {
        eventLoop.preconditionInEventLoop()
        // Popped in place (no copy of the list); an emptied list stays until the host's last
        // connection is gone (``connectionGone(_:)``), so the next release does not allocate one.
        let idleConnections = idle[key]
        while let connection = idleConnections?.list.popLast() {
            connection.idleSince = nil
            if connection.isReusable && !connection.isClosed && connection.channel.isActive { return connection }
            connection.close()
            connectionGone(key)
            settings.releaseConnectionSlot()
        }
        return nil
    }

    /// A connection to `key`: an idle one, a new one, or one released later (pending).
    func acquire(_ key: UpstreamEndpointKey, _ completion: @escaping (Result<UpstreamChannel, UpstreamFailure>) -> Void) {
        if let connection = takeIdle(key) {
            completion(.success(connection))
            return
        }
        if settings.acquireConnectionSlot() {
            connect(key, completion)
            return
        }
        if connections[key, default: 0] == 0 {
            // As Envoy's pools: one without a connection to the host opens one even when the
            // cluster's connections are all taken (by other workers), so its requests cannot wait
            // for connections they will never get. The overflow was counted.
            settings.forceConnectionSlot()
            connect(key, completion)
            return
        }
        guard settings.acquirePendingSlot() else {
            completion(.failure(.overflow))
            return
        }
        waiters.append(Waiter(key: key, completion: completion))
    }

    /// Gives a connection back after its response ended.
    func release(_ connection: UpstreamChannel) {
        eventLoop.preconditionInEventLoop()
        let exhausted = settings.maxRequestsPerConnection.map { connection.requestsServed >= $0 } ?? false
        guard connection.isReusable, !connection.isClosed, !exhausted else {
            connection.close()
            connectionGone(connection.host)
            slotFreed()
            return
        }
        if let index = waiters.firstIndex(where: { $0.key == connection.host }) {
            let waiter = waiters.remove(at: index)
            settings.releasePendingSlot()
            waiter.completion(.success(connection))
            return
        }
        if let known = idle[connection.host] {
            known.list.append(connection)
        } else {
            let created = IdleConnections()
            created.list.append(connection)
            idle[connection.host] = created
        }
        connection.idleSince = eventLoop.now
        // Set once per connection; it only acts while the connection is idle (``removeIdle(_:)``).
        if connection.onClose == nil { connection.onClose = { [weak self] closed in self?.removeIdle(closed) } }
        if idleSweepTimer == nil, let timeout = settings.idleTimeout { scheduleIdleSweep(at: eventLoop.now + timeout) }
    }

    private func scheduleIdleSweep(at deadline: NIODeadline) {
        idleSweepTimer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in self?.sweepIdle() }
    }

    /// Closes the connections idle for at least the idle timeout and re-arms for the next one due.
    private func sweepIdle() {
        idleSweepTimer = nil
        guard let timeout = settings.idleTimeout else { return }
        let now = eventLoop.now
        var expired: [UpstreamChannel] = []
        var next: NIODeadline?
        for key in Array(idle.keys) {
            guard let connections = idle[key] else { continue }
            var kept: [UpstreamChannel] = []
            kept.reserveCapacity(connections.list.count)
            for connection in connections.list {
                let due = (connection.idleSince ?? now) + timeout
                if due <= now {
                    expired.append(connection)
                } else {
                    kept.append(connection)
                    if next.map({ due < $0 }) ?? true { next = due }
                }
            }
            connections.list = kept
        }
        for connection in expired {
            connection.idleSince = nil
            connection.onClose = nil
            connection.close()
            connectionGone(connection.host)
            settings.releaseConnectionSlot()
        }
        if let next { scheduleIdleSweep(at: next) }
    }

    /// Closes a connection whose request failed or was abandoned.
    /// (HTTP/1.1 cannot cancel a request in flight except by closing the connection.)
    func discard(_ connection: UpstreamChannel) {
        connection.abandon()
        connectionGone(connection.host)
        slotFreed()
    }

    /// Closes every idle connection (cluster removed or engine stopping).
    func closeAll() {
        idleSweepTimer?.cancel()
        idleSweepTimer = nil
        for connections in idle.values { for connection in connections.list { connection.idleSince = nil; connection.onClose = nil; connection.close(); connectionGone(connection.host); settings.releaseConnectionSlot() } }
        idle = [:]
        for waiter in waiters { settings.releasePendingSlot(); waiter.completion(.failure(.connectionClosed)) }
        waiters = []
    }

    private func removeIdle(_ connection: UpstreamChannel) {
        guard connection.idleSince != nil, let connections = idle[connection.host],
              let index = connections.list.firstIndex(where: { $0 === connection }) else { return }
        connections.list.remove(at: index)
        if connections.list.isEmpty { idle[connection.host] = nil }
        connection.idleSince = nil
        connectionGone(connection.host)
        settings.releaseConnectionSlot()
    }

    private func connectionGone(_ key: UpstreamEndpointKey) {
        let count = connections[key, default: 0] - 1
        connections[key] = count > 0 ? count : nil
        if count <= 0, idle[key]?.list.isEmpty == true { idle[key] = nil }
    }

    /// A connection slot was freed: a pending request may connect now.
    private func slotFreed() {
        settings.releaseConnectionSlot()
        guard !waiters.isEmpty, settings.acquireConnectionSlot() else { return }
        let waiter = waiters.removeFirst()
        settings.releasePendingSlot()
        connect(waiter.key, waiter.completion)
    }

    private func connect(_ key: UpstreamEndpointKey, _ completion: @escaping (Result<UpstreamChannel, UpstreamFailure>) -> Void) {
        connections[key, default: 0] += 1
        let handler = NIOLoopBound(UpstreamChannelHandler(), eventLoop: eventLoop)
        let decoder = NIOLoopBound(UpstreamResponseDecoder(leftOverBytesStrategy: .forwardBytes), eventLoop: eventLoop)
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
                    // NIO's response decoder and the handler; requests go out as bytes (``UpstreamChannel``).
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder.value))
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMap { channel in (handshake.value ?? channel.eventLoop.makeSucceededFuture(nil)).map { (channel, $0) } }
            .assumeIsolated()
            .whenComplete { [weak self] result in
                switch result {
                case .success(let (channel, identities)):
                    self?.settings.connectionOpened()
                    let connection = UpstreamChannel(channel: channel, host: key, tlsIdentities: identities, responseDecoder: decoder.value)
                    handler.value.attach(connection)
                    completion(.success(connection))
                case .failure(let error):
                    self?.settings.connectFailed()
                    self?.connectionGone(key)
                    self?.slotFreed()
                    completion(.failure(.connectFailed(Self.reason(error))))
                }
            }
    }

    static func reason(_ error: any Error) -> String {
        if let failure = error as? UpstreamFailure, case .connectFailed(let reason) = failure { return reason }
        if let io = error as? IOError { return "delayed connect error: \(io.errnoCode)" }
        if error is ChannelError { return "\(error)" }
        return "\(error)"
    }
}

/// Limits, timeouts and circuit-breaker hooks a pool takes from its cluster.
struct UpstreamPoolSettings {
    var connectTimeout: TimeAmount
    var idleTimeout: TimeAmount?
    var maxRequestsPerConnection: Int?
    /// HTTP/2 streams per connection before another connection is opened (nil: no limit).
    var maxConcurrentStreams: Int? = nil
    /// Returns false when the cluster's connection circuit breaker is full.
    var acquireConnectionSlot: () -> Bool
    var releaseConnectionSlot: () -> Void
    /// Returns false when the pending-request circuit breaker is full.
    var acquirePendingSlot: () -> Bool
    var releasePendingSlot: () -> Void
    var connectionOpened: () -> Void
    var connectFailed: () -> Void
    /// A TLS handshake with a host completed (`ssl.handshake`).
    var tlsHandshake: () -> Void = {}
    /// A TLS handshake failed or the server failed verification (`ssl.connection_error`).
    var tlsError: () -> Void = {}
    /// Takes a connection slot over the limit (see ``HTTP1ConnectionPool/acquire(_:_:)``).
    var forceConnectionSlot: () -> Void = {}
}
