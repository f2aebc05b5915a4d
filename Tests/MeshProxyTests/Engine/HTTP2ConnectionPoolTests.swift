@testable import MeshProxy
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Testing

/// The upstream HTTP/2 pool against a real HTTP/2 server on loopback: streams share a connection
/// up to `max_concurrent_streams`, `max_requests_per_connection` drains a connection, and a
/// stream waiting for a connection being set up is a pending request for the circuit breaker.
@Suite struct HTTP2ConnectionPoolTests {
    /// Counts the connections the pool opens and the pending slots it takes.
    final class Counters: Sendable {
        let opened = NIOLockedValueBox(0)
        let pending = NIOLockedValueBox(0)
        /// Connection slots taken (the connection circuit breaker's count).
        let slots = NIOLockedValueBox(0)
    }

    static func settings(_ counters: Counters, maxStreams: Int? = nil, maxRequests: Int? = nil, maxConnections: Int? = nil,
                         pendingAllowed: Bool = true) -> UpstreamPoolSettings {
        var settings = UpstreamPoolSettings(
            connectTimeout: .seconds(2), idleTimeout: nil, maxRequestsPerConnection: maxRequests, maxConcurrentStreams: maxStreams,
            acquireConnectionSlot: {
                counters.slots.withLockedValue { taken in
                    guard taken < (maxConnections ?? Int.max) else { return false }
                    taken += 1
                    return true
                }
            },
            releaseConnectionSlot: { counters.slots.withLockedValue { $0 -= 1 } },
            acquirePendingSlot: { pendingAllowed ? counters.pending.withLockedValue { $0 += 1; return true } : false },
            releasePendingSlot: { counters.pending.withLockedValue { $0 -= 1 } },
            connectionOpened: { counters.opened.withLockedValue { $0 += 1 } }, connectFailed: {})
        settings.forceConnectionSlot = { counters.slots.withLockedValue { $0 += 1 } }
        return settings
    }

    /// An h2c server that accepts streams and never answers (they stay open).
    static func server(group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Acquires `count` streams one after another (each waits for the previous), keeping them
    /// open unless `closeEach`.
    static func acquire(_ pool: HTTP2ConnectionPool, key: UpstreamEndpointKey, count: Int, closeEach: Bool) async throws -> [UpstreamChannel] {
        var streams: [UpstreamChannel] = []
        for _ in 0..<count {
            let promise = pool.eventLoop.makePromise(of: NIOLoopBound<UpstreamChannel>.self)
            pool.eventLoop.execute {
                pool.acquire(key) { result in
                    switch result {
                    case .success(let stream): promise.succeed(NIOLoopBound(stream, eventLoop: pool.eventLoop))
                    case .failure(let failure): promise.fail(failure)
                    }
                }
            }
            let stream = try await promise.futureResult.get()
            if closeEach {
                try await pool.eventLoop.submit { stream.value.channel.close(promise: nil) }.get()
                try await Task.sleep(for: .milliseconds(20))
            }
            streams.append(try await pool.eventLoop.submit { stream.value }.get())
        }
        return streams
    }

    /// Runs `body` with a pool (made by `makePool` on the group's loop) and the server's key, then
    /// closes the pool's connections and the server.
    static func withPool(_ settings: UpstreamPoolSettings...,
                         perform body: ([HTTP2ConnectionPool], UpstreamEndpointKey) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.server(group: group)
        let key = UpstreamEndpointKey(host: "127.0.0.1", port: try #require(server.localAddress?.port))
        let pools = settings.map { HTTP2ConnectionPool(eventLoop: group.next(), settings: $0) }
        do { try await body(pools, key) } catch { Issue.record(error) }
        try await group.next().submit { for pool in pools { pool.closeAll() } }.get()
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test func streamsShareAConnectionUpToTheStreamLimit() async throws {
        let limited = Counters(), unlimited = Counters()
        try await Self.withPool(Self.settings(limited, maxStreams: 2), Self.settings(unlimited)) { pools, key in
            _ = try await Self.acquire(pools[0], key: key, count: 5, closeEach: false)
            #expect(limited.opened.withLockedValue { $0 } == 3, "5 open streams, 2 per connection")
            _ = try await Self.acquire(pools[1], key: key, count: 5, closeEach: false)
            #expect(unlimited.opened.withLockedValue { $0 } == 1, "multiplexed on one connection")
        }
    }

    @Test func maxRequestsPerConnectionDrainsAConnection() async throws {
        let counters = Counters()
        try await Self.withPool(Self.settings(counters, maxRequests: 2)) { pools, key in
            _ = try await Self.acquire(pools[0], key: key, count: 6, closeEach: true)
            #expect(counters.opened.withLockedValue { $0 } == 3, "2 streams per connection over 6 requests")
            #expect(counters.pending.withLockedValue { $0 } == 0, "every pending slot was given back")
        }
    }

    /// Envoy queues a request that finds every connection at its stream limit when the connection
    /// breaker allows no other: it gets the first stream that ends.
    @Test func aRequestWaitsForAStreamWhenNoConnectionMayBeOpened() async throws {
        let counters = Counters()
        try await Self.withPool(Self.settings(counters, maxStreams: 2, maxConnections: 1)) { pools, key in
            let pool = pools[0]
            // Kept: an UpstreamChannel that goes away resets its stream.
            let first = try await Self.acquire(pool, key: key, count: 2, closeEach: false)
            let third = pool.eventLoop.makePromise(of: Void.self)
            let answered = NIOLockedValueBox(false)
            try await pool.eventLoop.submit {
                pool.acquire(key) { result in
                    answered.withLockedValue { $0 = true }
                    switch result {
                    case .success: third.succeed(())
                    case .failure(let failure): third.fail(failure)
                    }
                }
            }.get()
            try await Task.sleep(for: .milliseconds(100))
            #expect(!answered.withLockedValue { $0 }, "the third request waits instead of overflowing")
            #expect(counters.pending.withLockedValue { $0 } == 1, "a waiting request holds a pending slot")
            // A stream ends: the waiting request takes its place on the same connection.
            try await first[0].channel.close()
            try await third.futureResult.get()
            withExtendedLifetime(first) {}
            #expect(counters.opened.withLockedValue { $0 } == 1)
            #expect(counters.pending.withLockedValue { $0 } == 0)
        }
    }

    /// A host with no connection gets one even when the cluster's connections are all taken.
    @Test func aHostWithoutConnectionsGetsOneDespiteTheBreaker() async throws {
        let counters = Counters()
        try await Self.withPool(Self.settings(counters, maxConnections: 0)) { pools, key in
            _ = try await Self.acquire(pools[0], key: key, count: 3, closeEach: false)
            #expect(counters.opened.withLockedValue { $0 } == 1)
        }
    }

    @Test func aStreamWaitingForAConnectionNeedsAPendingSlot() async throws {
        try await Self.withPool(Self.settings(Counters(), pendingAllowed: false)) { pools, key in
            await #expect(throws: UpstreamFailure.self) { _ = try await Self.acquire(pools[0], key: key, count: 1, closeEach: false) }
        }
    }
}
