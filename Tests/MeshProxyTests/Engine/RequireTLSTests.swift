@testable import MeshProxy
import MeshXDS
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// A virtual host's `require_tls` through the connection manager: plain-text requests are
/// redirected to https, except internal ones under EXTERNAL_ONLY, which take their route.
@Suite struct RequireTLSTests {
    static func channel(requireTLS: String, peer: String) throws -> EmbeddedChannel {
        let routes = try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "require_tls": "\(requireTLS)",
             "routes": [{"name": "default", "match": {"prefix": "/"}, "direct_response": {"status": 599}}]}]}
            """)
        // Peers in 10/8 are internal: the connection manager marks their requests x-envoy-internal.
        let (runtime, _) = try FilterTestSupport.manager([], routes: routes, echo: false) { hcm in
            hcm.useRemoteAddress = Google_Protobuf_BoolValue(true)
            EnvoyRequestHeadersTests.internalRange(&hcm)
        }
        return try FilterTestSupport.channel(runtime, peer: peer)
    }

    @Test func externalOnlyRedirectsExternalRequestsAndRoutesInternalOnes() throws {
        // A public peer's request is external: 301 to https.
        let external = try FilterTestSupport.send(try Self.channel(requireTLS: "EXTERNAL_ONLY", peer: "203.0.113.7"), "/x?y=1", host: "app.example")
        #expect(external.status == 301)
        #expect(external.headers.first(name: "location") == "https://app.example/x?y=1")
        // An internal peer's request takes its route.
        let internalChannel = try Self.channel(requireTLS: "EXTERNAL_ONLY", peer: "10.1.2.3")
        let routed = try FilterTestSupport.send(internalChannel, "/x", host: "app.example")
        #expect(routed.status == 599, "the route's direct response: \(routed.status)")
    }

    @Test func allRedirectsEveryPlainTextRequest() throws {
        let channel = try Self.channel(requireTLS: "ALL", peer: "10.1.2.3")
        let response = try FilterTestSupport.send(channel, "/x", host: "app.example")
        #expect(response.status == 301)
    }
}
