@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

/// `max_connection_duration` on downstream HTTP/2 connections (``DownstreamHTTP2DrainHandler``),
/// driven by the stream events NIO's HTTP/2 handler emits and the embedded loop's virtual clock:
/// Envoy's drain sequence of a shutdown-notice GOAWAY, the final GOAWAY after `drain_timeout`, then
/// the close once the open streams are done.
@Suite struct HTTP2ConnectionDurationTests {
    final class Count: @unchecked Sendable { var value = 0 }

    static func channel(_ handler: DownstreamHTTP2DrainHandler) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8000)).wait()
        return channel
    }

    /// The last-stream ID of the next GOAWAY written, nil when nothing was written.
    static func goAway(_ channel: EmbeddedChannel) throws -> HTTP2StreamID? {
        guard let frame = try channel.readOutbound(as: HTTP2Frame.self) else { return nil }
        guard case .goAway(let lastStreamID, let code, _) = frame.payload else {
            Issue.record("expected a GOAWAY, got \(frame.payload)")
            return nil
        }
        #expect(code == .noError)
        #expect(frame.streamID == .rootStream)
        return lastStreamID
    }

    static func created(_ channel: EmbeddedChannel, _ id: Int) {
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: HTTP2StreamID(id), localInitialWindowSize: nil, remoteInitialWindowSize: nil))
    }

    static func closed(_ channel: EmbeddedChannel, _ id: Int) {
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: HTTP2StreamID(id), reason: nil))
    }

    @Test func aBusyConnectionGetsTwoGoAwaysAndClosesAfterItsLastStream() throws {
        let reached = Count()
        let channel = try Self.channel(DownstreamHTTP2DrainHandler(maxConnectionDuration: .seconds(60), drainTimeout: .seconds(5), maxDurationReached: { reached.value += 1 }))
        Self.created(channel, 1)
        Self.created(channel, 3)
        Self.closed(channel, 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(try Self.goAway(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        // The shutdown notice: every stream, even new ones, is still served.
        #expect(try Self.goAway(channel) == .maxID)
        #expect(reached.value == 1)
        Self.created(channel, 5)
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(try Self.goAway(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        // The final GOAWAY names the last stream the client opened; the connection stays for it.
        #expect(try Self.goAway(channel) == HTTP2StreamID(5))
        #expect(channel.isActive)
        Self.closed(channel, 3)
        #expect(channel.isActive)
        Self.closed(channel, 5)
        #expect(!channel.isActive)
        #expect(reached.value == 1)
    }

    @Test func anIdleConnectionClosesWithTheFinalGoAway() throws {
        let channel = try Self.channel(DownstreamHTTP2DrainHandler(maxConnectionDuration: .seconds(10), drainTimeout: .seconds(2)))
        Self.created(channel, 1)
        Self.closed(channel, 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try Self.goAway(channel) == .maxID)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try Self.goAway(channel) == HTTP2StreamID(1))
        #expect(!channel.isActive)
    }

    @Test func withoutALimitOnlyAListenerDrainSendsAGoAway() throws {
        let channel = try Self.channel(DownstreamHTTP2DrainHandler())
        Self.created(channel, 1)
        channel.embeddedEventLoop.advanceTime(by: .hours(24))
        #expect(try Self.goAway(channel) == nil)
        channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent())
        #expect(try Self.goAway(channel) == .maxID)
        channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent())
        #expect(try Self.goAway(channel) == nil)
        #expect(channel.isActive)
    }

    @Test func aListenerDrainBeforeTheLimitSendsOneNoticeThenTheFinalGoAway() throws {
        let channel = try Self.channel(DownstreamHTTP2DrainHandler(maxConnectionDuration: .seconds(10), drainTimeout: .seconds(1)))
        Self.created(channel, 7)
        channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent())
        #expect(try Self.goAway(channel) == .maxID)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try Self.goAway(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try Self.goAway(channel) == HTTP2StreamID(7))
        Self.closed(channel, 7)
        #expect(!channel.isActive)
    }
}
