import Logging
@testable import MeshProxy
import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import Testing

/// Headers the connection manager adds or removes around a forwarded exchange, as Envoy does:
/// `x-envoy-decorator-operation` only on a connection manager with `tracing` (egress on an
/// outbound listener, ingress otherwise), and `date` on responses that came without one.
@Suite struct TracingHeadersTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static func runtime(tracing: Bool, direction: Envoy_Config_Core_V3_TrafficDirection = .unspecified, propagate: Bool = true) throws -> HTTPConnectionManagerRuntime {
        EnvoyAnyTypes.register()
        var hcm = HCM()
        hcm.statPrefix = "test"
        hcm.routeConfig = try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [
              {"match": {"prefix": "/plain"}, "route": {"cluster": "c"}},
              {"match": {"prefix": "/"}, "route": {"cluster": "c"}, "decorator": {"operation": "reviews:9080/*", "propagate": \(propagate)}}]}]}
            """)
        hcm.httpFilters = [try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        if tracing { hcm.tracing = HCM.Tracing() }
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: .standard)
        return try HTTPConnectionManagerRuntime(configuration: configuration, state: ProxyStateStore(), stats: StatsStore(), bufferLimit: 1 << 20,
                                                trafficDirection: direction, logger: Logger(label: "test"))
    }

    /// The upstream request and the downstream response of one forwarded exchange, after the
    /// connection manager's and the route's mutations.
    static func exchange(_ runtime: HTTPConnectionManagerRuntime, path: String = "/", request: [(String, String)] = [], response: [(String, String)] = [])
        throws -> (request: HTTPHeaders, response: HTTPHeaders) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: HTTPHeaders([("host", "reviews")] + request))
        let connection = DownstreamConnectionInfo(remoteAddress: nil, localAddress: nil, isTLS: false)
        runtime.prepareRequest(&head, connection: connection)
        guard case .forward(let plan) = runtime.resolveRoute(head, connection: connection, randomValue: FastRandom.next()).decision else {
            Issue.record("\(path) was not forwarded")
            return ([:], [:])
        }
        plan.transformRequest(&head)
        runtime.prepareUpstreamRequest(&head, plan: plan)
        var upstreamResponse = HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders(response))
        runtime.prepareResponse(&upstreamResponse, plan: plan, upstreamStart: nil, upstreamAddress: nil)
        return (head.headers, upstreamResponse.headers)
    }

    @Test func withoutTracingTheDecoratorHeaderIsNeitherAddedNorRemoved() throws {
        for direction in [Envoy_Config_Core_V3_TrafficDirection.outbound, .inbound] {
            let runtime = try Self.runtime(tracing: false, direction: direction)
            let plain = try Self.exchange(runtime)
            #expect(plain.request.first(name: "x-envoy-decorator-operation") == nil)
            let carried = try Self.exchange(runtime, request: [("x-envoy-decorator-operation", "caller-op")], response: [("x-envoy-decorator-operation", "callee-op")])
            #expect(carried.request.first(name: "x-envoy-decorator-operation") == "caller-op")
            #expect(carried.response.first(name: "x-envoy-decorator-operation") == "callee-op")
        }
    }

    @Test func aTracedOutboundListenerSendsTheRouteOperationUpstreamAndTakesTheOverrideOffTheResponse() throws {
        let runtime = try Self.runtime(tracing: true, direction: .outbound)
        let exchange = try Self.exchange(runtime, request: [("x-envoy-decorator-operation", "caller-op")], response: [("x-envoy-decorator-operation", "callee-op")])
        #expect(exchange.request["x-envoy-decorator-operation"] == ["reviews:9080/*"])
        #expect(exchange.response.first(name: "x-envoy-decorator-operation") == nil)
        // A route without a decorator, or one that does not propagate, sends nothing of its own.
        #expect(try Self.exchange(runtime, path: "/plain").request.first(name: "x-envoy-decorator-operation") == nil)
        let quiet = try Self.runtime(tracing: true, direction: .outbound, propagate: false)
        #expect(try Self.exchange(quiet).request.first(name: "x-envoy-decorator-operation") == nil)
    }

    @Test func aTracedInboundListenerTakesTheOverrideOffTheRequestAndAnswersWithTheRouteOperation() throws {
        for direction in [Envoy_Config_Core_V3_TrafficDirection.inbound, .unspecified] {  // Both trace as ingress.
            let runtime = try Self.runtime(tracing: true, direction: direction)
            let plain = try Self.exchange(runtime)
            #expect(plain.request.first(name: "x-envoy-decorator-operation") == nil)
            #expect(plain.response.first(name: "x-envoy-decorator-operation") == "reviews:9080/*")
            // The caller's override names the span instead: it goes no further, and the response
            // does not carry the route's name back.
            let overridden = try Self.exchange(runtime, request: [("x-envoy-decorator-operation", "caller-op")])
            #expect(overridden.request.first(name: "x-envoy-decorator-operation") == nil)
            #expect(overridden.response.first(name: "x-envoy-decorator-operation") == nil)
            // An empty override is removed but does not count as one.
            let empty = try Self.exchange(runtime, request: [("x-envoy-decorator-operation", "")])
            #expect(empty.request.first(name: "x-envoy-decorator-operation") == nil)
            #expect(empty.response.first(name: "x-envoy-decorator-operation") == "reviews:9080/*")
        }
        let quiet = try Self.runtime(tracing: true, direction: .inbound, propagate: false)
        #expect(try Self.exchange(quiet).response.first(name: "x-envoy-decorator-operation") == nil)
    }

    @Test func aResponseWithoutADateGetsOneAndAnUpstreamDateStays() throws {
        let runtime = try Self.runtime(tracing: false)
        let added = try #require(try Self.exchange(runtime).response.first(name: "date"))
        // IMF-fixdate, as RFC 9110 defines it: `Sun, 06 Nov 1994 08:49:37 GMT`.
        #expect(added.count == 29 && added.hasSuffix(" GMT"))
        #expect(added.wholeMatch(of: /(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT/) != nil)
        let kept = try Self.exchange(runtime, response: [("date", "Sun, 06 Nov 1994 08:49:37 GMT")]).response
        #expect(kept["date"] == ["Sun, 06 Nov 1994 08:49:37 GMT"])
    }

    @Test func datesAreFormattedInUTC() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(1_709_251_199) == "Thu, 29 Feb 2024 23:59:59 GMT")
    }
}
