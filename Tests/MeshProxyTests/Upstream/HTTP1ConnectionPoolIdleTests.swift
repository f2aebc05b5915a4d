@testable import MeshProxy
import NIOCore
import NIOEmbedded
import Testing

/// The HTTP/1.1 pool's idle timeout (`common_http_protocol_options.idle_timeout`): a connection
/// idle that long is closed and its slot freed; one taken again in time is not.
@Suite struct HTTP1ConnectionPoolIdleTests {
    final class Slots {
        var released = 0
    }

    @Test func idleConnectionsCloseAfterTheIdleTimeoutEachFromItsOwnRelease() throws {
        let loop = EmbeddedEventLoop()
        let slots = Slots()
        let settings = UpstreamPoolSettings(
            connectTimeout: .seconds(1), idleTimeout: .seconds(10), maxRequestsPerConnection: nil,
            acquireConnectionSlot: { true }, releaseConnectionSlot: { slots.released += 1 },
            acquirePendingSlot: { true }, releasePendingSlot: {}, connectionOpened: {}, connectFailed: {})
        let pool = HTTP1ConnectionPool(eventLoop: loop, settings: settings)
        let key = UpstreamEndpointKey(host: "127.0.0.1", port: 8080)
        func connection() throws -> (UpstreamChannel, EmbeddedChannel) {
            let channel = EmbeddedChannel(loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
            return (UpstreamChannel(channel: channel, host: key, responseDecoder: UpstreamResponseDecoder(leftOverBytesStrategy: .dropBytes)), channel)
        }
        let (a, aChannel) = try connection()
        let (b, bChannel) = try connection()
        pool.release(a)
        loop.advanceTime(by: .seconds(4))
        pool.release(b)
        loop.advanceTime(by: .seconds(1))
        var acquired: UpstreamChannel?
        pool.acquire(key) { result in acquired = try? result.get() }
        #expect(acquired === b, "the most recently idle connection is reused")

        loop.advanceTime(by: .milliseconds(4_999))
        #expect(aChannel.isActive && slots.released == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(!aChannel.isActive && slots.released == 1, "idle for 10 s since its release")
        #expect(bChannel.isActive, "in use, so never idle-closed")

        loop.advanceTime(by: .seconds(1))  // t = 11 s
        pool.release(b)
        loop.advanceTime(by: .milliseconds(9_999))
        #expect(bChannel.isActive, "its idle time counts from its last release")
        loop.advanceTime(by: .milliseconds(1))
        #expect(!bChannel.isActive && slots.released == 2)
    }
}
