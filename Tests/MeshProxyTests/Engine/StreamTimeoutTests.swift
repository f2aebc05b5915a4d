import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import SwiftProtobuf
import Testing

/// The connection manager's stream and connection timers on an `EmbeddedChannel` with virtual
/// time, as Envoy's HCM runs them: `stream_idle_timeout` (408 before the request is complete,
/// 504 after, `SI`), `request_timeout`, route `max_stream_duration` and a capped `grpc-timeout`
/// ("downstream duration timeout"), a route `idle_timeout` of zero, `max_connection_duration`,
/// and upgrade requests the configuration does not allow (403 `upgrade_failed`).
@Suite struct StreamTimeoutTests {
    /// A fault delay that holds every request for a minute, so only the timers can answer first.
    static let hold = """
        "typed_per_filter_config": {"envoy.filters.http.fault": {
          "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
          "delay": {"fixed_delay": "60s", "percentage": {"numerator": 100}}}}
        """

    static func routeConfiguration() throws -> Envoy_Config_Route_V3_RouteConfiguration {
        try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["app.local"], "routes": [
              {"name": "direct", "match": {"path": "/direct"}, "direct_response": {"status": 202, "body": {"inline_string": "direct answer"}}},
              {"name": "bounded", "match": {"prefix": "/bounded"}, "route": {"cluster": "missing", "max_stream_duration": {"max_stream_duration": "2s"}}, \(hold)},
              {"name": "grpc", "match": {"prefix": "/grpc"}, "route": {"cluster": "missing", "max_stream_duration": {"grpc_timeout_header_max": "3s"}}, \(hold)},
              {"name": "quiet", "match": {"prefix": "/quiet"}, "route": {"cluster": "missing", "idle_timeout": "0s"}, \(hold)},
              {"name": "held", "match": {"prefix": "/held"}, "route": {"cluster": "missing"}, \(hold)}
            ]}]}
            """)
    }

    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    /// A connection manager with the fault filter and the router (after `leadingFilters`, whose
    /// factories `registry` knows).
    static func manager(leadingFilters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] = [], registry: HTTPFilterRegistry = .standard,
                        _ configure: (inout HCM) -> Void = { _ in }) throws -> (HTTPConnectionManagerRuntime, StatsStore) {
        EnvoyAnyTypes.register()
        var hcm = HCM()
        hcm.statPrefix = "test"
        hcm.routeConfig = try routeConfiguration()
        var fault = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        fault.name = "envoy.filters.http.fault"
        fault.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
        hcm.httpFilters = leadingFilters + [fault, router]
        configure(&hcm)
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: registry)
        let stats = StatsStore()
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: ProxyStateStore(), stats: stats, bufferLimit: 1 << 20, logger: Logger(label: "test"))
        return (runtime, stats)
    }

    static func seconds(_ value: Int64) -> Google_Protobuf_Duration {
        var duration = Google_Protobuf_Duration()
        duration.seconds = value
        return duration
    }

    static func channel(_ runtime: HTTPConnectionManagerRuntime) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try ResponseBytesDecoder.install(DownstreamHTTP1Handler(manager: runtime, isTLS: false), on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        return channel
    }

    /// Sends a request head (and its end unless `complete` is false).
    static func send(_ channel: EmbeddedChannel, _ path: String, headers: [(String, String)] = [], complete: Bool = true) throws {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "host", value: "app.local")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        if complete { try channel.writeInbound(HTTPServerRequestPart.end(nil)) }
        channel.embeddedEventLoop.run()
    }

    /// The response written so far, if any: head and body text.
    static func response(_ channel: EmbeddedChannel) throws -> (head: HTTPResponseHead, body: String)? {
        guard case .head(let head)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
        var body = ""
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
            if case .end = part { break }
        }
        return (head, body)
    }

    @Test func streamIdleTimeoutAnswers504AfterACompleteRequestAnd408Before() throws {
        let (runtime, stats) = try Self.manager { $0.streamIdleTimeout = Self.seconds(5) }
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/held")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4_900))
        #expect(try Self.response(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        let complete = try #require(try Self.response(channel))
        #expect(complete.head.status == .gatewayTimeout && complete.body == "stream timeout")
        #expect(channel.isActive, "a complete request keeps the connection")

        try Self.send(channel, "/held", headers: [("content-length", "10")], complete: false)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        let partial = try #require(try Self.response(channel))
        #expect(partial.head.status == .requestTimeout && partial.body == "stream timeout")
        #expect(partial.head.headers.first(name: "connection") == "close")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "the rest of the request would arrive on a connection without a stream")
        #expect(stats.value("http.test.downstream_rq_idle_timeout") == 2)
    }

    /// The streams of one HTTP/2 connection share its ``StreamIdleSweeper``: each times out at its
    /// own deadline, activity moves only its own, and a finished stream is forgotten.
    @Test func streamsSharingASweeperTimeOutEachAtItsOwnDeadline() throws {
        let (runtime, stats) = try Self.manager { $0.streamIdleTimeout = Self.seconds(5) }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            DownstreamHTTP2Handler(manager: runtime, isTLS: false, streamIdleSweeper: StreamIdleSweeper(eventLoop: channel.embeddedEventLoop)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        func send(_ id: HTTP2StreamID, _ path: String, _ extra: HPACKHeaders = [:], method: String = "GET", end: Bool = true) throws {
            var headers: HPACKHeaders = [":method": method, ":scheme": "http", ":authority": "app.local", ":path": path]
            headers.add(contentsOf: extra)
            try channel.writeInbound(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: end))))
        }
        /// The `:status` each stream answered with since the last call.
        func statuses() throws -> [HTTP2StreamID: Int] {
            var found: [HTTP2StreamID: Int] = [:]
            while let frame = try channel.readOutbound(as: HTTP2Frame.self) {
                if case .headers(let headers) = frame.payload, let status = headers.headers.first(name: ":status") { found[frame.streamID] = Int(status) }
            }
            return found
        }
        let first = HTTP2StreamID(1), second = HTTP2StreamID(3), third = HTTP2StreamID(5)
        try send(first, "/held")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try send(second, "/held", ["content-length": "4"], method: "POST", end: false)
        try send(third, "/direct")
        #expect(try statuses() == [third: 202], "finished at once, never timed out")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        // Activity at 4 s: the second stream's deadline moves to 9 s.
        try channel.writeInbound(HTTP2Frame(streamID: second, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "ab"))))))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(999))
        #expect(try statuses().isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try statuses() == [first: 504], "the first stream at 5 s")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(3_999))
        #expect(try statuses().isEmpty, "the second stream's activity kept it alive past 7 s")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try statuses() == [second: 408], "the second stream at 9 s, its request incomplete")
        #expect(stats.value("http.test.downstream_rq_idle_timeout") == 2)
    }

    @Test func requestTimeoutCoversOnlyTheRequest() throws {
        let (runtime, stats) = try Self.manager { $0.requestTimeout = Self.seconds(8) }
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/held")
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try Self.response(channel) == nil, "a complete request disarms the request timer")
        channel.embeddedEventLoop.advanceTime(by: .seconds(50))
        #expect(try Self.response(channel)?.head.status == .serviceUnavailable, "the delayed request reached the router")

        try Self.send(channel, "/held", headers: [("transfer-encoding", "chunked")], complete: false)
        channel.embeddedEventLoop.advanceTime(by: .seconds(8))
        let timedOut = try #require(try Self.response(channel))
        #expect(timedOut.head.status == .requestTimeout && timedOut.body == "request timeout")
        #expect(stats.value("http.test.downstream_rq_timeout") == 1)
        _ = try? channel.finish()
    }

    @Test func routeMaxStreamDurationAndCappedGRPCTimeout() throws {
        let (runtime, stats) = try Self.manager()
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/bounded")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_999))
        #expect(try Self.response(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        let bounded = try #require(try Self.response(channel))
        #expect(bounded.head.status == .gatewayTimeout && bounded.body == "downstream duration timeout")

        // grpc-timeout is honoured below the cap and capped above it.
        try Self.send(channel, "/grpc", headers: [("grpc-timeout", "1S")])
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try Self.response(channel)?.head.status == .gatewayTimeout)
        try Self.send(channel, "/grpc", headers: [("grpc-timeout", "10S")])
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2_999))
        #expect(try Self.response(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.response(channel)?.body == "downstream duration timeout")
        // Without the header the route has no stream limit: the fault delay ends first.
        try Self.send(channel, "/grpc")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(try Self.response(channel)?.head.status == .serviceUnavailable)
        #expect(stats.value("http.test.downstream_rq_max_duration_reached") == 3)
        _ = try? channel.finish()
    }

    @Test func connectionManagerMaxStreamDurationAndARouteIdleTimeoutOfZero() throws {
        let (runtime, _) = try Self.manager {
            $0.streamIdleTimeout = Self.seconds(5)
            $0.commonHTTPProtocolOptions.maxStreamDuration = Self.seconds(30)
        }
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/quiet")
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(try Self.response(channel) == nil, "idle_timeout 0s on the route disables the stream idle timeout")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try Self.response(channel)?.body == "downstream duration timeout")
        _ = try? channel.finish()
    }

    @Test func maxConnectionDurationClosesAnIdleConnectionAndDrainsABusyOne() throws {
        let (runtime, stats) = try Self.manager { $0.commonHTTPProtocolOptions.maxConnectionDuration = Self.seconds(10) }
        let idle = try Self.channel(runtime)
        idle.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!idle.isActive)

        let busy = try Self.channel(runtime)
        try Self.send(busy, "/held")
        busy.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(busy.isActive, "the stream in flight finishes")
        busy.embeddedEventLoop.advanceTime(by: .seconds(50))
        let response = try #require(try Self.response(busy))
        #expect(response.head.headers.first(name: "connection") == "close")
        busy.embeddedEventLoop.run()
        #expect(!busy.isActive)
        #expect(stats.value("http.test.downstream_cx_max_duration_reached") == 2)
    }

    @Test func upgradesTheConfigurationDoesNotAllowAreRefused() throws {
        let (runtime, _) = try Self.manager()
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/direct", headers: [("connection", "upgrade"), ("upgrade", "websocket")])
        let refused = try #require(try Self.response(channel))
        #expect(refused.head.status == .forbidden)
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "HTTP/1.1 parsing stops at an upgrade request")

        // h2c is not proxied as an upgrade: the request is served as HTTP/1.1.
        let h2c = try Self.channel(runtime)
        try Self.send(h2c, "/direct", headers: [("connection", "upgrade, http2-settings"), ("upgrade", "h2c"), ("http2-settings", "AAMAAABkAAQAoAAA")])
        let served = try #require(try Self.response(h2c))
        #expect(served.head.status.code == 202 && served.body == "direct answer")
        #expect(served.head.headers.first(name: "connection") == "close")
    }

    @Test func upgradesAllowedByTheConnectionManagerOrTheRoute() throws {
        let (runtime, _) = try Self.manager { hcm in
            var websocket = HCM.UpgradeConfig()
            websocket.upgradeType = "websocket"
            hcm.upgradeConfigs = [websocket]
        }
        // Allowed: it reaches the router (here: no such cluster, 503), not a 403.
        let channel = try Self.channel(runtime)
        try Self.send(channel, "/held", headers: [("connection", "Upgrade"), ("upgrade", "WebSocket")])
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(try Self.response(channel)?.head.status == .serviceUnavailable)
    }

    @Test func grpcTimeoutValues() {
        func headers(_ value: String) -> HTTPHeaders { HTTPHeaders([("grpc-timeout", value)]) }
        #expect(HTTPStream.grpcTimeout(headers("1S")) == .seconds(1))
        #expect(HTTPStream.grpcTimeout(headers("250m")) == .milliseconds(250))
        #expect(HTTPStream.grpcTimeout(headers("2H")) == .seconds(7200))
        #expect(HTTPStream.grpcTimeout(headers("99999999u")) == .microseconds(99_999_999))
        #expect(HTTPStream.grpcTimeout(headers("123456789m")) == nil, "more than 8 digits")
        #expect(HTTPStream.grpcTimeout(headers("5x")) == nil && HTTPStream.grpcTimeout(headers("S")) == nil)
        #expect(HTTPStream.grpcTimeoutValue(.milliseconds(1500)) == "1500m")
        #expect(HTTPStream.grpcTimeoutValue(.seconds(200_000)) == "200000S")
    }
}
