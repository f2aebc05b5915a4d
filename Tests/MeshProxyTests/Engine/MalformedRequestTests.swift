import MeshXDS
@testable import MeshProxy
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// A request the HTTP/1.1 codec cannot parse is answered 400 with `connection: close`, and the
/// connection closes (what NIO's error handler did before the connection manager took it over).
@Suite struct MalformedRequestTests {
    static func exchange(_ request: String) throws -> (response: String, open: Bool) {
        let (runtime, _) = try FilterTestSupport.manager([])
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 40000)).wait()
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        channel.embeddedEventLoop.run()
        var response = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { response += String(buffer: part) }
        return (response, channel.isActive)
    }

    @Test(arguments: ["NOT A REQUEST\r\n\r\n", "GET / HTTP/1.1\r\nhost: a\r\nbad header\r\n\r\n", "GET / HTTP/1.1\r\ncontent-length: x\r\n\r\n"])
    func anUnparsableRequestGets400AndTheConnectionCloses(_ request: String) throws {
        let (response, open) = try Self.exchange(request)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(response.lowercased().contains("connection: close\r\n") && response.lowercased().contains("content-length: 0\r\n"))
        #expect(!open)
    }

    /// Holds every request at its headers (so a response is never under way) and counts them.
    final class CountingHoldFilter: HTTPFilter {
        static let seen = NIOLockedValueBox<[String]>([])
        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            Self.seen.withLockedValue { $0.append(head.uri) }
            return .stopIteration
        }
    }

    struct CountingHoldFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.UInt64Value"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { CountingHoldFilter() }
    }

    /// A pipelined request held behind one in flight is not served once a 400 closes the
    /// connection (the client saw only the 400 and may send it again elsewhere).
    @Test func aHeldPipelinedRequestIsNotServedAfterThe400() throws {
        var registry = FilterTestSupport.registry
        registry.register(CountingHoldFilterFactory.self)
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try FilterTestSupport.routes()
        hcm.httpFilters = [
            try FilterTestSupport.filter("hold", Google_Protobuf_UInt64Value(1)),
            try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router()),
        ]
        let configuration = try HTTPConnectionManagerConfiguration(
            hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: registry)
        let (runtime, _) = try FilterTestSupport.runtime(configuration)
        CountingHoldFilter.seen.withLockedValue { $0 = [] }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 40000)).wait()
        _ = try? channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\nNOT HTTP\r\n\r\n"))
        channel.embeddedEventLoop.run()
        var response = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { response += String(buffer: part) }
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(CountingHoldFilter.seen.withLockedValue { $0 } == ["/a"], "only the request in flight got a stream")
        #expect(!channel.isActive)
    }

    @Test func aParsableRequestIsServed() throws {
        let (response, open) = try Self.exchange("GET / HTTP/1.1\r\nhost: app.local\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        #expect(open)
    }
}
