@testable import MeshProxy
import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import Testing

/// What the connection manager does with Envoy's own request headers, as Envoy's
/// `mutateRequestHeaders` does: an internal request (its trusted peer address is in
/// `internal_address_config`, which is empty by default) is marked and keeps them; any other loses
/// the headers that steer the router, and an edge request (external, with `use_remote_address`)
/// also loses the ones only Envoy sets and gets its peer in `x-envoy-external-address` and a
/// request id of the proxy's own. The router then honours and removes the steering headers of
/// internal requests (``RouterRequestHeaders``).
@Suite struct EnvoyRequestHeadersTests {
    static let steering: [(String, String)] = [
        ("x-envoy-retry-on", "5xx"), ("x-envoy-max-retries", "4"), ("x-envoy-upstream-rq-timeout-ms", "1500"),
        ("x-envoy-decorator-operation", "spoofed"), ("x-envoy-internal", "true"), ("x-request-id", "from-client"),
    ]

    static func send(
        configure: (inout Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager) -> Void
    ) throws -> FilterTestSupport.Response {
        let (runtime, _) = try FilterTestSupport.manager([], configure: configure)
        let channel = try FilterTestSupport.channel(runtime, peer: "10.1.2.3")
        defer { _ = try? channel.finish() }
        return try FilterTestSupport.send(channel, "/", headers: steering)
    }

    static func internalRange(_ config: inout Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager) {
        var range = Envoy_Config_Core_V3_CidrRange()
        range.addressPrefix = "10.0.0.0"
        range.prefixLen = Google_Protobuf_UInt32Value(8)
        config.internalAddressConfig.cidrRanges = [range]
    }

    @Test func anEdgeRequestLosesEnvoysHeadersAndGetsItsPeerAndANewRequestID() throws {
        let response = try Self.send { $0.useRemoteAddress = Google_Protobuf_BoolValue(true) }
        for name in ["x-envoy-retry-on", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms", "x-envoy-decorator-operation", "x-envoy-internal"] {
            #expect(response.echoed(name) == nil, "\(name) reached the router")
        }
        #expect(response.echoed("x-envoy-external-address") == "10.1.2.3")
        #expect(response.echoed("x-request-id").map { $0 != "from-client" && $0.count == 36 } == true)
    }

    @Test func preserveExternalRequestIDKeepsTheClientsID() throws {
        let response = try Self.send {
            $0.useRemoteAddress = Google_Protobuf_BoolValue(true)
            $0.preserveExternalRequestID = true
        }
        #expect(response.echoed("x-request-id") == "from-client")
    }

    @Test func anInternalPeersRequestIsMarkedAndKeepsItsHeaders() throws {
        let response = try Self.send {
            $0.useRemoteAddress = Google_Protobuf_BoolValue(true)
            Self.internalRange(&$0)
        }
        #expect(response.echoed("x-envoy-internal") == "true")
        #expect(response.echoed("x-envoy-retry-on") == "5xx" && response.echoed("x-envoy-decorator-operation") == "spoofed")
        #expect(response.echoed("x-envoy-external-address") == nil)
        #expect(response.echoed("x-request-id") == "from-client")
    }

    /// A sidecar (no `use_remote_address`, no internal addresses, as Istio configures it): the
    /// workload's steering headers go, the others stay.
    @Test func aSidecarRemovesTheSteeringHeadersOnly() throws {
        let response = try Self.send { _ in }
        #expect(response.echoed("x-envoy-retry-on") == nil && response.echoed("x-envoy-upstream-rq-timeout-ms") == nil)
        #expect(response.echoed("x-envoy-decorator-operation") == "spoofed" && response.echoed("x-envoy-internal") == nil)
        #expect(response.echoed("x-request-id") == "from-client")
        // Behind a trusted proxy that names one internal client in x-forwarded-for, it is internal.
        let (runtime, _) = try FilterTestSupport.manager([], configure: Self.internalRange)
        let channel = try FilterTestSupport.channel(runtime, peer: "192.0.2.1")
        defer { _ = try? channel.finish() }
        let forwarded = try FilterTestSupport.send(channel, "/", headers: Self.steering + [("x-forwarded-for", "10.9.9.9")])
        #expect(forwarded.echoed("x-envoy-internal") == "true" && forwarded.echoed("x-envoy-retry-on") == "5xx")
    }

    @Test func alwaysSetRequestIDInResponseEchoesTheID() throws {
        let response = try Self.send { $0.alwaysSetRequestIDInResponse = true }
        #expect(response.headers.first(name: "x-request-id") == "from-client")
        let without = try Self.send { _ in }
        #expect(without.headers.first(name: "x-request-id") == nil)
    }

    @Test func theRouterHonoursAndRemovesTheSteeringHeaders() throws {
        func makePlan(timeout: Duration?) -> ForwardPlan {
            ForwardPlan(
            clusterName: "c", rewrite: RouteRewrite(path: "/", authority: nil, appendsForwardedHost: false, decorator: .untraced,
                                                    requestMutations: .none, responseMutations: .none,
                                                    formatter: HeaderFormatterContext()),
            timeout: timeout, retry: nil, hashKey: nil, includeAttemptCount: false, mirrors: [])
        }
        let plan = makePlan(timeout: .milliseconds(250))
        var headers = HTTPHeaders([
            ("x-envoy-retry-on", "connect-failure, bogus,retriable-status-codes"), ("x-envoy-retry-grpc-on", "unavailable"),
            ("x-envoy-max-retries", "2"), ("x-envoy-retriable-status-codes", "418, 999"),
            ("x-envoy-upstream-rq-timeout-ms", "0"), ("x-envoy-upstream-rq-per-try-timeout-ms", "100"), ("x-app", "kept"),
        ])
        RouterRequestHeaders.apply(&headers, to: plan)
        #expect(plan.timeout == nil)
        let policy = try #require(plan.retry?.policy)
        #expect(policy.retryOn == [.connectFailure, .retriableStatusCodes, .grpcUnavailable])
        #expect(policy.numRetries == 2 && policy.retriableStatusCodes == [418] && policy.perTryTimeout == .milliseconds(100))
        #expect(headers.map(\.name) == ["x-app"])

        // A per-try timeout not shorter than the route timeout is ignored.
        let timed = makePlan(timeout: .milliseconds(50))
        var perTry = HTTPHeaders([("x-envoy-upstream-rq-per-try-timeout-ms", "100")])
        RouterRequestHeaders.apply(&perTry, to: timed)
        #expect(timed.retry == nil && perTry.isEmpty)
    }
}
