import Foundation
import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import Testing
@testable import MeshProxy

/// Simulation: the route configurations our translator produces for Istio config (the golden files
/// of `TranslationGoldenTests`) are compiled into route tables, and requests are routed through them
/// in-process, asserting the cluster, redirect or direct response Envoy would pick.
@Suite("Route simulation over translator goldens")
struct RouteSimulationTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MeshXDSTests/testdata/translation")

    static func caseNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: goldenDirectory.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: goldenDirectory.appendingPathComponent("\($0)/rds.golden.json").path)
        }.sorted()
    }

    /// Every RouteConfiguration in one golden case.
    static func configurations(_ name: String) throws -> [Envoy_Config_Route_V3_RouteConfiguration] {
        EnvoyAnyTypes.register()
        let data = try Data(contentsOf: goldenDirectory.appendingPathComponent("\(name)/rds.golden.json"))
        let array = try #require(try JSONSerialization.jsonObject(with: data) as? [Any])
        return try array.map { element in
            let json = try JSONSerialization.data(withJSONObject: element)
            return try Envoy_Config_Route_V3_RouteConfiguration(jsonUTF8Data: json)
        }
    }

    static func table(_ name: String, _ routeConfiguration: String) throws -> RouteTable {
        let config = try #require(try configurations(name).first { $0.name == routeConfiguration }, "\(name) has no \(routeConfiguration)")
        return try RouteTable(config)
    }

    @Test func goldenCasesArePresent() {
        #expect(Self.caseNames().count >= 20)
    }

    @Test(arguments: caseNames())
    func everyGoldenRouteConfigurationCompiles(_ name: String) throws {
        for config in try Self.configurations(name) {
            do {
                let table = try RouteTable(config)
                #expect(table.virtualHosts.count == config.virtualHosts.count)
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    // MARK: vs-http-actions

    @Test func actionsRedirects() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let cases: [(String, String, Int)] = [
            ("/old/page?x=1", "https://reviews.example.com:8443/new?x=1", 308),
            ("/moved", "http://reviews:9080/here", 302),
            ("/http", "http://www.example.com/http", 301),
        ]
        for (path, location, status) in cases {
            let request = RoutingFixture.request(path, authority: "reviews:9080")
            let result = try #require(table.route(for: request))
            guard case .redirect(let redirect) = result.route.action else {
                Issue.record("\(path): \(result.route.action)")
                continue
            }
            #expect(redirect.location(for: request) == location)
            #expect(redirect.responseCode == status)
        }
    }

    @Test func actionsDirectResponses() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let health = try #require(table.route(for: RoutingFixture.request("/health", authority: "reviews")))
        guard case .directResponse(200, "ok\n"?) = health.route.action else { Issue.record("\(health.route.action)"); return }
        let bytes = try #require(table.route(for: RoutingFixture.request("/bytes", authority: "reviews.bookinfo.svc.cluster.local:9080")))
        guard case .directResponse(503, "sorry"?) = bytes.route.action else { Issue.record("\(bytes.route.action)"); return }
        var response: HTTPHeaders = ["x-reason": "old"]
        bytes.route.responseHeaderMutations.apply(to: &response)
        #expect(response["x-reason"] == ["maintenance"])
        // An unknown authority lands in Istio's block_all virtual host.
        let blocked = try #require(table.route(for: RoutingFixture.request("/", authority: "unknown.example.com")))
        #expect(blocked.virtualHost.name == "block_all")
        guard case .directResponse(502, nil) = blocked.route.action else { Issue.record("\(blocked.route.action)"); return }
    }

    @Test func actionsRewrites() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let prefix = RoutingFixture.request("/v1/list?page=2", authority: "reviews:9080")
        let prefixRoute = try #require(table.route(for: prefix))
        #expect(prefixRoute.route.name == "rewrite-prefix")
        #expect(prefixRoute.clusterName == "outbound|9080|v1|reviews.bookinfo.svc.cluster.local")
        #expect(prefixRoute.forward?.rewrittenPath(for: prefix) == "/api/list?page=2")
        #expect(prefixRoute.forward?.rewrittenAuthority(for: prefix) == "reviews-internal")

        let regex = RoutingFixture.request("/users/42/profile", authority: "reviews")
        let regexRoute = try #require(table.route(for: regex))
        #expect(regexRoute.route.name == "rewrite-regex")
        #expect(regexRoute.forward?.rewrittenPath(for: regex) == "/profile?id=42")
        // The regex must match the whole path; anything else falls through to the split.
        #expect(table.route(for: RoutingFixture.request("/users/42/profile/x", authority: "reviews"))?.route.name == "split")
    }

    @Test func actionsRetriesAndTimeouts() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let flaky = try #require(table.route(for: RoutingFixture.request("/flaky", authority: "reviews"))?.forward)
        #expect(flaky.timeout == .seconds(5))
        let retry = try #require(flaky.retryPolicy)
        #expect(retry.numRetries == 4)
        #expect(retry.perTryTimeout == .milliseconds(800))
        #expect(retry.retryOn == [.fiveXX, .reset, .retriableStatusCodes])
        #expect(retry.retriableStatusCodes == [429, 503])
        #expect(retry.baseInterval == .milliseconds(50))
        #expect(retry.maxInterval == .milliseconds(500))
        #expect(retry.retryPriority == "envoy.retry_priorities.previous_priorities")
        #expect(retry.shouldRetry(status: 429, headers: [:]))
        #expect(retry.shouldRetry(status: 500, headers: [:]))
        #expect(retry.shouldRetry(failure: .reset(requestSent: true)))

        let once = try #require(table.route(for: RoutingFixture.request("/once", authority: "reviews"))?.forward)
        #expect(once.retryPolicy == nil)
        #expect(once.timeout == nil)

        // Istio's default policy on every other route.
        let fault = try #require(table.route(for: RoutingFixture.request("/fault", authority: "reviews")))
        let istioDefault = try #require(fault.forward?.retryPolicy)
        #expect(istioDefault.numRetries == 2)
        #expect(istioDefault.shouldRetry(status: 503, headers: [:]))
        #expect(!istioDefault.shouldRetry(status: 500, headers: [:]))
        #expect(istioDefault.shouldRetry(failure: .connectFailure))
        #expect(istioDefault.hostPredicates == ["envoy.retry_host_predicates.previous_hosts"])
        #expect(fault.route.typedPerFilterConfig["envoy.filters.http.fault"] != nil)
        #expect(fault.virtualHost.includeRequestAttemptCount)
    }

    @Test func actionsMirrors() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let mirrored = try #require(table.route(for: RoutingFixture.request("/mirror", authority: "reviews"))?.forward)
        let mirror = try #require(mirrored.requestMirrorPolicies.first)
        #expect(mirror.cluster == "outbound|9080||shadow.bookinfo.svc.cluster.local")
        #expect(mirror.fraction == RuntimeFraction(numerator: 255_000, denominator: 1_000_000))
        #expect(mirror.shouldMirror(random: 254_999))
        #expect(!mirror.shouldMirror(random: 255_000))
    }

    @Test func actionsWeightedSplitAndPerClusterHeaders() throws {
        let table = try Self.table("vs-http-actions", "9080")
        var counts: [String: Int] = [:]
        for random in UInt64(0)..<1000 {
            let request = RoutingFixture.request("/anything", authority: "reviews", random: random)
            let result = try #require(table.route(for: request))
            #expect(result.route.name == "split")
            let selection = try #require(result.forward?.selectCluster(for: request))
            counts[selection.cluster, default: 0] += 1
        }
        #expect(counts == [
            "outbound|9080|v1|reviews.bookinfo.svc.cluster.local": 700,
            "outbound|9080|v2|reviews.bookinfo.svc.cluster.local": 200,
            "outbound|9090||ratings.bookinfo.svc.cluster.local": 100,
        ])

        let request = RoutingFixture.request("/", authority: "reviews", random: 0)
        let result = try #require(table.route(for: request))
        let forward = try #require(result.forward)
        let v1 = try #require(forward.selectCluster(for: request))
        var headers: HTTPHeaders = ["x-internal": "secret", "x-route": "client"]
        result.route.requestHeaderMutations(for: v1.weightedCluster).apply(to: &headers)
        #expect(headers["x-internal"].isEmpty)
        #expect(headers["x-route"] == ["split"])
        #expect(headers["x-added"] == ["1"])
        #expect(headers["x-subset"] == ["v1"])
        #expect(forward.rewrittenAuthority(for: request, cluster: v1.weightedCluster) == "reviews-split")

        let v2Request = RoutingFixture.request("/", authority: "reviews", random: 75)
        let v2 = try #require(forward.selectCluster(for: v2Request))
        #expect(v2.cluster == "outbound|9080|v2|reviews.bookinfo.svc.cluster.local")
        #expect(forward.rewrittenAuthority(for: v2Request, cluster: v2.weightedCluster) == "reviews-v2")
        var v2Headers = HTTPHeaders()
        result.route.requestHeaderMutations(for: v2.weightedCluster).apply(to: &v2Headers)
        #expect(v2Headers["x-subset"].isEmpty)

        var response: HTTPHeaders = ["server": "upstream"]
        result.route.responseHeaderMutations(for: v1.weightedCluster).apply(to: &response)
        #expect(response["server"].isEmpty)
        #expect(response["x-served-by"] == ["reviews"])
        #expect(response["x-v"] == ["1"])
    }

    @Test func actionsRouteAndDestinationHeadersOnRatings() throws {
        let table = try Self.table("vs-http-actions", "9080")
        let request = RoutingFixture.request("/", authority: "ratings:9080")
        let result = try #require(table.route(for: request))
        #expect(result.clusterName == "outbound|9080||ratings.bookinfo.svc.cluster.local")
        #expect(result.forward?.rewrittenAuthority(for: request) == "ratings-internal")
        var headers: HTTPHeaders = ["cookie": "a=1"]
        result.route.requestHeaderMutations.apply(to: &headers)
        #expect(headers["cookie"].isEmpty)
        #expect(headers["x-route"] == ["ratings"])
    }

    // MARK: vs-http-matching

    @Test func matchingUriAndMethodAndHeaders() throws {
        let table = try Self.table("vs-http-matching", "9080")
        let v2 = "outbound|9080|v2|reviews.bookinfo.svc.cluster.local"
        let v1 = "outbound|9080|v1|reviews.bookinfo.svc.cluster.local"
        #expect(table.route(for: RoutingFixture.request("/reviews/0", authority: "reviews"))?.clusterName == v2)
        #expect(table.route(for: RoutingFixture.request("/reviews/7/ratings", authority: "reviews"))?.clusterName == v2)
        // Envoy's case_sensitive does not apply to safe_regex, so Istio's ignoreUriCase on a regex has no effect.
        #expect(table.route(for: RoutingFixture.request("/REVIEWS/7/RATINGS", authority: "reviews"))?.clusterName == v1)

        let attributes: [(String, String)] = [("end-user", "jason"), ("x-present", ""), ("x-team", "blue-1")]
        let matching = RoutingFixture.request("/x?version=v2&beta&lang=fr", authority: "reviews:9080", headers: attributes)
        #expect(table.route(for: matching)?.route.name == "request-attributes")
        let variants: [RouteRequest] = [
            RoutingFixture.request("/x?version=v2&beta&lang=fr", method: "POST", authority: "reviews:9080", headers: attributes),
            RoutingFixture.request("/x?version=v2&beta&lang=de", authority: "reviews:9080", headers: attributes),
            RoutingFixture.request("/x?version=v2&lang=fr", authority: "reviews:9080", headers: attributes),
            RoutingFixture.request("/x?version=v2&beta&lang=fr", authority: "reviews:9080", headers: attributes + [("x-skip", "yes")]),
            RoutingFixture.request("/x?version=v2&beta&lang=fr", authority: "reviews:9080", headers: attributes + [("x-debug", "1")]),
            RoutingFixture.request("/x?version=v2&beta&lang=fr", authority: "reviews:9080", headers: Array(attributes.dropFirst())),
            RoutingFixture.request("/x?version=v2&beta&lang=fr", authority: "reviews:9080", headers: attributes, scheme: "https"),
        ]
        for variant in variants {
            #expect(table.route(for: variant)?.route.name != "request-attributes", "\(variant.method) \(variant.path) \(variant.headers)")
        }
        #expect(table.route(for: RoutingFixture.request("/x?version=v2&beta&lang=fr", method: "HEAD", authority: "reviews:9080",
                                                       headers: attributes + [("x-skip", "no")]))?.route.name == "request-attributes")

        #expect(table.route(for: RoutingFixture.request("/api/v2/x", authority: "reviews", headers: [("x-tenant", "a")]))?.route.name == "api-v2")
        #expect(table.route(for: RoutingFixture.request("/api/v2/x", method: "POST", authority: "reviews", headers: [("x-tenant", "a")]))?.route.name == "api-rest")
        #expect(table.route(for: RoutingFixture.request("/api/v2/x", authority: "reviews"))?.route.name == "catch-all")
    }

    // MARK: gw-jwt-claim-routes

    /// Istio's JWT claim routes as the gateway's jwt_authn leaves the metadata: the verified
    /// payload under its issuer, lists and strings alike.
    @Test func jwtClaimRoutesMatchTheVerifiedPayloadOfAnyIssuer() throws {
        let table = try Self.table("gw-jwt-claim-routes", "http.8080")
        func payload(_ issuer: String, _ json: String) throws -> [String: Google_Protobuf_Struct] {
            ["envoy.filters.http.jwt_authn": Google_Protobuf_Struct(fields: [issuer: Google_Protobuf_Value(structValue: try Google_Protobuf_Struct(jsonString: json))])]
        }
        func route(_ metadata: [String: Google_Protobuf_Struct], canary: Bool = true) -> String? {
            var request = RoutingFixture.request("/", authority: "reviews.example.com", headers: canary ? [("x-canary", "1")] : [])
            request.dynamicMetadata = metadata
            return table.route(for: request)?.route.name
        }
        let a = "https://issuer-a.example.com", b = "https://issuer-b.example.com"
        let admin = #"{"groups": ["dev", "admin"], "org": {"team": "reviewers"}}"#
        #expect(try route(payload(a, admin)) == "admins")
        #expect(try route(payload(b, admin)) == "admins")
        #expect(try route(payload(b, #"{"groups": "admin", "org": {"team": "review"}}"#)) == "admins")
        // Every condition: the plain header, each claim, and no `suspended` claim.
        #expect(try route(payload(a, admin), canary: false) == "not-blocked")
        #expect(try route(payload(a, #"{"groups": ["dev"], "org": {"team": "reviewers"}}"#)) == "not-blocked")
        #expect(try route(payload(a, #"{"groups": ["admin"], "org": {"team": "ops"}}"#)) == "not-blocked")
        #expect(try route(payload(a, #"{"groups": ["admin"], "org": {"team": "reviewers"}, "suspended": false}"#)) == "not-blocked")
        // An unknown issuer's payload matches nothing; no token leaves the inverted match holding.
        #expect(try route(payload("https://other.example.com", admin)) == "not-blocked")
        #expect(route([:]) == "not-blocked")
        #expect(try route(payload(b, #"{"blocked": "true"}"#)) == "default")
        #expect(try route(payload(a, #"{"blocked": ["true"]}"#)) == "default")
    }

    // MARK: dr-hash-locality

    @Test func hashPoliciesFromDestinationRules() throws {
        let table = try Self.table("dr-hash-locality", "8080")
        let request = RoutingFixture.request("/", authority: "cart", headers: [("cookie", "session=abc"), ("x-user", "u1")])
        let forward = try #require(table.route(for: request)?.forward)
        let cookie = XXHash64.hash("abc"), user = XXHash64.hash("u1")
        #expect(HashPolicy.hash(forward.hashPolicies, HashPolicyInput(request: request)) == ((cookie << 1) | (cookie >> 63)) ^ user)
        guard case .cookie(let name, let ttl, let path) = forward.hashPolicies[0].source else {
            Issue.record("\(forward.hashPolicies[0].source)")
            return
        }
        #expect(name == "session" && ttl == .seconds(3600) && path == "/checkout")
        // The 80/20 stable/canary split, over a deterministic sweep of the per-request random value.
        var counts: [String: Int] = [:]
        for random in UInt64(0)..<1000 {
            let sweep = RoutingFixture.request("/cart", authority: "cart.shop.svc.cluster.local:8080", random: random)
            counts[try #require(table.route(for: sweep)?.forward?.selectCluster(for: sweep)).cluster, default: 0] += 1
        }
        #expect(counts == ["outbound|8080|stable|cart.shop.svc.cluster.local": 800, "outbound|8080|canary|cart.shop.svc.cluster.local": 200])
        #expect(table.route(for: RoutingFixture.request("/checkout/pay", authority: "cart"))?.clusterName == "outbound|8080|stable|cart.shop.svc.cluster.local")

        let catalog = try #require(table.route(for: RoutingFixture.request("/", authority: "catalog"))?.forward)
        #expect(HashPolicy.hash(catalog.hashPolicies, HashPolicyInput(request: request, sourceIP: "127.0.0.1")) == 0xC08B_1587_DF65_B7A7)
        let table8081 = try Self.table("dr-hash-locality", "8081")
        let byQuery = RoutingFixture.request("/search?q=abc", authority: "catalog:8081")
        let queryForward = try #require(table8081.route(for: byQuery)?.forward)
        #expect(HashPolicy.hash(queryForward.hashPolicies, HashPolicyInput(request: byQuery)) == XXHash64.hash("abc"))
    }

    // MARK: gateways

    @Test func gatewayHTTPSRedirectAndWildcardDomains() throws {
        let redirecting = try Self.table("gw-https", "http.8080")
        let plain = RoutingFixture.request("/reviews/1", authority: "bookinfo.example.com:8080")
        let result = try #require(redirecting.route(for: plain))
        guard case .redirect(let redirect) = result.route.action else { Issue.record("\(result.route.action)"); return }
        #expect(redirect.location(for: plain) == "https://bookinfo.example.com:8080/reviews/1")
        #expect(redirect.responseCode == 301)

        let ingress = try Self.table("gw-ingress-http", "http.8080")
        #expect(ingress.route(for: RoutingFixture.request("/reviews", authority: "bookinfo.example.com:8080"))?.clusterName
            == "outbound|9080|v2|reviews.bookinfo.svc.cluster.local")
        #expect(ingress.route(for: RoutingFixture.request("/", authority: "bookinfo.example.com"))?.clusterName
            == "outbound|9080||productpage.bookinfo.svc.cluster.local")
        #expect(ingress.route(for: RoutingFixture.request("/reviews", authority: "a.shop.example.com"))?.clusterName
            == "outbound|9080|v2|reviews.bookinfo.svc.cluster.local")
        #expect(ingress.route(for: RoutingFixture.request("/", authority: "other.example.com")) == nil)

        var counts: [String: Int] = [:]
        for random in UInt64(0)..<100 {
            let request = RoutingFixture.request("/", authority: "reviews.example.com:8080", random: random)
            let selection = try #require(ingress.route(for: request)?.forward?.selectCluster(for: request))
            counts[selection.cluster, default: 0] += 1
        }
        #expect(counts == ["outbound|9080|v1|reviews.bookinfo.svc.cluster.local": 70, "outbound|9080|v2|reviews.bookinfo.svc.cluster.local": 30])
    }
}
