@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import MeshXDS
import Testing

/// The connection-level HTTP/2 connection manager (``DownstreamHTTP2Handler``) on an
/// `EmbeddedChannel`, fed the frames and events NIO's HTTP/2 codec emits: responses as frames on
/// the right streams, flow control, resets, the idle timeout and `max_requests_per_connection`,
/// and the header conversion both ways.
@Suite struct DownstreamHTTP2HandlerTests {
    static func channel(_ runtime: HTTPConnectionManagerRuntime) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let handler = DownstreamHTTP2Handler(manager: runtime, isTLS: false, streamIdleSweeper: StreamIdleSweeper(eventLoop: channel.embeddedEventLoop))
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        return channel
    }

    static func handler(_ channel: EmbeddedChannel) throws -> DownstreamHTTP2Handler {
        try channel.pipeline.syncOperations.handler(type: DownstreamHTTP2Handler.self)
    }

    static func request(_ channel: EmbeddedChannel, stream: Int, method: String = "GET", path: String, authority: String = "app.local", endStream: Bool = true) throws {
        let headers: HPACKHeaders = [":method": method, ":scheme": "http", ":authority": authority, ":path": path]
        try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: headers, endStream: endStream))))
        channel.embeddedEventLoop.run()
    }

    static func outbound(_ channel: EmbeddedChannel) throws -> [HTTP2Frame] {
        var frames: [HTTP2Frame] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(frame) }
        return frames
    }

    static func window(_ channel: EmbeddedChannel, stream: Int, inbound: Int?, outbound: Int? = nil) {
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: HTTP2StreamID(stream), inboundWindowSize: inbound, outboundWindowSize: outbound))
        channel.embeddedEventLoop.run()
    }

    static func closed(_ channel: EmbeddedChannel, stream: Int) {
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: HTTP2StreamID(stream), reason: nil))
        channel.embeddedEventLoop.run()
    }

    @Test func aResponseIsOneHeadersAndOneDataFrameCarryingTheEndOfStream() throws {
        let (runtime, _) = try DownstreamHTTP1HandlerTests.manager()
        let channel = try Self.channel(runtime)
        try Self.request(channel, stream: 1, path: "/direct")
        let frames = try Self.outbound(channel)
        #expect(frames.count == 2)
        guard frames.count == 2, case .headers(let headers) = frames[0].payload, case .data(let data) = frames[1].payload,
              case .byteBuffer(let body) = data.data else {
            Issue.record("expected HEADERS and DATA, got \(frames)")
            return
        }
        #expect(frames.allSatisfy { $0.streamID == 1 })
        #expect(headers.headers.first(name: ":status") == "202")
        #expect(headers.headers.first(name: "content-length") == "13")
        #expect(!headers.endStream)
        #expect(String(buffer: body) == "direct answer")
        #expect(data.endStream)
    }

    @Test func interleavedStreamsAreAnsweredOnTheirOwnStreams() throws {
        let (runtime, stats) = try DownstreamHTTP1HandlerTests.manager()
        let channel = try Self.channel(runtime)
        // Stream 1 carries a body still to come; stream 3 asks for a host nobody serves.
        try Self.request(channel, stream: 1, method: "POST", path: "/direct", endStream: false)
        try Self.request(channel, stream: 3, path: "/x", authority: "other.local")
        let frames = try Self.outbound(channel)
        let statuses = frames.compactMap { frame -> (HTTP2StreamID, String)? in
            guard case .headers(let headers) = frame.payload, let status = headers.headers.first(name: ":status") else { return nil }
            return (frame.streamID, status)
        }
        #expect(statuses.map(\.0) == [1, 3])
        #expect(statuses.map(\.1) == ["202", "404"])
        #expect(stats.value("http.test.downstream_rq_total") == 2)
        // Stream 1 was answered before its body ended: the client is asked to stop sending.
        let resets = frames.compactMap { frame -> (HTTP2StreamID, HTTP2ErrorCode)? in
            guard case .rstStream(let code) = frame.payload else { return nil }
            return (frame.streamID, code)
        }
        #expect(resets.map(\.0) == [1] && resets.map(\.1) == [.noError])
        // The codec closes stream 3, ended both ways; stream 1 stays known until the codec reports
        // it closed, and a body still in flight is dropped.
        Self.closed(channel, stream: 3)
        #expect(try Self.handler(channel).streams.keys.sorted() == [1])
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "late")), endStream: true))))
        #expect(try Self.outbound(channel).isEmpty)
        Self.closed(channel, stream: 1)
        #expect(try Self.handler(channel).streams.isEmpty)
    }

    /// A connection manager whose `/slow` route holds requests in a 60-second fault delay (the
    /// embedded loop's clock only moves when told), so their streams stay open.
    static func slowManager() throws -> HTTPConnectionManagerRuntime {
        try DownstreamHTTP1HandlerTests.manager { hcm in
            hcm.routeConfig = try! Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
                {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [
                  {"name": "slow", "match": {"prefix": "/slow"}, "route": {"cluster": "missing"},
                   "typed_per_filter_config": {"envoy.filters.http.fault": {
                     "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                     "delay": {"fixed_delay": "60s", "percentage": {"numerator": 100}}}}},
                  {"name": "direct", "match": {"prefix": "/"}, "direct_response": {"status": 202, "body": {"inline_string": "direct answer"}}}
                ]}]}
                """)
        }.0
    }

    static func windowUpdates(_ channel: EmbeddedChannel) throws -> [(HTTP2StreamID, Int)] {
        try outbound(channel).compactMap { frame -> (HTTP2StreamID, Int)? in
            guard case .windowUpdate(let increment) = frame.payload else { return nil }
            return (frame.streamID, increment)
        }
    }

    @Test func aPausedRequestBodyKeepsItsWindowClosedUntilResumed() throws {
        let channel = try Self.channel(try Self.slowManager())
        try Self.request(channel, stream: 1, method: "POST", path: "/slow", endStream: false)
        #expect(try Self.outbound(channel).isEmpty, "the fault delay holds the request")
        let stream = try #require(try Self.handler(channel).streams[1])
        // The upstream cannot take more: the stream's consumed window stays consumed (the
        // connection's is still reopened, for the other streams).
        stream.setRequestBodyFlowing(false)
        Self.window(channel, stream: 1, inbound: 1000)
        Self.window(channel, stream: 0, inbound: 1000)
        #expect(try Self.windowUpdates(channel).map(\.0) == [.rootStream])
        // Drained: the window reopens from what the client last had.
        stream.setRequestBodyFlowing(true)
        let updates = try Self.windowUpdates(channel)
        #expect(updates.map(\.0) == [1] && updates.map(\.1) == [DownstreamHTTP2Handler.streamWindow - 1000])
    }

    @Test func consumedWindowsAreReopenedWhileTheRequestIsStillArriving() throws {
        let channel = try Self.channel(try Self.slowManager())
        try Self.request(channel, stream: 1, method: "POST", path: "/slow", endStream: false)
        _ = try Self.outbound(channel)
        // Above half the target window: nothing to send yet.
        Self.window(channel, stream: 1, inbound: DownstreamHTTP2Handler.streamWindow / 2 + 1)
        Self.window(channel, stream: 0, inbound: DownstreamHTTP2Handler.connectionWindow / 2 + 1)
        #expect(try Self.outbound(channel).isEmpty)
        Self.window(channel, stream: 1, inbound: 1000)
        Self.window(channel, stream: 0, inbound: 65_535 - 1000)
        let updates = try Self.windowUpdates(channel)
        #expect(updates.map(\.0) == [1, .rootStream])
        #expect(updates.map(\.1) == [DownstreamHTTP2Handler.streamWindow - 1000, DownstreamHTTP2Handler.connectionWindow - 64_535])
        // Once the request has ended, its stream window is left alone.
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))))
        Self.window(channel, stream: 1, inbound: 10)
        #expect(try Self.outbound(channel).isEmpty)
    }

    @Test func aStreamIsWritableWhileItsAndTheConnectionsSendWindowsAreOpen() throws {
        let (runtime, _) = try DownstreamHTTP1HandlerTests.manager()
        let channel = try Self.channel(runtime)
        try Self.request(channel, stream: 1, method: "POST", path: "/direct", endStream: false)
        let stream = try #require(try Self.handler(channel).streams[1])
        #expect(stream.isDownstreamWritable)
        Self.window(channel, stream: 1, inbound: nil, outbound: 0)
        #expect(!stream.isDownstreamWritable)
        Self.window(channel, stream: 1, inbound: nil, outbound: 10)
        #expect(stream.isDownstreamWritable)
        Self.window(channel, stream: 0, inbound: nil, outbound: 0)
        #expect(!stream.isDownstreamWritable)
        Self.window(channel, stream: 0, inbound: nil, outbound: 65_535)
        #expect(stream.isDownstreamWritable)
    }

    @Test func aMalformedRequestIsResetAndTheConnectionGoesOn() throws {
        let (runtime, _) = try DownstreamHTTP1HandlerTests.manager()
        let channel = try Self.channel(runtime)
        let noPath: HPACKHeaders = [":method": "GET", ":scheme": "http", ":authority": "example"]
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: noPath, endStream: true))))
        let reset = try Self.outbound(channel)
        #expect(reset.count == 1)
        if case .rstStream(let code)? = reset.first?.payload { #expect(code == .protocolError) } else { Issue.record("expected RST_STREAM, got \(reset)") }
        try Self.request(channel, stream: 3, path: "/direct")
        #expect(try Self.outbound(channel).count == 2)
    }

    @Test func aRequestWithoutAuthorityGets400AsInEnvoy() throws {
        let (runtime, stats) = try DownstreamHTTP1HandlerTests.manager()
        let channel = try Self.channel(runtime)
        let noAuthority: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": "/direct"]
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: noAuthority, endStream: false))))
        let frames = try Self.outbound(channel)
        guard case .headers(let response)? = frames.first?.payload else {
            Issue.record("expected a response, got \(frames)")
            return
        }
        #expect(response.headers.first(name: ":status") == "400" && response.endStream)
        // The request had not ended: the stream is closed with NO_ERROR after the answer.
        if case .rstStream(let code)? = frames.last?.payload { #expect(code == .noError) } else { Issue.record("expected RST_STREAM(NO_ERROR), got \(frames)") }
        #expect(stats.value("http.test.downstream_rq_4xx") == 1)
        try Self.request(channel, stream: 3, path: "/direct")
        #expect(!(try Self.outbound(channel)).isEmpty, "the connection goes on")
    }

    @Test func anIdleConnectionDrainsAfterTheIdleTimeoutAsEnvoyDoes() throws {
        let (runtime, stats) = try DownstreamHTTP1HandlerTests.manager()
        let channel = EmbeddedChannel()
        let sweeper = StreamIdleSweeper(eventLoop: channel.embeddedEventLoop)
        try channel.pipeline.syncOperations.addHandler(DownstreamHTTP2Handler(manager: runtime, isTLS: false, streamIdleSweeper: sweeper))
        try channel.pipeline.syncOperations.addHandler(DownstreamHTTP2DrainHandler(drainTimeout: .seconds(5), streamIdleSweeper: sweeper))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        // The connection manager's default idle timeout is one hour.
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: 1, localInitialWindowSize: nil, remoteInitialWindowSize: nil))
        try Self.request(channel, stream: 1, method: "POST", path: "/direct", endStream: false)
        _ = try Self.outbound(channel)
        channel.embeddedEventLoop.advanceTime(by: .minutes(90))
        #expect(channel.isActive, "a stream is open")
        Self.closed(channel, stream: 1)
        channel.embeddedEventLoop.advanceTime(by: .minutes(59))
        #expect(channel.isActive)
        #expect(try Self.outbound(channel).isEmpty)
        // Idle for the hour: the shutdown notice, then after drain_timeout the final GOAWAY and the close.
        channel.embeddedEventLoop.advanceTime(by: .minutes(1) + .seconds(1))
        guard case .goAway(let notice, let code, _)? = try Self.outbound(channel).first?.payload else {
            Issue.record("expected the shutdown GOAWAY")
            return
        }
        #expect(notice == .maxID && code == .noError)
        #expect(channel.isActive, "Envoy waits drain_timeout before the final GOAWAY")
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        let frames = try Self.outbound(channel)
        guard case .goAway(let last, _, _)? = frames.last?.payload else {
            Issue.record("expected the final GOAWAY, got \(frames)")
            return
        }
        #expect(last == 1)
        #expect(!channel.isActive)
        #expect(stats.value("http.test.downstream_cx_idle_timeout") == 1)
    }

    @Test func maxRequestsPerConnectionDrainsTheConnectionAsEnvoyDoes() throws {
        let (runtime, _) = try DownstreamHTTP1HandlerTests.manager { hcm in
            hcm.commonHTTPProtocolOptions.maxRequestsPerConnection = .init(2)
            hcm.drainTimeout = .init(seconds: 5)
        }
        let channel = EmbeddedChannel()
        let sweeper = StreamIdleSweeper(eventLoop: channel.embeddedEventLoop)
        try channel.pipeline.syncOperations.addHandler(DownstreamHTTP2Handler(manager: runtime, isTLS: false, streamIdleSweeper: sweeper))
        try channel.pipeline.syncOperations.addHandler(DownstreamHTTP2DrainHandler(drainTimeout: .seconds(5), streamIdleSweeper: sweeper))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        // The codec's events around each stream, as NIO's HTTP/2 handler fires them.
        func serve(_ id: Int, path: String = "/direct", endStream: Bool = true) throws {
            channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: HTTP2StreamID(id), localInitialWindowSize: nil, remoteInitialWindowSize: nil))
            try Self.request(channel, stream: id, method: endStream ? "GET" : "POST", path: path, endStream: endStream)
        }
        try serve(1)
        Self.closed(channel, stream: 1)
        #expect(try Self.outbound(channel).allSatisfy { if case .goAway = $0.payload { false } else { true } })
        // The second stream reaches the limit: the shutdown notice goes out first, and the stream is served.
        try serve(3, endStream: false)
        let frames = try Self.outbound(channel)
        guard case .goAway(let notice, let code, _)? = frames.first?.payload else {
            Issue.record("expected the GOAWAY first, got \(frames)")
            return
        }
        #expect(notice == .maxID && code == .noError)
        #expect(frames.dropFirst().allSatisfy { $0.streamID == 3 })
        // After drain_timeout the final GOAWAY names the last stream; the close waits for it to end.
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        guard case .goAway(let final, _, _)? = try Self.outbound(channel).first?.payload else {
            Issue.record("expected the final GOAWAY")
            return
        }
        #expect(final == 3)
        #expect(channel.isActive)
        Self.closed(channel, stream: 3)
        #expect(!channel.isActive)
    }

    /// Collects the frames a client-side codec reads.
    final class FrameRecorder: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        var frames: [HTTP2Frame] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }
    }

    /// Moves bytes both ways between a client codec and the proxy's pipeline until neither writes.
    static func shuttle(_ client: EmbeddedChannel, _ server: EmbeddedChannel) throws {
        var moved = true
        while moved {
            moved = false
            client.embeddedEventLoop.run()
            while let bytes = try client.readOutbound(as: IOData.self) {
                guard case .byteBuffer(let buffer) = bytes else { continue }
                try server.writeInbound(buffer)
                moved = true
            }
            server.embeddedEventLoop.run()
            while let bytes = try server.readOutbound(as: IOData.self) {
                guard case .byteBuffer(let buffer) = bytes else { continue }
                try client.writeInbound(buffer)
                moved = true
            }
        }
    }

    @Test func throughTheRealCodecAnEarlyResponseKeepsItsBodyAndThenResetsTheUpload() throws {
        let (runtime, _) = try DownstreamHTTP1HandlerTests.manager()
        let server = EmbeddedChannel()
        try server.pipeline.syncOperations.configureDownstreamHTTP2(manager: runtime, isTLS: false)
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        let client = EmbeddedChannel()
        let recorder = FrameRecorder()
        try client.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client))
        try client.pipeline.syncOperations.addHandler(recorder)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        try Self.shuttle(client, server)
        // An upload whose body is still to come, answered at once by a direct response.
        let headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":authority": "app.local", ":path": "/direct"]
        client.writeAndFlush(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: headers, endStream: false))), promise: nil)
        try Self.shuttle(client, server)
        let stream = recorder.frames.filter { $0.streamID == 1 }
        guard stream.count == 3, case .headers(let head) = stream[0].payload, case .data(let data) = stream[1].payload,
              case .byteBuffer(let body) = data.data, case .rstStream(let code) = stream[2].payload else {
            Issue.record("expected HEADERS, DATA and RST_STREAM on stream 1, got \(stream)")
            return
        }
        #expect(head.headers.first(name: ":status") == "202")
        #expect(String(buffer: body) == "direct answer" && data.endStream)
        #expect(code == .noError)
        // The connection goes on.
        client.writeAndFlush(HTTP2Frame(streamID: 3, payload: .headers(.init(headers: [":method": "GET", ":scheme": "http", ":authority": "app.local", ":path": "/direct"], endStream: true))), promise: nil)
        try Self.shuttle(client, server)
        #expect(recorder.frames.contains { frame in
            if case .data(let data) = frame.payload { frame.streamID == 3 && data.endStream } else { false }
        })
        _ = try? client.finish()
        _ = try? server.finish()
    }

    @Test func requestHeadersBecomeAnHTTP1StyleHead() throws {
        let post = try HTTP2HeaderConversion.requestHead([
            ":method": "POST", ":scheme": "https", ":authority": "app.local:8443", ":path": "/a?b=c",
            "cookie": "a=1", "x-id": "7", "cookie": "b=2", "host": "ignored.local",
        ], endStream: false)
        #expect(post.method == .POST && post.uri == "/a?b=c" && post.version == .init(major: 2, minor: 0))
        #expect(Array(post.headers.map(\.name)) == ["host", "x-id", "cookie", "transfer-encoding"])
        #expect(post.headers.first(name: "host") == "app.local:8443")
        #expect(post.headers.first(name: "cookie") == "a=1; b=2")
        #expect(post.headers.first(name: "transfer-encoding") == "chunked")
        let empty = try HTTP2HeaderConversion.requestHead([":method": "PUT", ":scheme": "http", ":authority": "a", ":path": "/"], endStream: true)
        #expect(empty.headers.first(name: "content-length") == "0")
        let get = try HTTP2HeaderConversion.requestHead([":method": "GET", ":scheme": "http", ":path": "/", "host": "fallback.local"], endStream: false)
        #expect(get.headers.first(name: "host") == "fallback.local" && !get.headers.contains(name: "transfer-encoding"))
        let connect = try HTTP2HeaderConversion.requestHead([":method": "CONNECT", ":authority": "db.local:5432"], endStream: false)
        #expect(connect.method == .CONNECT && connect.uri == "db.local:5432")
        #expect(throws: HTTP2HeaderConversion.MissingPseudoHeader.self) {
            try HTTP2HeaderConversion.requestHead([":scheme": "http", ":authority": "a", ":path": "/"], endStream: true)
        }
    }

    @Test func responseHeadersDropConnectionSpecificFields() {
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Type", value: "text/plain")
        head.headers.add(name: "connection", value: "keep-alive, X-Hop")
        head.headers.add(name: "keep-alive", value: "timeout=5")
        head.headers.add(name: "transfer-encoding", value: "chunked")
        head.headers.add(name: "x-hop", value: "1")
        head.headers.add(name: "upgrade", value: "h2c")
        head.headers.add(name: "x-envoy-upstream-service-time", value: "1")
        let block = HTTP2HeaderConversion.responseHeaders(head)
        #expect(Array(block.map(\.name)) == [":status", "content-type", "x-envoy-upstream-service-time"])
        #expect(block.first(name: ":status") == "200")
        // Values that change per response stay out of the HPACK dynamic table; credentials are never indexed.
        var varying = HTTPResponseHead(version: .http1_1, status: .ok)
        varying.headers.add(name: "content-type", value: "text/plain")
        varying.headers.add(name: "content-length", value: "12")
        varying.headers.add(name: "x-envoy-upstream-service-time", value: "3")
        varying.headers.add(name: "set-cookie", value: "s=1")
        let indexing = Dictionary(uniqueKeysWithValues: HTTP2HeaderConversion.responseHeaders(varying).map { ($0.name, $0.indexable) })
        #expect(indexing == [":status": .indexable, "content-type": .indexable, "content-length": .nonIndexable,
                             "x-envoy-upstream-service-time": .nonIndexable, "set-cookie": .neverIndexed])
        var trailers = HTTPHeaders()
        trailers.add(name: "grpc-status", value: "0")
        trailers.add(name: "Grpc-Message", value: "ok")
        #expect(Array(HTTP2HeaderConversion.trailers(trailers).map(\.name)) == ["grpc-status", "grpc-message"])
    }

    /// A connection learns which fields change between responses and stops indexing them.
    @Test func fieldsWhoseValuesChangeStopBeingIndexed() {
        let policy = ResponseFieldIndexing()
        func indexing(_ requests: String) -> [String: HPACKIndexing] {
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "x-echo-requests", value: requests)
            return Dictionary(uniqueKeysWithValues: HTTP2HeaderConversion.responseHeaders(head, indexing: policy).map { ($0.name, $0.indexable) })
        }
        #expect(indexing("1")["x-echo-requests"] == .indexable)
        #expect(indexing("1")["x-echo-requests"] == .indexable, "the same value repeats")
        #expect(indexing("2")["x-echo-requests"] == .nonIndexable)
        #expect(indexing("1")["x-echo-requests"] == .nonIndexable, "once varying, always varying on this connection")
        #expect(indexing("3")["content-type"] == .indexable)
        // Past the name limit, new names are not indexed.
        for i in 0..<ResponseFieldIndexing.maximumNames { _ = policy.indexing(name: "x-\(i)", value: "v") }
        #expect(policy.indexing(name: "x-new", value: "v") == .nonIndexable)
    }
}
