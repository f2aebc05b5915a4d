import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// The VirtualService converters: headers, redirects, rewrites, faults, CORS, mirrors, merging
/// and delegation, and TCP/TLS filter chains.
@Suite struct RoutingConverterTests {
    typealias Ops = VirtualService.Headers.HeaderOperations

    @Test func headerOperations() {
        let ops = HeaderOperationsConverter.convert(VirtualService.Headers(
            request: Ops(set: ["x-b": "2", "x-a": "1", "Host": "set.example"], add: [":authority": "added.example", "x-c": "3"],
                         remove: ["x-gone", ":path", "host"]),
            response: Ops(set: ["x-s": "s"], add: ["x-t": "t"], remove: ["server"])))
        #expect(ops.requestHeadersToAdd.map(\.header.key) == ["x-a", "x-b", "x-c"])
        #expect(ops.requestHeadersToAdd.map(\.appendAction) == [.overwriteIfExistsOrAdd, .overwriteIfExistsOrAdd, .appendIfExistsOrAdd])
        #expect(ops.requestHeadersToRemove == ["x-gone"])
        #expect(ops.responseHeadersToAdd.map(\.header.key) == ["x-s", "x-t"])
        #expect(ops.responseHeadersToRemove == ["server"])
        // `set` wins over `add` for the authority.
        #expect(ops.authority == "set.example")
        #expect(HeaderOperationsConverter.convert(.init(request: Ops(add: ["host": "h"]))).authority == "h")
        #expect(HeaderOperationsConverter.convert(nil) == .init())
    }

    @Test(arguments: [
        // (port, derivePort, scheme, listener port) → expected port_redirect
        (UInt32?(8443), VirtualService.HTTPRedirect.RedirectPortSelection?.none, "https", UInt32(80), UInt32(8443)),
        (443, nil, "https", 80, 0),
        (80, nil, nil, 9080, 0),
        (80, nil, "https", 9080, 80),
        (nil, .FROM_REQUEST_PORT, nil, 9080, 9080),
        (nil, .FROM_REQUEST_PORT, nil, 80, 0),
        (nil, .FROM_PROTOCOL_DEFAULT, nil, 9080, 0),
        (nil, nil, nil, 9080, 0),
    ] as [(UInt32?, VirtualService.HTTPRedirect.RedirectPortSelection?, String?, UInt32, UInt32)])
    func redirectPorts(port: UInt32?, derive: VirtualService.HTTPRedirect.RedirectPortSelection?, scheme: String?, listener: UInt32, expected: UInt32) throws {
        let action = try #require(RedirectConverter.convert(.init(port: port, derivePort: derive, scheme: scheme), port: listener))
        #expect(action.portRedirect == expected)
    }

    @Test func redirectFieldsAndCodes() throws {
        let action = try #require(RedirectConverter.convert(.init(uri: "/new", authority: "b.example", scheme: "https", redirectCode: 307), port: 80))
        #expect(action.pathRedirect == "/new" && action.hostRedirect == "b.example" && action.schemeRedirect == "https")
        #expect(action.responseCode == .temporaryRedirect)
        let codes: [UInt32: Envoy_Config_Route_V3_RedirectAction.RedirectResponseCode] = [
            301: .movedPermanently, 302: .found, 303: .seeOther, 307: .temporaryRedirect, 308: .permanentRedirect]
        for (code, expected) in codes { #expect(RedirectConverter.convert(.init(redirectCode: code), port: 80)?.responseCode == expected) }
        #expect(RedirectConverter.convert(.init(uri: "/x"), port: 80)?.responseCode == .movedPermanently)
        #expect(RedirectConverter.convert(.init(redirectCode: 418), port: 80) == nil)
    }

    @Test func rewrites() {
        var action = Envoy_Config_Route_V3_RouteAction()
        #expect(RewriteConverter.apply(.init(uri: "/api/", authority: "internal"), to: &action) == "internal")
        #expect(action.prefixRewrite == "/api/")
        var regex = Envoy_Config_Route_V3_RouteAction()
        #expect(RewriteConverter.apply(.init(uriRegexRewrite: .init(match: "^/u/(\\d+)$", rewrite: "/user/\\1")), to: &regex) == nil)
        #expect(regex.regexRewrite.pattern.regex == "^/u/(\\d+)$" && regex.regexRewrite.substitution == "/user/\\1")
        #expect(regex.prefixRewrite.isEmpty)
    }

    @Test func faults() throws {
        typealias Fault = VirtualService.HTTPFaultInjection
        let both = try #require(FaultInjectionConverter.convert(Fault(
            delay: .init(fixedDelay: ConfigDuration(milliseconds: 250), percentage: Percent(value: 12.5)),
            abort: .init(httpStatus: 503, percentage: Percent(value: 50)))))
        #expect(both.delay.fixedDelay == Google_Protobuf_Duration(seconds: 0, nanos: 250_000_000))
        #expect(both.delay.percentage.numerator == 125_000 && both.delay.percentage.denominator == .million)
        #expect(both.abort.httpStatus == 503 && both.abort.percentage.numerator == 500_000)
        let grpc = try #require(FaultInjectionConverter.convert(Fault(
            delay: .init(percent: 5, fixedDelay: ConfigDuration(seconds: 1)), abort: .init(grpcStatus: "UNAVAILABLE"))))
        #expect(grpc.delay.percentage.numerator == 5 && grpc.delay.percentage.denominator == .hundred)
        #expect(grpc.abort.grpcStatus == 14 && !grpc.abort.hasPercentage)
        // Exponential delays and HTTP/2 errors are not supported by Istio: nothing to inject.
        #expect(FaultInjectionConverter.convert(Fault(delay: .init(exponentialDelay: ConfigDuration(seconds: 1)), abort: .init(http2Error: "X"))) == nil)
    }

    @Test func cors() {
        let policy = CorsPolicyConverter.convert(.init(
            allowOrigins: [StringMatch(exact: "https://a.example"), StringMatch(regex: ".*\\.b\\.example")],
            allowMethods: ["GET", "POST"], allowHeaders: ["authorization"], exposeHeaders: ["x-id", "x-t"],
            maxAge: ConfigDuration(seconds: 86400), allowCredentials: true, unmatchedPreflights: .IGNORE))
        #expect(policy.allowOriginStringMatch.map(\.exact) == ["https://a.example", ""])
        #expect(policy.allowOriginStringMatch[1].safeRegex.regex == ".*\\.b\\.example")
        #expect(policy.allowMethods == "GET,POST" && policy.allowHeaders == "authorization" && policy.exposeHeaders == "x-id,x-t")
        #expect(policy.maxAge == "86400" && policy.allowCredentials.value)
        #expect(policy.forwardNotMatchingPreflights.value == false)
        #expect(policy.filterEnabled.defaultValue.numerator == 100)
        let legacy = CorsPolicyConverter.convert(.init(allowOrigin: ["https://c.example"]))
        #expect(legacy.allowOriginStringMatch.map(\.exact) == ["https://c.example"])
        #expect(legacy.forwardNotMatchingPreflights.value && !legacy.hasAllowCredentials)
    }

    @Test func mirrors() {
        let route = VirtualService.HTTPRoute(
            mirror: Destination(host: "a"), mirrors: [
                .init(destination: Destination(host: "b"), percentage: Percent(value: 10)),
                .init(destination: Destination(host: "c"), percentage: Percent(value: 0)),
                .init(destination: Destination(host: "d")),
            ], mirrorPercentage: Percent(value: 25.5))
        let out = MirrorPolicyConverter.convert(route) { "cluster-\($0.host ?? "")" }
        #expect(out.map(\.cluster) == ["cluster-a", "cluster-b", "cluster-d"])
        #expect(out.map(\.runtimeFraction.defaultValue.numerator) == [255_000, 100_000, 100])
        #expect(out.allSatisfy { $0.hasTraceSampled && !$0.traceSampled.value })
        #expect(MirrorPolicyConverter.convert(.init(mirror: Destination(host: "a"), mirrorPercent: 30)) { _ in "x" }
            .map(\.runtimeFraction.defaultValue.numerator) == [30])
        #expect(MirrorPolicyConverter.convert(.init(mirror: Destination(host: "a"), mirrorPercentage: Percent(value: 0))) { _ in "x" }.isEmpty)
    }

    @Test func catchAllRoutes() {
        #expect(RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(nil)))
        #expect(RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(.init(uri: StringMatch(regex: ".*")))))
        #expect(RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(.init(port: 80, sourceLabels: ["a": "b"]))))
        #expect(!RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(.init(uri: StringMatch(prefix: "/a")))))
        #expect(!RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(.init(method: StringMatch(exact: "GET")))))
        #expect(!RouteMatchConverter.isCatchAll(RouteMatchConverter.convert(.init(withoutHeaders: ["x": StringMatch(exact: "1")]))))
        let without = RouteMatchConverter.convert(.init(withoutHeaders: ["x": StringMatch(exact: "1"), "y": StringMatch()]))
        #expect(without.headers.map(\.treatMissingHeaderAsEmpty) == [true, false])
        #expect(without.headers[1].presentMatch && without.headers.allSatisfy(\.invertMatch))
    }
}

@Suite struct VirtualServiceMergerTests {
    typealias Match = VirtualService.HTTPMatchRequest

    static func vs(_ name: String, _ namespace: String = "bookinfo", hosts: [String]? = ["reviews"], created: String? = nil,
                   exportTo: [String]? = nil, http: [VirtualService.HTTPRoute]) -> Resource<VirtualService> {
        var meta = ObjectMeta(name: name, namespace: namespace)
        meta.creationTimestamp = created
        return Resource(meta: meta, spec: VirtualService(hosts: hosts, http: http, exportTo: exportTo))
    }

    static func to(_ host: String, _ subset: String? = nil) -> [VirtualService.HTTPRouteDestination] {
        [.init(destination: Destination(host: host, subset: subset))]
    }

    @Test func mergesByCreationTimeAndResolvesShortNames() {
        let newer = Self.vs("a-newer", created: "2026-02-01T00:00:00Z", http: [.init(name: "newer", route: Self.to("reviews"))])
        let older = Self.vs("z-older", "other", created: "2026-01-01T00:00:00Z", http: [.init(name: "older", route: Self.to("reviews"))])
        let out = VirtualServiceMerger.httpRoutes([newer, older], domainSuffix: "cluster.local", delegates: { _, _, _ in nil })
        #expect(out.map { $0.route.name } == ["older", "newer"])
        #expect(out.map { $0.route.route?.first?.destination?.host } == ["reviews.other.svc.cluster.local", "reviews.bookinfo.svc.cluster.local"])
        #expect(out.map(\.origin.meta.name) == ["z-older", "a-newer"])
    }

    @Test func expandsDelegatesWithIntersectedMatches() {
        let child = Self.vs("child", "team", hosts: nil, exportTo: ["bookinfo"], http: [
            .init(name: "v2", match: [Match(uri: StringMatch(prefix: "/api/v2"), method: StringMatch(exact: "GET"))], route: Self.to("reviews", "v2")),
            .init(name: "outside", match: [Match(uri: StringMatch(prefix: "/other"))], route: Self.to("reviews")),
            .init(name: "nested", delegate: .init(name: "x")),
            .init(route: Self.to("reviews", "v1"), timeout: ConfigDuration(seconds: 3)),
        ])
        let hidden = Self.vs("hidden", "team", hosts: nil, exportTo: ["."], http: [.init(route: Self.to("reviews"))])
        let root = Self.vs("root", http: [
            .init(name: "api", match: [Match(name: "m", uri: StringMatch(prefix: "/api"), headers: ["x-tenant": StringMatch(exact: "a")])],
                  delegate: .init(name: "child", namespace: "team"), timeout: ConfigDuration(seconds: 9)),
            .init(name: "private", delegate: .init(name: "hidden", namespace: "team")),
            .init(name: "gone", delegate: .init(name: "missing")),
        ])
        let index = VirtualServiceIndex([root, child, hidden])
        let out = VirtualServiceMerger.httpRoutes([root], domainSuffix: "cluster.local") { name, namespace, owner in
            index.delegate(name: name, namespace: namespace, from: owner)
        }
        #expect(out.map { $0.route.name } == ["api-v2", "api"])
        let first = out[0].route
        #expect(first.match?.count == 1)
        #expect(first.match?[0].uri == StringMatch(prefix: "/api/v2") && first.match?[0].method == StringMatch(exact: "GET"))
        #expect(first.match?[0].headers == ["x-tenant": StringMatch(exact: "a")] && first.match?[0].name == "m")
        #expect(first.route?.first?.destination?.host == "reviews.team.svc.cluster.local")
        #expect(first.timeout == ConfigDuration(seconds: 9))
        // A child without matches takes the root's; its own timeout stays.
        #expect(out[1].route.match?[0].uri == StringMatch(prefix: "/api") && out[1].route.timeout == ConfigDuration(seconds: 3))
        #expect(out.allSatisfy { $0.origin.meta.name == "root" && $0.route.delegate == nil })
    }

    @Test(arguments: [
        (StringMatch(prefix: "/a"), StringMatch(prefix: "/a/b"), false),
        (StringMatch(prefix: "/a/b"), StringMatch(prefix: "/a"), true),
        (StringMatch(prefix: "/a"), StringMatch(exact: "/a/x"), false),
        (StringMatch(exact: "/a"), StringMatch(exact: "/a"), false),
        (StringMatch(exact: "/a"), StringMatch(exact: "/b"), true),
        (StringMatch(exact: "/a"), StringMatch(prefix: "/a"), true),
        (StringMatch(regex: "/a.*"), StringMatch(prefix: "/a"), true),
        (StringMatch(prefix: "/a"), StringMatch(regex: "/a.*"), true),
    ] as [(StringMatch, StringMatch, Bool)])
    func uriConflicts(root: StringMatch, leaf: StringMatch, conflict: Bool) {
        let merged = VirtualServiceMerger.merge(
            root: .init(match: [Match(uri: root)]), delegate: .init(match: [Match(uri: leaf)], route: Self.to("r")))
        #expect((merged == nil) == conflict)
    }

    @Test func otherConflicts() {
        func conflicts(_ root: Match, _ leaf: Match) -> Bool {
            VirtualServiceMerger.merge(root: .init(match: [root]), delegate: .init(match: [leaf], route: Self.to("r"))) == nil
        }
        #expect(conflicts(Match(port: 80), Match(port: 81)))
        #expect(!conflicts(Match(port: 80), Match(uri: StringMatch(prefix: "/"))))
        #expect(conflicts(Match(sourceLabels: ["app": "a"]), Match(sourceLabels: ["app": "b"])))
        #expect(conflicts(Match(ignoreUriCase: true), Match()))
        #expect(conflicts(Match(gateways: ["mesh"]), Match(gateways: ["mesh", "gw"])))
        #expect(conflicts(Match(sourceNamespace: "a"), Match(sourceNamespace: "b")))
        #expect(!conflicts(Match(headers: ["x": StringMatch(prefix: "a")]), Match(headers: ["x": StringMatch(prefix: "ab")])))
        // One root match of two fits: the delegate's match is kept once.
        let merged = VirtualServiceMerger.merge(
            root: .init(match: [Match(uri: StringMatch(prefix: "/a")), Match(uri: StringMatch(prefix: "/b"))]),
            delegate: .init(match: [Match(uri: StringMatch(prefix: "/b/c"))], route: Self.to("r")))
        #expect(merged?.match?.map(\.uri) == [StringMatch(prefix: "/b/c")])
    }
}

@Suite struct RouteBuilderActionTests {
    let proxy = ProxyView(identity: ProxyIdentity(type: .sidecar, ipAddress: "127.0.0.11", workloadName: "pp", namespace: "bookinfo",
                                                   dnsDomain: "bookinfo.svc.cluster.local"), labels: ["app": "productpage"])
    let builder = RouteBuilder(options: TranslationOptions())

    func route(_ rule: VirtualService.HTTPRoute, port: UInt32 = 9080) -> Envoy_Config_Route_V3_Route? {
        let vs = Resource(meta: ObjectMeta(name: "reviews", namespace: "bookinfo"), spec: VirtualService(hosts: ["reviews"], http: [rule]))
        return builder.routes(vs, port: port, proxy: proxy, services: { _, _ in nil }, rules: { _ in nil }).first
    }

    @Test func perRouteFaultAndCorsConfig() throws {
        let out = try #require(route(.init(
            route: [.init(destination: Destination(host: "reviews"))],
            fault: .init(abort: .init(httpStatus: 503, percentage: Percent(value: 50))),
            corsPolicy: .init(allowOrigins: [StringMatch(exact: "https://a")]))))
        EnvoyAnyTypes.register()
        let fault = try Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault(unpackingAny: try #require(out.typedPerFilterConfig["envoy.filters.http.fault"]))
        #expect(fault.abort.httpStatus == 503)
        let cors = try Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy(unpackingAny: try #require(out.typedPerFilterConfig["envoy.filters.http.cors"]))
        #expect(cors.allowOriginStringMatch.map(\.exact) == ["https://a"])
    }

    @Test func authorityPrecedence() throws {
        typealias Ops = VirtualService.Headers.HeaderOperations
        let headers = VirtualService.Headers(request: Ops(set: [":authority": "from-headers"]))
        let destination = VirtualService.HTTPRouteDestination(
            destination: Destination(host: "reviews"), headers: .init(request: Ops(set: ["host": "from-destination"], remove: ["x"])))
        #expect(route(.init(route: [destination], rewrite: .init(authority: "from-rewrite"), headers: headers))?.route.hostRewriteLiteral == "from-rewrite")
        #expect(route(.init(route: [destination], headers: headers))?.route.hostRewriteLiteral == "from-headers")
        let single = try #require(route(.init(route: [destination])))
        #expect(single.route.hostRewriteLiteral == "from-destination" && single.requestHeadersToRemove == ["x"])
        var heavier = destination
        heavier.weight = 3
        let weighted = try #require(route(.init(route: [heavier, .init(destination: Destination(host: "ratings"), weight: 1)])))
        #expect(weighted.route.weightedClusters.clusters[0].hostRewriteLiteral == "from-destination")
        #expect(weighted.route.hostRewriteSpecifier == nil)
    }

    @Test func unsupportedRedirectDropsTheRoute() {
        #expect(route(.init(redirect: .init(uri: "/x", redirectCode: 418))) == nil)
        #expect(route(.init(redirect: .init(uri: "/x")))?.redirect.pathRedirect == "/x")
        #expect(route(.init(redirect: .init(uri: "/x")))?.decorator.operation == "reviews:9080/*")
    }

    @Test func noRoutesForThisProxyFallsBackToTheDefaultRoute() {
        let service = MeshService(hostname: "reviews.bookinfo.svc.cluster.local", namespace: "bookinfo",
                                  ports: [ServicePortInfo(name: "http", port: 9080, protocol: .http)])
        let vs = Resource(meta: ObjectMeta(name: "reviews", namespace: "bookinfo"), spec: VirtualService(hosts: ["reviews"], http: [
            .init(match: [.init(sourceLabels: ["app": "ratings"])], route: [.init(destination: Destination(host: "reviews", subset: "v2"))]),
        ]))
        let host = builder.virtualHost(service: service, port: service.ports[0], proxy: proxy, virtualService: vs,
                                       includePort: false, services: { _, _ in nil }, rules: { _ in nil })
        #expect(host.routes.map(\.name) == ["default"])
        #expect(host.routes[0].route.cluster == "outbound|9080||reviews.bookinfo.svc.cluster.local")
    }
}
