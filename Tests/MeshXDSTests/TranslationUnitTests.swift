import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

@Suite struct ProxyViewTests {
    static func node(_ id: String, _ metadata: [String: Google_Protobuf_Value] = [:]) -> Envoy_Config_Core_V3_Node {
        .with { $0.id = id; $0.metadata = Google_Protobuf_Struct(fields: metadata) }
    }

    @Test func parsesIdentityAndMetadata() throws {
        let labels = Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: ["app": .init(stringValue: "reviews")]))
        var node = Self.node("sidecar~127.0.0.21~reviews-v1-x.bookinfo~bookinfo.svc.cluster.local", [
            "NAMESPACE": .init(stringValue: "bookinfo"), "LABELS": labels, "INTERCEPTION_MODE": .init(stringValue: "NONE"),
            "SERVICE_ACCOUNT": .init(stringValue: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews"),
            "WORKLOAD_NAME": .init(stringValue: "reviews-v1"), "INSTANCE_IPS": .init(stringValue: "127.0.0.21, 127.0.1.21"),
        ])
        node.locality = .with { $0.region = "us-east"; $0.zone = "a" }
        let proxy = try ProxyView(node: node)
        #expect(proxy.type == .sidecar)
        #expect(proxy.ipAddresses == ["127.0.0.21", "127.0.1.21"])
        #expect(proxy.workload == WorkloadContext(namespace: "bookinfo", labels: ["app": "reviews"], serviceAccount: "bookinfo-reviews"))
        #expect(proxy.workloadName == "reviews-v1")
        #expect(proxy.interceptionMode == .none)
        #expect(proxy.locality == "us-east/a/")
        #expect(proxy.dnsDomain == "bookinfo.svc.cluster.local")
        let router = try ProxyView(node: Self.node("router~10.0.0.1~gw.istio-system~istio-system.svc.cluster.local"))
        #expect(router.type == .router && router.interceptionMode == .redirect && router.serviceAccount == "default")
    }

    @Test(arguments: [
        ("sidecar~127.0.0.1~x", [:], ProxyViewError.Code.invalidNodeID, "expected 4 fields"),
        ("proxy~127.0.0.1~a.b~b.svc.cluster.local", [:], .invalidNodeID, "unknown proxy type"),
        ("sidecar~not-an-ip~a.b~b.svc.cluster.local", [:], .invalidIPAddress, "\"not-an-ip\" is not an IP address"),
        ("sidecar~127.0.0.1~a.b~d", ["INSTANCE_IPS": Google_Protobuf_Value(stringValue: "127.0.0.1,bogus")], .invalidIPAddress, "bogus"),
        ("sidecar~127.0.0.1~a.b~d", ["LABELS": Google_Protobuf_Value(stringValue: "app=x")], .invalidMetadata, "LABELS must be a map"),
        ("sidecar~127.0.0.1~a.b~d", ["LABELS": Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: ["v": .init(numberValue: 1)]))], .invalidMetadata, "LABELS[\"v\"] must be a string, found number 1.0"),
        ("sidecar~127.0.0.1~a.b~d", ["INTERCEPTION_MODE": Google_Protobuf_Value(stringValue: "IPTABLES")], .invalidMetadata, "INTERCEPTION_MODE \"IPTABLES\" is not one of REDIRECT, TPROXY, NONE"),
        ("sidecar~127.0.0.1~a.b~d", ["NAMESPACE": Google_Protobuf_Value(stringValue: "c")], .namespaceMismatch, "NAMESPACE \"c\" differs"),
        ("sidecar~127.0.0.1~a.b~d", ["NAMESPACE": Google_Protobuf_Value(boolValue: true)], .invalidMetadata, "NAMESPACE must be a string, found bool true"),
    ] as [(String, [String: Google_Protobuf_Value], ProxyViewError.Code, String)])
    func rejectsBadNodes(id: String, metadata: [String: Google_Protobuf_Value], code: ProxyViewError.Code, message: String) {
        #expect {
            try ProxyView(node: Self.node(id, metadata))
        } throws: { error in
            guard let error = error as? ProxyViewError else { return false }
            return error.code == code && error.description.contains(message) && error.nodeID == id
        }
    }
}

@Suite struct ConverterTests {
    @Test func clusterNames() {
        #expect(ClusterName.outbound(port: 9080, host: "reviews.bookinfo.svc.cluster.local") == "outbound|9080||reviews.bookinfo.svc.cluster.local")
        #expect(ClusterName.outbound(port: 9080, subset: "v2", host: "r") == "outbound|9080|v2|r")
        #expect(ClusterName.inbound(port: 9080) == "inbound|9080||")
        #expect(ClusterName.parse("outbound|80|v1|a.b")! == ("outbound", 80, "v1", "a.b"))
        #expect(ClusterName.parse("inbound|80||")! == ("inbound", 80, nil, ""))
        #expect(ClusterName.parse("BlackHoleCluster") == nil)
    }

    @Test func retryDefaultsAreIstios() {
        let policy = RetryPolicyConverter.convert(nil)!
        #expect(policy.numRetries.value == 2)
        #expect(policy.retryOn == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes")
        #expect(policy.retriableStatusCodes == [503])
        #expect(policy.hostSelectionRetryMaxAttempts == 5)
        #expect(policy.retryHostPredicate.map(\.name) == ["envoy.retry_host_predicates.previous_hosts"])
        #expect(RetryPolicyConverter.convert(nil, hashPolicy: true)!.retryHostPredicate.isEmpty)
        #expect(RetryPolicyConverter.convert(HTTPRetry(attempts: 0)) == nil)
    }

    @Test func retryOverrides() {
        let policy = RetryPolicyConverter.convert(HTTPRetry(
            attempts: 4, perTryTimeout: ConfigDuration(milliseconds: 250), retryOn: "5xx, 429,bogus-999, 503",
            retryRemoteLocalities: true, retryIgnorePreviousHosts: false, backoff: ConfigDuration(milliseconds: 20)))!
        #expect(policy.numRetries.value == 4)
        #expect(policy.retryOn == "5xx,bogus-999,retriable-status-codes")
        #expect(policy.retriableStatusCodes == [429, 503])
        #expect(policy.perTryTimeout == Google_Protobuf_Duration(seconds: 0, nanos: 250_000_000))
        #expect(policy.retryHostPredicate.isEmpty)
        #expect(policy.retryPriority.name == "envoy.retry_priorities.previous_priorities")
        #expect(policy.retryBackOff.baseInterval == Google_Protobuf_Duration(seconds: 0, nanos: 20_000_000))
        // Codes only: retriable-status-codes is added.
        #expect(RetryPolicyConverter.convert(HTTPRetry(attempts: 1, retryOn: "502"))!.retryOn == "retriable-status-codes")
    }

    @Test func timeoutDefaultsToNone() {
        var action = Envoy_Config_Route_V3_RouteAction()
        RouteTimeoutConverter.apply(nil, to: &action)
        #expect(action.timeout == Google_Protobuf_Duration(seconds: 0, nanos: 0))
        #expect(!action.maxStreamDuration.hasMaxStreamDuration, "no timeout: streams are not limited")
        RouteTimeoutConverter.apply(ConfigDuration(milliseconds: 1500), to: &action)
        #expect(action.timeout == Google_Protobuf_Duration(seconds: 1, nanos: 500_000_000))
        #expect(action.maxStreamDuration.grpcTimeoutHeaderMax == action.timeout && action.maxStreamDuration.maxStreamDuration == action.timeout)
    }

    @Test func matchConversion() {
        #expect(RouteMatchConverter.convert(nil).prefix == "/")
        let match = RouteMatchConverter.convert(VirtualService.HTTPMatchRequest(
            uri: StringMatch(exact: "/login"), method: StringMatch(exact: "POST"), authority: StringMatch(prefix: "shop"),
            headers: ["x-b": StringMatch(regex: "v[0-9]"), "x-a": StringMatch(prefix: ""), "end-user": StringMatch(exact: "jason")],
            queryParams: ["z": StringMatch(exact: "1"), "a": StringMatch(prefix: "p")], ignoreUriCase: true,
            withoutHeaders: ["x-a": StringMatch(exact: "no")]))
        #expect(match.path == "/login")
        #expect(match.caseSensitive.value == false)
        #expect(match.headers.map(\.name) == ["end-user", "x-a", "x-a", "x-b", ":method", ":authority"])
        #expect(match.headers[1].presentMatch && !match.headers[1].invertMatch)
        #expect(match.headers[2].invertMatch && match.headers[2].stringMatch.exact == "no")
        #expect(match.headers[3].stringMatch.safeRegex.regex == "v[0-9]")
        #expect(match.queryParameters.map(\.name) == ["a", "z"])
        #expect(RouteMatchConverter.convert(.init(uri: StringMatch(regex: "^/x"))).safeRegex.regex == "^/x")
    }

    @Test func virtualHostDomains() {
        #expect(VirtualHostDomains.domains(host: "reviews.bookinfo.svc.cluster.local", port: nil, proxyDomain: "bookinfo.svc.cluster.local")
            == ["reviews.bookinfo.svc.cluster.local", "reviews", "reviews.bookinfo.svc", "reviews.bookinfo"])
        #expect(VirtualHostDomains.domains(host: "reviews.bookinfo.svc.cluster.local", port: nil, proxyDomain: "other.svc.cluster.local")
            == ["reviews.bookinfo.svc.cluster.local", "reviews.bookinfo", "reviews.bookinfo.svc"])
        #expect(VirtualHostDomains.domains(host: "api.example.com", port: 8080, proxyDomain: "bookinfo.svc.cluster.local", addresses: ["10.0.0.1", "10.1.0.0/16"])
            == ["api.example.com", "api.example.com:8080", "10.0.0.1", "10.0.0.1:8080"])
    }
}

@Suite struct RouteBuilderTests {
    let proxy = ProxyView(identity: ProxyIdentity(type: .sidecar, ipAddress: "127.0.0.11", workloadName: "pp", namespace: "bookinfo",
                                                   dnsDomain: "bookinfo.svc.cluster.local"), labels: ["app": "productpage"])
    let builder = RouteBuilder(options: TranslationOptions())

    func routes(_ http: [VirtualService.HTTPRoute], port: UInt32 = 9080) -> [Envoy_Config_Route_V3_Route] {
        let vs = Resource(meta: ObjectMeta(name: "reviews", namespace: "bookinfo"), spec: VirtualService(hosts: ["reviews"], http: http))
        return builder.routes(vs, port: port, proxy: proxy, services: { _, _ in nil }, rules: { _ in nil })
    }

    @Test func keepsOrderAndDropsRoutesAfterCatchAll() {
        let dest = [VirtualService.HTTPRouteDestination(destination: Destination(host: "reviews", subset: "v1"))]
        let out = routes([
            .init(name: "a", match: [.init(name: "m1", uri: StringMatch(prefix: "/a")), .init(uri: StringMatch(prefix: "/b"))], route: dest),
            .init(name: "other-port", match: [.init(port: 8080)], route: dest),
            .init(name: "other-source", match: [.init(sourceLabels: ["app": "ratings"])], route: dest),
            .init(name: "mine", match: [.init(sourceLabels: ["app": "productpage"])], route: dest),
            .init(name: "all", route: dest),
            .init(name: "never", route: dest),
        ])
        // `mine` only selects by source, so for this proxy it matches everything: Istio's catch-all.
        #expect(out.map(\.name) == ["a.m1", "a", "mine"])
        #expect(out[0].route.cluster == "outbound|9080|v1|reviews.bookinfo.svc.cluster.local")
    }

    @Test func weightsAndZeroWeights() {
        let out = routes([.init(route: [
            .init(destination: Destination(host: "reviews", subset: "v1"), weight: 80),
            .init(destination: Destination(host: "reviews", subset: "v2"), weight: 0),
            .init(destination: Destination(host: "reviews", subset: "v3", port: PortSelector(number: 9090)), weight: 20),
        ])])
        #expect(out[0].route.weightedClusters.clusters.map(\.name) == [
            "outbound|9080|v1|reviews.bookinfo.svc.cluster.local", "outbound|9090|v3|reviews.bookinfo.svc.cluster.local"])
        #expect(out[0].route.weightedClusters.clusters.map(\.weight.value) == [80, 20])
        #expect(out[0].decorator.operation == "reviews:9080/*")
    }

    @Test func catchAllHosts() {
        #expect(builder.catchAllVirtualHost(cluster: ClusterName.passthrough).routes[0].route.cluster == "PassthroughCluster")
        let block = builder.catchAllVirtualHost(cluster: ClusterName.blackHole)
        #expect(block.name == "block_all" && block.routes[0].directResponse.status == 502)
    }
}
