import MeshXDS
import NIOHTTP1
import Testing
@testable import MeshProxy

@Suite("Forward actions")
struct ForwardActionTests {
    private func forward(_ route: String, vhostExtra: String = "") throws -> (RouteTable, ForwardAction) {
        let table = try RoutingFixture.table(routes: route, vhostExtra: vhostExtra)
        let result = try #require(table.route(for: RoutingFixture.request("/")))
        return (table, try #require(result.forward))
    }

    @Test func weightedSelectionWalksTheListWithRandomModuloTotal() throws {
        let (_, action) = try forward("""
        {"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
          {"name": "a", "weight": 80}, {"name": "zero", "weight": 0}, {"name": "b", "weight": 20}]}}}
        """)
        guard case .weighted(let clusters, let total, nil) = action.clusterSpecifier else {
            Issue.record("expected a weighted split")
            return
        }
        #expect(total == 100)
        // random % 100 in [0, 80) → a, [80, 100) → b; a zero weight never wins.
        var counts: [String: Int] = [:]
        for random in UInt64(0)..<10_000 {
            let name = try #require(ForwardAction.selectWeighted(clusters, totalWeight: total, random: random)?.name)
            counts[name, default: 0] += 1
            #expect(name == (random % 100 < 80 ? "a" : "b"))
        }
        #expect(counts == ["a": 8000, "b": 2000])
        #expect(ForwardAction.selectWeighted(clusters, totalWeight: total, random: UInt64.max)?.name == "a")  // UInt64.max % 100 == 15
    }

    @Test func weightedSelectionHonoursTheRandomValueHeader() throws {
        let table = try RoutingFixture.table(routes: """
        {"match": {"prefix": "/"}, "route": {"weighted_clusters": {"header_name": "x-random", "clusters": [
          {"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}}}
        """)
        let action = try #require(table.route(for: RoutingFixture.request("/"))?.forward)
        #expect(action.selectCluster(for: RoutingFixture.request("/", headers: [("x-random", "1")], random: 0))?.cluster == "b")
        #expect(action.selectCluster(for: RoutingFixture.request("/", headers: [("x-random", "2")], random: 1))?.cluster == "a")
        #expect(action.selectCluster(for: RoutingFixture.request("/", headers: [("x-random", "junk")], random: 1))?.cluster == "b")
    }

    @Test func clusterHeaderNamesTheCluster() throws {
        let (_, action) = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster_header": "X-Cluster"}}"#)
        #expect(action.selectCluster(for: RoutingFixture.request("/", headers: [("x-cluster", "east")]))?.cluster == "east")
        #expect(action.selectCluster(for: RoutingFixture.request("/")) == nil)
        #expect(action.clusterNotFoundResponseCode == 503)
    }

    struct RewriteCase: Sendable, CustomTestStringConvertible {
        let match: String
        let rewrite: String
        let path: String
        let expected: String
        init(_ match: String, _ rewrite: String, _ path: String, _ expected: String) {
            self.match = match
            self.rewrite = rewrite
            self.path = path
            self.expected = expected
        }
        var testDescription: String { "\(match) \(rewrite): \(path) → \(expected)" }
    }

    static let rewriteCases: [RewriteCase] = [
        RewriteCase(#"{"prefix": "/v1/"}"#, #""prefix_rewrite": "/api/""#, "/v1/users?x=1", "/api/users?x=1"),
        RewriteCase(#"{"prefix": "/v1"}"#, #""prefix_rewrite": "/""#, "/v1/users", "//users"),
        RewriteCase(#"{"prefix": "/V1/", "case_sensitive": false}"#, #""prefix_rewrite": "/api/""#, "/v1/users", "/api/users"),
        RewriteCase(#"{"path": "/old"}"#, #""prefix_rewrite": "/new""#, "/old?q", "/new?q"),
        RewriteCase(#"{"path_separated_prefix": "/svc"}"#, #""prefix_rewrite": "/backend""#, "/svc/x", "/backend/x"),
        RewriteCase(#"{"safe_regex": {"regex": "/a/.*"}}"#, #""prefix_rewrite": "/b""#, "/a/x?q=1", "/b?q=1"),
        RewriteCase(#"{"prefix": "/"}"#, #""regex_rewrite": {"pattern": {"regex": "^/users/([0-9]+)/profile$"}, "substitution": "/profile?id=\\1"}"#,
                    "/users/42/profile", "/profile?id=42"),
        RewriteCase(#"{"prefix": "/"}"#, #""regex_rewrite": {"pattern": {"regex": "o"}, "substitution": "0"}"#, "/foo/boo?o=o", "/f00/b00?o=o"),
        RewriteCase(#"{"prefix": "/"}"#, #""regex_rewrite": {"pattern": {"regex": "^/(\\w+)/(\\w+)$"}, "substitution": "/\\2/\\1"}"#, "/a/b?x", "/b/a?x"),
        RewriteCase(#"{"prefix": "/"}"#, #""regex_rewrite": {"pattern": {"regex": "^/x"}, "substitution": "\\0\\0"}"#, "/xy", "/x/xy"),
        RewriteCase(#"{"prefix": "/"}"#, #""regex_rewrite": {"pattern": {"regex": "nomatch"}, "substitution": "z"}"#, "/a?nomatch", "/a?nomatch"),
        RewriteCase(#"{"prefix": "/"}"#, "", "/keep?x", "/keep?x"),
    ]

    @Test(arguments: rewriteCases)
    func pathRewrites(_ c: RewriteCase) throws {
        let comma = c.rewrite.isEmpty ? "" : ", "
        let table = try RoutingFixture.table(routes: #"{"match": \#(c.match), "route": {"cluster": "c"\#(comma)\#(c.rewrite)}}"#)
        let request = RoutingFixture.request(c.path)
        let action = try #require(table.route(for: request)?.forward)
        #expect(action.rewrittenPath(for: request) == c.expected)
    }

    @Test func hostRewrites() throws {
        let request = RoutingFixture.request("/tenants/acme/x?y", headers: [("x-host", "from-header")])
        let literal = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "host_rewrite_literal": "internal"}}"#).1
        #expect(literal.rewrittenAuthority(for: request) == "internal")
        let header = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "host_rewrite_header": "X-Host"}}"#).1
        #expect(header.rewrittenAuthority(for: request) == "from-header")
        #expect(header.rewrittenAuthority(for: RoutingFixture.request("/")) == nil)
        let regex = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "host_rewrite_path_regex": {"pattern": {"regex": "^/tenants/([a-z]+)/.*$"}, "substitution": "\\1.svc"}}}"#).1
        #expect(regex.rewrittenAuthority(for: request) == "acme.svc")
        let auto = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "auto_host_rewrite": true}}"#).1
        if case .auto = auto.hostRewrite {} else { Issue.record("expected auto host rewrite") }
        #expect(auto.rewrittenAuthority(for: request) == nil)
        let none = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#).1
        #expect(none.rewrittenAuthority(for: request) == nil)
    }

    @Test func weightedClusterHostLiteralWins() throws {
        let (_, action) = try forward("""
        {"match": {"prefix": "/"}, "route": {"host_rewrite_literal": "route", "weighted_clusters": {"clusters": [
          {"name": "a", "weight": 1, "host_rewrite_literal": "cluster-a"}]}}}
        """)
        let request = RoutingFixture.request("/")
        let selection = try #require(action.selectCluster(for: request))
        #expect(action.rewrittenAuthority(for: request, cluster: selection.weightedCluster) == "cluster-a")
        #expect(action.rewrittenAuthority(for: request) == "route")
    }

    @Test func timeoutsFollowEnvoyDefaults() throws {
        let unset = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#).1
        #expect(unset.timeout == .seconds(15))
        #expect(unset.idleTimeout == nil)
        #expect(unset.retryPolicy == nil)
        let disabled = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "timeout": "0s", "idle_timeout": "2.5s"}}"#).1
        #expect(disabled.timeout == nil)
        #expect(disabled.idleTimeout == .milliseconds(2500))
        let set = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "timeout": "5s", "max_stream_duration": {"max_stream_duration": "60s", "grpc_timeout_header_max": "0s", "grpc_timeout_header_offset": "0.1s"}}}"#).1
        #expect(set.timeout == .seconds(5))
        #expect(set.maxStreamDuration == ForwardAction.MaxStreamDuration(maxStreamDuration: .seconds(60), grpcTimeoutHeaderMax: .zero, grpcTimeoutHeaderOffset: .milliseconds(100)))
    }

    @Test func routeRetryPolicyReplacesTheVirtualHostPolicyEntirely() throws {
        let vhost = #""retry_policy": {"retry_on": "5xx", "num_retries": 7}"#
        let inherited = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#, vhostExtra: vhost).1
        #expect(inherited.retryPolicy?.numRetries == 7)
        #expect(inherited.retryPolicy?.retryOn == .fiveXX)
        let own = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "retry_policy": {"retry_on": "reset"}}}"#, vhostExtra: vhost).1
        #expect(own.retryPolicy?.numRetries == 1)
        #expect(own.retryPolicy?.retryOn == .reset)
    }

    @Test func mirrorPoliciesAndTheirFractions() throws {
        let (_, action) = try forward("""
        {"match": {"prefix": "/"}, "route": {"cluster": "c", "request_mirror_policies": [
          {"cluster": "shadow", "runtime_fraction": {"default_value": {"numerator": 255000, "denominator": "MILLION"}}, "trace_sampled": false},
          {"cluster": "all"}]}}
        """)
        #expect(action.requestMirrorPolicies.count == 2)
        let shadow = action.requestMirrorPolicies[0]
        #expect(shadow.traceSampled == false)
        #expect(shadow.fraction == RuntimeFraction(numerator: 255_000, denominator: 1_000_000))
        #expect((0..<1_000_000).filter { shadow.shouldMirror(random: UInt64($0)) }.count == 255_000)
        #expect(action.requestMirrorPolicies[1].shouldMirror(random: 99))
        #expect(action.requestMirrorPolicies[1].traceSampled == nil)
    }

    @Test func virtualHostMirrorsApplyWhenTheRouteHasNone() throws {
        let vhost = #""request_mirror_policies": [{"cluster": "vh-mirror"}]"#
        let inherited = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#, vhostExtra: vhost).1
        #expect(inherited.requestMirrorPolicies.map(\.cluster) == ["vh-mirror"])
        let own = try forward(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "request_mirror_policies": [{"cluster": "mine"}]}}"#, vhostExtra: vhost).1
        #expect(own.requestMirrorPolicies.map(\.cluster) == ["mine"])
    }

    @Test func directResponsesAndDecorators() throws {
        let table = try RoutingFixture.table(routes: """
        {"match": {"path": "/health"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\\n"}}, "decorator": {"operation": "health"}},
        {"match": {"path": "/bytes"}, "direct_response": {"status": 503, "body": {"inline_bytes": "c29ycnk="}}},
        {"match": {"path": "/empty"}, "direct_response": {"status": 204}}
        """)
        let health = try #require(table.route(for: RoutingFixture.request("/health")))
        guard case .directResponse(200, "ok\n"?) = health.route.action else { Issue.record("\(health.route.action)"); return }
        #expect(health.route.decorator == RouteEntry.Decorator(operation: "health", propagate: true))
        guard case .directResponse(503, "sorry"?) = try #require(table.route(for: RoutingFixture.request("/bytes"))).route.action else {
            Issue.record("bytes body")
            return
        }
        guard case .directResponse(204, nil) = try #require(table.route(for: RoutingFixture.request("/empty"))).route.action else {
            Issue.record("empty body")
            return
        }
    }
}
