import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import SwiftProtobuf
import Testing

/// A stream and what refers back to it (its filter contexts, its timers' ``StreamLink``, the
/// responder) hold one another strongly until the stream completes, instead of through weak
/// references: each way a stream ends must let it go, even with a filter's timer still pending.
@Suite struct StreamReleaseTests {
    final class Connection {
        let channel = EmbeddedChannel()
        let handler: DownstreamHTTP2Handler

        init(lingering: Bool = false) throws {
            // Every stream timer armed: stream idle, request and max stream duration.
            let runtime: HTTPConnectionManagerRuntime
            if lingering {
                runtime = try StreamReleaseTests.lingeringManager()
            } else {
                (runtime, _) = try StreamTimeoutTests.manager {
                    $0.streamIdleTimeout = StreamTimeoutTests.seconds(5)
                    $0.requestTimeout = StreamTimeoutTests.seconds(30)
                    $0.commonHTTPProtocolOptions.maxStreamDuration = StreamTimeoutTests.seconds(40)
                }
            }
            handler = DownstreamHTTP2Handler(manager: runtime, isTLS: false, streamIdleSweeper: StreamIdleSweeper(eventLoop: channel.embeddedEventLoop))
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        }

        /// Opens stream `id` for `path` and returns a weak view of its ``HTTPStream`` (nil if it
        /// finished at once).
        func open(_ id: HTTP2StreamID, _ path: String) throws -> WeakStream {
            let headers: HPACKHeaders = [":method": "GET", ":scheme": "http", ":authority": "app.local", ":path": path]
            try channel.writeInbound(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true))))
            return WeakStream(handler.streams[id]?.stream)
        }

        /// The `:status` of every response written since the last call.
        func statuses() throws -> [HTTP2StreamID: String] {
            var found: [HTTP2StreamID: String] = [:]
            while let frame = try channel.readOutbound(as: HTTP2Frame.self) {
                if case .headers(let headers) = frame.payload, let status = headers.headers.first(name: ":status") { found[frame.streamID] = status }
            }
            return found
        }
    }

    struct WeakStream {
        weak var stream: HTTPStream?
        init(_ stream: HTTPStream?) { self.stream = stream }
    }

    final class WeakHandler {
        weak var handler: DownstreamHTTP1Handler?
    }

    /// A connected HTTP/1.1 connection manager, and a weak view of its handler.
    static func http1Connection(_ runtime: HTTPConnectionManagerRuntime) throws -> (channel: EmbeddedChannel, weak: WeakHandler) {
        let channel = EmbeddedChannel()
        let weak = WeakHandler()
        let handler = DownstreamHTTP1Handler(manager: runtime, isTLS: false)
        weak.handler = handler
        try ResponseBytesDecoder.install(handler, on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        return (channel, weak)
    }

    @Test func aStreamAnsweredAtOnceIsReleased() throws {
        let connection = try Connection()
        let weak = try connection.open(1, "/direct")
        connection.channel.embeddedEventLoop.run()
        connection.channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: nil))
        #expect(try connection.statuses() == [1: "202"])
        #expect(weak.stream == nil)
    }

    /// The fault filter's one-minute delay still holds its filter context when the client resets
    /// the stream: the context lets the stream go as it completes.
    @Test func aStreamResetWhileAFilterHoldsItIsReleased() throws {
        let connection = try Connection()
        let weak = try connection.open(1, "/held")
        #expect(weak.stream != nil, "the fault delay holds the stream")
        connection.channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: .cancel))
        connection.channel.embeddedEventLoop.run()
        #expect(weak.stream == nil, "released before the delay's timer fires")
    }

    /// An embedder's filter that keeps its context (for a task that resumes it later, say) and
    /// stops the request.
    final class LingeringFilter: HTTPFilter {
        /// Used by one test only, on its own thread (an `EmbeddedChannel` runs where it is driven).
        nonisolated(unsafe) static var kept: [HTTPFilterContext] = []

        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            Self.kept.append(context)
            return .stopIteration
        }
    }

    struct LingeringFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.Struct"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { LingeringFilter() }
    }

    static func lingeringManager() throws -> HTTPConnectionManagerRuntime {
        var registry = HTTPFilterRegistry.standard
        registry.register(LingeringFilterFactory.self)
        var lingering = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        lingering.name = "example.lingering"
        lingering.typedConfig = try Google_Protobuf_Any(message: Google_Protobuf_Struct())
        return try StreamTimeoutTests.manager(leadingFilters: [lingering], registry: registry).0
    }

    /// A filter that kept its context past the stream's end does not keep the stream: the
    /// context is empty from then on, as its documentation says.
    @Test func aContextKeptByAFilterLetsTheStreamGo() throws {
        let connection = try Connection(lingering: true)
        let weak = try connection.open(1, "/direct")
        #expect(weak.stream != nil, "the filter stopped the request")
        connection.channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: .cancel))
        connection.channel.embeddedEventLoop.run()
        #expect(weak.stream == nil)
        let context = try #require(LingeringFilter.kept.last)
        #expect(context.routeName == nil && context.allDynamicMetadata.isEmpty)
        LingeringFilter.kept.removeAll()
    }

    @Test func streamsOfAClosedConnectionAreReleased() throws {
        let connection = try Connection()
        let held = try connection.open(1, "/held")
        let bounded = try connection.open(3, "/bounded")
        #expect(held.stream != nil && bounded.stream != nil)
        try connection.channel.close().wait()
        connection.channel.embeddedEventLoop.run()
        #expect(held.stream == nil && bounded.stream == nil)
    }

    @Test func aStreamEndedByItsTimerIsReleased() throws {
        let connection = try Connection()
        let weak = try connection.open(1, "/bounded")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try connection.statuses() == [1: "504"], "the route's max_stream_duration")
        connection.channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: nil))
        #expect(weak.stream == nil)
    }

    /// An HTTP/1.1 connection's handler, held by its own timers (idle timeout, max connection
    /// duration) while it is in the pipeline, and its held stream go with the connection.
    @Test func anHTTP1ConnectionAndItsStreamAreReleased() throws {
        let (runtime, _) = try StreamTimeoutTests.manager {
            $0.streamIdleTimeout = StreamTimeoutTests.seconds(5)
            $0.commonHTTPProtocolOptions.idleTimeout = StreamTimeoutTests.seconds(60)
            $0.commonHTTPProtocolOptions.maxConnectionDuration = StreamTimeoutTests.seconds(600)
        }
        let (channel, weak) = try Self.http1Connection(runtime)
        try StreamTimeoutTests.send(channel, "/held")
        let stream = WeakStream(weak.handler?.stream)
        #expect(stream.stream != nil, "the fault delay holds the request")
        try channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(weak.handler == nil && stream.stream == nil)
    }

    /// A pipelined request still held when the connection closes must not start a stream nobody ends.
    @Test func aPipelinedRequestHeldAtCloseStartsNoStream() throws {
        let (runtime, stats) = try StreamTimeoutTests.manager()
        let (channel, weak) = try Self.http1Connection(runtime)
        try StreamTimeoutTests.send(channel, "/held")
        let first = WeakStream(weak.handler?.stream)
        // The second request's head and part of its body, held behind the first.
        try StreamTimeoutTests.send(channel, "/held", headers: [("content-length", "10")], complete: false)
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "12345")))
        #expect(first.stream != nil && stats.value("http.test.downstream_rq_total") == 1, "the second request waits behind the first")
        try channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(weak.handler == nil && first.stream == nil)
        #expect(stats.value("http.test.downstream_rq_total") == 1, "the held request never started")
    }
}
