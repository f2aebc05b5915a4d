import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// The HTTP connection manager on an `EmbeddedChannel`: local replies (direct responses, no
/// route, unknown cluster, fault aborts), Envoy's response headers, keep-alive and close.
@Suite struct DownstreamHTTP1HandlerTests {
    static func routeConfiguration() throws -> Envoy_Config_Route_V3_RouteConfiguration {
        try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["app.local"], "routes": [
              {"name": "direct", "match": {"path": "/direct"}, "direct_response": {"status": 202, "body": {"inline_string": "direct answer"}}},
              {"name": "abort", "match": {"prefix": "/abort"}, "route": {"cluster": "missing"},
               "typed_per_filter_config": {"envoy.filters.http.fault": {
                 "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                 "abort": {"http_status": 418, "percentage": {"numerator": 100}}}}},
              {"name": "nowhere", "match": {"prefix": "/"}, "route": {"cluster": "missing"}}
            ]}]}
            """)
    }

    /// - Parameter configure: Changes to the connection manager before it is built.
    static func manager(
        configure: (inout Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager) -> Void = { _ in }
    ) throws -> (HTTPConnectionManagerRuntime, StatsStore) {
        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try routeConfiguration()
        var fault = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        fault.name = "envoy.filters.http.fault"
        fault.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
        hcm.httpFilters = [fault, router]
        configure(&hcm)
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: .standard)
        let stats = StatsStore()
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: ProxyStateStore(), stats: stats, bufferLimit: 1 << 20, logger: Logger(label: "test"))
        return (runtime, stats)
    }

    struct Exchange {
        var head: HTTPResponseHead
        var body: String
        var channelOpen: Bool
    }

    static func send(_ channel: EmbeddedChannel, _ path: String, host: String = "app.local", close: Bool = false) throws -> Exchange? {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "host", value: host)
        if close { head.headers.add(name: "connection", value: "close") }
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        guard case .head(let response)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
        var body = ""
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
            if case .end = part { break }
        }
        return Exchange(head: response, body: body, channelOpen: channel.isActive)
    }

    static func channel(_ runtime: HTTPConnectionManagerRuntime) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try ResponseBytesDecoder.install(DownstreamHTTP1Handler(manager: runtime, isTLS: false), on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        return channel
    }

    @Test func directResponseNoRouteAndUnknownClusterAreLocalReplies() throws {
        let (runtime, stats) = try Self.manager()
        let channel = try Self.channel(runtime)
        let direct = try #require(try Self.send(channel, "/direct"))
        #expect(direct.head.status.code == 202 && direct.body == "direct answer")
        #expect(direct.head.headers.first(name: "content-length") == "13")
        #expect(direct.head.headers.first(name: "server") == "envoy")
        let noRoute = try #require(try Self.send(channel, "/x", host: "other.local"))
        #expect(noRoute.head.status == .notFound && noRoute.body.isEmpty)
        let noCluster = try #require(try Self.send(channel, "/anything"))
        #expect(noCluster.head.status == .serviceUnavailable)
        #expect(stats.value("http.test.downstream_rq_total") == 3)
        #expect(stats.value("http.test.downstream_rq_2xx") == 1 && stats.value("http.test.downstream_rq_4xx") == 1 && stats.value("http.test.downstream_rq_5xx") == 1)
        #expect(channel.isActive)
        _ = try? channel.finish()
    }

    @Test func routeFaultConfigAbortsBeforeTheRouterAndIsCounted() throws {
        let (runtime, stats) = try Self.manager()
        let channel = try Self.channel(runtime)
        let aborted = try #require(try Self.send(channel, "/abort/1"))
        #expect(aborted.head.status.code == 418 && aborted.body == "fault filter abort")
        #expect(stats.value("http.test.fault.aborts_injected") == 1)
        _ = try? channel.finish()
    }

    /// Envoy's default: the proxy answers `Expect: 100-continue` itself, before the filters, and
    /// counts it as a 1xx; with `proxy_100_continue` it leaves that to the upstream.
    @Test(arguments: [false, true])
    func expectContinueIsAnsweredByTheProxyUnlessProxied(proxied: Bool) throws {
        let (runtime, stats) = try Self.manager { $0.proxy100Continue = proxied }
        let channel = try Self.channel(runtime)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/direct")
        head.headers.add(name: "host", value: "app.local")
        head.headers.add(name: "content-length", value: "4")
        head.headers.add(name: "expect", value: "100-Continue")
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        channel.embeddedEventLoop.run()
        var heads: [HTTPResponseStatus] = []
        if case .head(let first)? = try channel.readOutbound(as: HTTPServerResponsePart.self) { heads.append(first.status) }
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "data")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .head(let next) = part { heads.append(next.status) }
        }
        #expect(heads == (proxied ? [.accepted] : [.continue, .accepted]))
        #expect(stats.value("http.test.downstream_rq_1xx") == (proxied ? 0 : 1))
        #expect(stats.value("http.test.downstream_rq_2xx") == 1)
        _ = try? channel.finish()
    }

    /// A local reply to a gRPC request is a trailers-only gRPC response, as Envoy sends it.
    @Test func localRepliesToGRPCRequestsCarryAGRPCStatus() throws {
        let (runtime, _) = try Self.manager()
        let channel = try Self.channel(runtime)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/pkg.Service/Method")
        head.headers.add(name: "host", value: "other.local")
        head.headers.add(name: "content-type", value: "application/grpc+proto")
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        guard case .head(let response)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no response")
            return
        }
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "grpc-status") == "12")  // 404 → UNIMPLEMENTED
        #expect(response.headers.first(name: "content-type") == "application/grpc")
        guard case .end? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("a body after a trailers-only response")
            return
        }
        #expect(HTTPStream.grpcStatus(forHTTPStatus: 503) == 14 && HTTPStream.grpcStatus(forHTTPStatus: 418) == 2)
        #expect(HTTPStream.grpcPercentEncoded("50% done\n") == "50%25 done%0A")
        _ = try? channel.finish()
    }

    @Test func connectionCloseIsHonouredAfterTheResponse() throws {
        let (runtime, _) = try Self.manager()
        let channel = try Self.channel(runtime)
        let response = try #require(try Self.send(channel, "/direct", close: true))
        #expect(response.head.headers.first(name: "connection") == "close")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    // MARK: HTTP/1.0

    /// The bytes the HTTP/1.1 pipeline writes for `request`, and whether the connection stayed open.
    static func wire(_ runtime: HTTPConnectionManagerRuntime, _ request: String) throws -> (response: String, open: Bool) {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 40000)).wait()
        try channel.writeInbound(ByteBuffer(string: request))
        channel.embeddedEventLoop.run()
        var response = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { response += String(buffer: part) }
        let open = channel.isActive
        _ = try? channel.finish()
        return (response, open)
    }

    @Test func http10IsAnswered426AndTheConnectionClosesUnlessAccepted() throws {
        let (runtime, stats) = try Self.manager()
        let rejected = try Self.wire(runtime, "GET /direct HTTP/1.0\r\nhost: app.local\r\n\r\n")
        #expect(rejected.response.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"), "\(rejected.response)")
        #expect(rejected.response.lowercased().contains("connection: close\r\n") && rejected.response.hasSuffix("\r\n\r\nUpgrade Required"))
        #expect(!rejected.open)
        #expect(stats.value("http.test.downstream_cx_protocol_error") == 1)
        #expect(stats.value("http.test.downstream_rq_4xx") == 1)

        let (accepting, _) = try Self.manager { $0.httpProtocolOptions.acceptHTTP10 = true }
        let served = try Self.wire(accepting, "GET /direct HTTP/1.0\r\nhost: app.local\r\n\r\n")
        #expect(served.response.hasPrefix("HTTP/1.0 202 Accepted\r\n") && served.response.hasSuffix("direct answer"), "answered in HTTP/1.0: \(served.response)")
        #expect(served.response.lowercased().contains("connection: close\r\n") && !served.open, "without keep-alive the connection closes")
        let head = try Self.wire(accepting, "HEAD /direct HTTP/1.0\r\nhost: app.local\r\nconnection: keep-alive\r\n\r\n")
        #expect(head.response.hasPrefix("HTTP/1.0 202 Accepted\r\n") && head.response.hasSuffix("\r\n\r\n"), "no body: \(head.response)")
        #expect(head.open, "a length and keep-alive keep the connection")
    }

    @Test func anAcceptedHTTP10RequestWithoutAHostIsRoutedByTheDefaultHost() throws {
        let (runtime, _) = try Self.manager {
            $0.httpProtocolOptions.acceptHTTP10 = true
            $0.httpProtocolOptions.defaultHostForHTTP10 = "app.local"
        }
        let served = try Self.wire(runtime, "GET /direct HTTP/1.0\r\n\r\n")
        #expect(served.response.contains(" 202 ") && served.response.hasSuffix("direct answer"), "\(served.response)")
        // An HTTP/1.1 request without a host is not given one.
        let eleven = try Self.wire(runtime, "GET /direct HTTP/1.1\r\n\r\n")
        #expect(eleven.response.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(eleven.response)")
    }
}
