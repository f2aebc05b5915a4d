import MeshXDS
@testable import MeshProxy
import NIOHTTP1
import Synchronization
import SwiftProtobuf
import Testing

/// A route's `typed_per_filter_config` is parsed once per distinct configuration, not per
/// request, and every stream sees the parsed value. Serialized: tests count filters made and
/// configurations parsed in shared counters.
@Suite(.serialized) struct PerRouteConfigTests {
    static let parses = Atomic<Int>(0)

    /// Puts the route's per-route string (a `StringValue`) into a response header.
    struct TaggingFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.BoolValue"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { TaggingFilter() }
        func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
            PerRouteConfigTests.parses.add(1, ordering: .relaxed)
            return try Google_Protobuf_StringValue(unpackingAny: config).value
        }
    }

    final class TaggingFilter: HTTPFilter {
        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            // Read twice: the stream remembers the value.
            let tag = context.perRouteConfig as? String
            #expect(context.perRouteConfig as? String == tag)
            head.headers.replaceOrAdd(name: "x-route-tag", value: tag ?? "none")
            return .continue
        }
    }

    @Test func parsedOncePerDistinctConfigAndSeenByEveryStream() throws {
        EnvoyAnyTypes.register()
        var registry = FilterTestSupport.registry
        registry.register(TaggingFilterFactory.self)
        let tagA = try Google_Protobuf_Any(message: Google_Protobuf_StringValue("a")).jsonString()
        let tagB = try Google_Protobuf_Any(message: Google_Protobuf_StringValue("b")).jsonString()
        let routes = try FilterTestSupport.routes([
            #"{"name": "a", "match": {"prefix": "/a"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"tag": \#(tagA)}}"#,
            #"{"name": "b", "match": {"prefix": "/b"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"tag": \#(tagB)}}"#,
        ])
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("tag", Google_Protobuf_BoolValue(true))], routes: routes, registry: registry)
        let channel = try FilterTestSupport.channel(runtime)
        let before = Self.parses.load(ordering: .relaxed)
        for _ in 0..<3 {
            #expect(try FilterTestSupport.send(channel, "/a").echoed("x-route-tag") == "a")
            #expect(try FilterTestSupport.send(channel, "/b").echoed("x-route-tag") == "b")
            #expect(try FilterTestSupport.send(channel, "/other").echoed("x-route-tag") == "none")
        }
        #expect(Self.parses.load(ordering: .relaxed) - before == 2)
    }

    static let made = Atomic<Int>(0)

    /// Acts only on routes that configure it: streams on other routes go without it.
    struct RouteOnlyFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.Int32Value"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter {
            PerRouteConfigTests.made.add(1, ordering: .relaxed)
            return TaggingFilter()
        }
        func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
            try Google_Protobuf_StringValue(unpackingAny: config).value
        }
        func isNeeded(hasPerRouteConfig: Bool) -> Bool { hasPerRouteConfig }
    }

    @Test func aFilterThatActsOnlyOnRouteConfigIsMadeOnlyForRoutesWithIt() throws {
        EnvoyAnyTypes.register()
        var registry = FilterTestSupport.registry
        registry.register(RouteOnlyFilterFactory.self)
        let tag = try Google_Protobuf_Any(message: Google_Protobuf_StringValue("a")).jsonString()
        let routes = try FilterTestSupport.routes([
            #"{"name": "a", "match": {"prefix": "/a"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"only": \#(tag)}}"#,
            #"{"name": "rest", "match": {"prefix": "/"}, "direct_response": {"status": 599}}"#,
        ])
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("only", Google_Protobuf_Int32Value(1))], routes: routes, registry: registry)
        let channel = try FilterTestSupport.channel(runtime)
        let before = Self.made.load(ordering: .relaxed)
        // The filter after it still runs on every route (the echo filter answers).
        let other = try FilterTestSupport.send(channel, "/other")
        #expect(other.status == 200 && other.echoed("x-route-tag") == nil)
        #expect(Self.made.load(ordering: .relaxed) - before == 0)
        #expect(try FilterTestSupport.send(channel, "/a").echoed("x-route-tag") == "a")
        #expect(Self.made.load(ordering: .relaxed) - before == 1)
    }

    /// Sets `tier: gold` in the `test.tier` metadata and, when the request asks, clears the route cache.
    struct TieringFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.UInt32Value"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { TieringFilter() }
    }

    final class TieringFilter: HTTPFilter {
        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            context.setDynamicMetadata(namespace: "test.tier", Google_Protobuf_Struct(fields: ["tier": Google_Protobuf_Value(stringValue: "gold")]))
            head.headers.add(name: "x-tiered", value: "yes")
            if head.headers.contains(name: "x-clear") { context.clearRouteCache() }
            return .continue
        }
    }

    /// After a filter clears the route cache, the filters after it see the new route's
    /// configuration, and one that only the new route needs is made; routing reads the head the
    /// clearing filter left.
    @Test func clearingTheRouteCacheRoutesAgainAndMakesTheFiltersTheNewRouteNeeds() throws {
        EnvoyAnyTypes.register()
        var registry = FilterTestSupport.registry
        registry.register(RouteOnlyFilterFactory.self)
        registry.register(TieringFilterFactory.self)
        let tag = try Google_Protobuf_Any(message: Google_Protobuf_StringValue("gold")).jsonString()
        let routes = try FilterTestSupport.routes([
            #"{"name": "gold", "match": {"prefix": "/", "headers": [{"name": "x-tiered", "present_match": true}], "dynamic_metadata": [{"filter": "test.tier", "path": [{"key": "tier"}], "value": {"string_match": {"exact": "gold"}}}]}, "direct_response": {"status": 599}, "typed_per_filter_config": {"only": \#(tag)}}"#,
            #"{"name": "rest", "match": {"prefix": "/"}, "direct_response": {"status": 599}}"#,
        ])
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("tiering", Google_Protobuf_UInt32Value(1)),
                                                          try FilterTestSupport.filter("only", Google_Protobuf_Int32Value(1))], routes: routes, registry: registry)
        let channel = try FilterTestSupport.channel(runtime)
        let before = Self.made.load(ordering: .relaxed)
        let kept = try FilterTestSupport.send(channel, "/a")
        #expect(kept.status == 200 && kept.echoed("x-route-tag") == nil)
        #expect(Self.made.load(ordering: .relaxed) - before == 0)
        let rerouted = try FilterTestSupport.send(channel, "/a", headers: [("x-clear", "1")])
        #expect(rerouted.echoed("x-route-tag") == "gold", "\(rerouted.body)")
        #expect(Self.made.load(ordering: .relaxed) - before == 1)
    }

    /// A route chosen again starts from the client's `grpc-timeout`, not from the value the first
    /// route's cap left in the head.
    @Test func aRouteChosenAgainReadsTheClientsGRPCTimeout() throws {
        EnvoyAnyTypes.register()
        var registry = FilterTestSupport.registry
        registry.register(TieringFilterFactory.self)
        let routes = try FilterTestSupport.routes([
            #"{"name": "gold", "match": {"prefix": "/", "dynamic_metadata": [{"filter": "test.tier", "path": [{"key": "tier"}], "value": {"string_match": {"exact": "gold"}}}]}, "route": {"cluster": "c", "max_stream_duration": {"grpc_timeout_header_max": "0s"}}}"#,
            #"{"name": "rest", "match": {"prefix": "/"}, "route": {"cluster": "c", "max_stream_duration": {"grpc_timeout_header_max": "5s"}}}"#,
        ])
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("tiering", Google_Protobuf_UInt32Value(1))], routes: routes, registry: registry)
        let channel = try FilterTestSupport.channel(runtime)
        let grpc = [("content-type", "application/grpc"), ("grpc-timeout", "10S")]
        // A gRPC request's local reply is trailers-only: the echoed head is in grpc-message.
        func timeout(_ extra: [(String, String)]) throws -> String? {
            let response = try FilterTestSupport.send(channel, "/svc/M", method: .POST, headers: grpc + extra)
            let message = response.headers.first(name: "grpc-message")?.removingPercentEncoding ?? ""
            return message.split(separator: "\n").first { $0.hasPrefix("grpc-timeout: ") }.map { String($0.dropFirst("grpc-timeout: ".count)) }
        }
        #expect(try timeout([]) == "5000m")
        #expect(try timeout([("x-clear", "1")]) == "10000m")
    }

    @Test func faultAndCORSFiltersAreNeededOnlyWhereSomethingConfiguresThem() throws {
        EnvoyAnyTypes.register()
        let bare = try FaultFilterFactory(config: Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault()))
        #expect(!bare.isNeeded(hasPerRouteConfig: false) && bare.isNeeded(hasPerRouteConfig: true))
        var fault = Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault()
        fault.abort.httpStatus = 503
        fault.abort.percentage.numerator = 10
        let withDefaults = try FaultFilterFactory(config: Google_Protobuf_Any(message: fault))
        #expect(withDefaults.isNeeded(hasPerRouteConfig: false))
        let cors = try CORSFilterFactory(config: Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Cors_V3_Cors()))
        #expect(!cors.isNeeded(hasPerRouteConfig: false) && cors.isNeeded(hasPerRouteConfig: true))
    }
}
