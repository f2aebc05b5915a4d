import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// A listener update drains the connections accepted with the previous chains: HTTP/1.1
/// connections close when idle, and a response in flight carries `connection: close`.
@Suite struct ListenerDrainTests {
    /// Holds every request at its headers until the test resumes it.
    final class HoldFilter: HTTPFilter {
        nonisolated(unsafe) static var held: HTTPFilterContext?
        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            Self.held = context
            return .stopIteration
        }
    }

    struct HoldFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.Int32Value"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { HoldFilter() }
    }

    @Test func anIdleConnectionClosesAtOnce() throws {
        let (runtime, _) = try FilterTestSupport.manager([])
        let channel = try FilterTestSupport.channel(runtime)
        #expect(try FilterTestSupport.send(channel, "/").status == 200)
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent())
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func aResponseInFlightEndsWithConnectionClose() throws {
        var registry = FilterTestSupport.registry
        registry.register(HoldFilterFactory.self)
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try FilterTestSupport.routes()
        hcm.httpFilters = [
            try FilterTestSupport.filter("hold", Google_Protobuf_Int32Value(1)),
            try FilterTestSupport.filter("echo", Google_Protobuf_Empty()),
            try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router()),
        ]
        let configuration = try HTTPConnectionManagerConfiguration(
            hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: registry)
        let (runtime, _) = try FilterTestSupport.runtime(configuration)
        let channel = try FilterTestSupport.channel(runtime)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        head.headers.add(name: "host", value: "app.local")
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        let held = try #require(HoldFilter.held)
        // The update arrives while the request is in flight: the connection stays for it.
        channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent())
        channel.embeddedEventLoop.run()
        #expect(channel.isActive)
        held.continueDecoding()
        channel.embeddedEventLoop.run()
        guard case .head(let response)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no response")
            return
        }
        #expect(response.status == .ok)
        #expect(response.headers["connection"] == ["close"])
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) { if case .end = part { break } }
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        HoldFilter.held = nil
    }
}
