import MeshXDS
import NIOHTTP1
import Testing
@testable import MeshProxy

@Suite("Route matching")
struct RouteMatchTests {
    struct PathCase: Sendable, CustomTestStringConvertible {
        let match: String
        let method: String
        let path: String
        let matches: Bool
        init(_ match: String, _ path: String, _ matches: Bool, method: String = "GET") {
            self.match = match
            self.path = path
            self.matches = matches
            self.method = method
        }
        var testDescription: String { "\(match) \(method) \(path) → \(matches)" }
    }

    static let pathCases: [PathCase] = [
        PathCase(#"{"prefix": "/"}"#, "/anything?x=1", true),
        PathCase(#"{"prefix": ""}"#, "/", true),
        PathCase(#"{"prefix": "/api"}"#, "/api", true),
        PathCase(#"{"prefix": "/api"}"#, "/apiv2/x", true),
        PathCase(#"{"prefix": "/api"}"#, "/API/x", false),
        PathCase(#"{"prefix": "/api", "case_sensitive": false}"#, "/API/x", true),
        PathCase(#"{"prefix": "/API", "case_sensitive": false}"#, "/api/x", true),
        PathCase(#"{"prefix": "/api?"}"#, "/api?x", false),  // the query is not part of the matched path
        PathCase(#"{"path": "/exact"}"#, "/exact", true),
        PathCase(#"{"path": "/exact"}"#, "/exact?q=1", true),
        PathCase(#"{"path": "/exact"}"#, "/exact#frag", true),
        PathCase(#"{"path": "/exact"}"#, "/exact/", false),
        PathCase(#"{"path": "/exact"}"#, "/EXACT", false),
        PathCase(#"{"path": "/exact", "case_sensitive": false}"#, "/EXACT", true),
        PathCase(#"{"safe_regex": {"regex": "/users/[0-9]+"}}"#, "/users/42", true),
        PathCase(#"{"safe_regex": {"regex": "/users/[0-9]+"}}"#, "/users/42?x=1", true),
        PathCase(#"{"safe_regex": {"regex": "/users/[0-9]+"}}"#, "/users/42/profile", false),  // whole-path match
        PathCase(#"{"safe_regex": {"regex": "/users/[0-9]+"}}"#, "/x/users/42", false),
        PathCase(#"{"safe_regex": {"regex": "/Users"}, "case_sensitive": false}"#, "/users", false),  // case_sensitive ignores regexes
        PathCase(#"{"safe_regex": {"regex": "(?i)/Users"}}"#, "/users", true),
        PathCase(#"{"path_separated_prefix": "/api"}"#, "/api", true),
        PathCase(#"{"path_separated_prefix": "/api"}"#, "/api/v1", true),
        PathCase(#"{"path_separated_prefix": "/api"}"#, "/api?x=1", true),
        PathCase(#"{"path_separated_prefix": "/api"}"#, "/apiv1", false),
        PathCase(#"{"path_separated_prefix": "/api", "case_sensitive": false}"#, "/API/v1", true),
        PathCase(#"{"connect_matcher": {}}"#, "", true, method: "CONNECT"),
        PathCase(#"{"connect_matcher": {}}"#, "/", false),
        PathCase(#"{"prefix": "/"}"#, "", false, method: "CONNECT"),
    ]

    @Test(arguments: pathCases)
    func pathSpecifiers(_ c: PathCase) throws {
        let table = try RoutingFixture.table(match: c.match)
        let result = table.route(for: RoutingFixture.request(c.path, method: c.method))
        #expect((result != nil) == c.matches)
    }

    @Test func pathParametersAreIgnoredOnlyWhenConfigured() throws {
        let strict = try RoutingFixture.table(match: #"{"path": "/doc"}"#)
        #expect(strict.route(for: RoutingFixture.request("/doc;jsessionid=1")) == nil)
        let lenient = try RoutingFixture.table(
            routes: #"{"match": {"path": "/doc"}, "route": {"cluster": "c"}}"#,
            configExtra: #""ignore_path_parameters_in_path_matching": true"#
        )
        #expect(lenient.route(for: RoutingFixture.request("/doc;jsessionid=1?x")) != nil)
    }

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        let matcher: String
        let headers: [(String, String)]
        let matches: Bool
        init(_ matcher: String, _ headers: [(String, String)], _ matches: Bool) {
            self.matcher = matcher
            self.headers = headers
            self.matches = matches
        }
        var testDescription: String { "\(matcher) \(headers) → \(matches)" }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(#"{"name": "x-v", "exact_match": "v2"}"#, [("x-v", "v2")], true),
        HeaderCase(#"{"name": "x-v", "exact_match": "v2"}"#, [("X-V", "v2")], true),  // names ignore case
        HeaderCase(#"{"name": "x-v", "exact_match": "v2"}"#, [("x-v", "V2")], false),
        HeaderCase(#"{"name": "x-v", "exact_match": "v2"}"#, [], false),
        HeaderCase(#"{"name": "x-v", "exact_match": "a,b"}"#, [("x-v", "a"), ("x-v", "b")], true),  // joined with ","
        HeaderCase(#"{"name": "x-v", "exact_match": "v2", "invert_match": true}"#, [("x-v", "v1")], true),
        HeaderCase(#"{"name": "x-v", "exact_match": "v2", "invert_match": true}"#, [], false),  // absent never matches
        HeaderCase(#"{"name": "x-v", "exact_match": "", "treat_missing_header_as_empty": true}"#, [], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"exact": ""}, "treat_missing_header_as_empty": true}"#, [], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"exact": "x"}, "treat_missing_header_as_empty": true, "invert_match": true}"#, [], true),
        HeaderCase(#"{"name": "x-v", "present_match": true}"#, [("x-v", "")], true),
        HeaderCase(#"{"name": "x-v", "present_match": true}"#, [], false),
        HeaderCase(#"{"name": "x-v", "present_match": false}"#, [], true),
        HeaderCase(#"{"name": "x-v", "present_match": true, "invert_match": true}"#, [], true),
        HeaderCase(#"{"name": "x-v", "present_match": true, "invert_match": true}"#, [("x-v", "1")], false),
        HeaderCase(#"{"name": "x-v"}"#, [("x-v", "1")], true),
        HeaderCase(#"{"name": "x-v"}"#, [], false),
        HeaderCase(#"{"name": "x-v", "prefix_match": "ab"}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "prefix_match": "ab"}"#, [("x-v", "cab")], false),
        HeaderCase(#"{"name": "x-v", "suffix_match": "bc"}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "contains_match": "b"}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "contains_match": "z"}"#, [("x-v", "abc")], false),
        HeaderCase(#"{"name": "x-v", "safe_regex_match": {"regex": "v[0-9]"}}"#, [("x-v", "v3")], true),
        HeaderCase(#"{"name": "x-v", "safe_regex_match": {"regex": "v[0-9]"}}"#, [("x-v", "v33")], false),
        HeaderCase(#"{"name": "x-n", "range_match": {"start": "10", "end": "20"}}"#, [("x-n", "10")], true),
        HeaderCase(#"{"name": "x-n", "range_match": {"start": "10", "end": "20"}}"#, [("x-n", "20")], false),
        HeaderCase(#"{"name": "x-n", "range_match": {"start": "-5", "end": "0"}}"#, [("x-n", "-5")], true),
        HeaderCase(#"{"name": "x-n", "range_match": {"start": "10", "end": "20"}}"#, [("x-n", "1x")], false),
        HeaderCase(#"{"name": "x-v", "string_match": {"exact": "ABC", "ignore_case": true}}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"prefix": "AB", "ignore_case": true}}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"suffix": "BC", "ignore_case": true}}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"contains": "B", "ignore_case": true}}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": "x-v", "string_match": {"contains": "B"}}"#, [("x-v", "abc")], false),
        HeaderCase(#"{"name": "x-v", "string_match": {"safe_regex": {"regex": "a.c"}}}"#, [("x-v", "abc")], true),
        HeaderCase(#"{"name": ":method", "exact_match": "POST"}"#, [], false),
        HeaderCase(#"{"name": ":authority", "exact_match": "example.com"}"#, [], true),
        HeaderCase(#"{"name": ":path", "prefix_match": "/p"}"#, [], true),
    ]

    @Test(arguments: headerCases)
    func headerMatchers(_ c: HeaderCase) throws {
        let table = try RoutingFixture.table(match: #"{"prefix": "/", "headers": [\#(c.matcher)]}"#)
        let result = table.route(for: RoutingFixture.request("/p", headers: c.headers))
        #expect((result != nil) == c.matches)
    }

    @Test func allHeaderMatchersMustHold() throws {
        let table = try RoutingFixture.table(match: #"{"prefix": "/", "headers": [{"name": "a", "exact_match": "1"}, {"name": "b", "exact_match": "2"}]}"#)
        #expect(table.route(for: RoutingFixture.request("/", headers: [("a", "1"), ("b", "2")])) != nil)
        #expect(table.route(for: RoutingFixture.request("/", headers: [("a", "1")])) == nil)
    }

    static let queryCases: [(String, String, Bool)] = [
        (#"{"name": "v", "string_match": {"exact": "2"}}"#, "/?v=2", true),
        (#"{"name": "v", "string_match": {"exact": "2"}}"#, "/?a=1&v=2", true),
        (#"{"name": "v", "string_match": {"exact": "2"}}"#, "/?v=3&v=2", false),  // first value only
        (#"{"name": "v", "string_match": {"exact": "2"}}"#, "/", false),
        (#"{"name": "v", "string_match": {"exact": "a%20b"}}"#, "/?v=a%20b", true),  // not decoded
        (#"{"name": "v", "string_match": {"prefix": "ab", "ignore_case": true}}"#, "/?v=ABC", true),
        (#"{"name": "v", "present_match": true}"#, "/?v", true),
        (#"{"name": "v", "present_match": true}"#, "/?vv=1", false),
        (#"{"name": "v", "string_match": {"exact": ""}}"#, "/?v", true),
        (#"{"name": "v", "string_match": {"exact": "1"}}"#, "/?v=1#v=2", true),
    ]

    @Test(arguments: queryCases)
    func queryParameterMatchers(_ matcher: String, _ path: String, _ matches: Bool) throws {
        let table = try RoutingFixture.table(match: #"{"prefix": "/", "query_parameters": [\#(matcher)]}"#)
        #expect((table.route(for: RoutingFixture.request(path)) != nil) == matches)
    }

    @Test func grpcMatchesGRPCContentTypesOnly() throws {
        let table = try RoutingFixture.table(match: #"{"prefix": "/", "grpc": {}}"#)
        for (contentType, matches) in [("application/grpc", true), ("application/grpc+proto", true), ("application/grpc;x=1", true),
                                       ("application/grpc-web", false), ("application/json", false)] {
            #expect((table.route(for: RoutingFixture.request("/", headers: [("content-type", contentType)])) != nil) == matches, "\(contentType)")
        }
        #expect(table.route(for: RoutingFixture.request("/")) == nil)
    }

    @Test func runtimeFractionUsesTheDefaultValueAgainstTheRandomValue() throws {
        let table = try RoutingFixture.table(routes: """
        {"match": {"prefix": "/", "runtime_fraction": {"default_value": {"numerator": 25, "denominator": "HUNDRED"}, "runtime_key": "k"}}, "route": {"cluster": "canary"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "stable"}}
        """)
        var canary = 0
        for random in UInt64(0)..<1000 {
            let name = table.route(for: RoutingFixture.request("/", random: random))?.clusterName
            if name == "canary" { canary += 1 }
            #expect((name == "canary") == (random % 100 < 25))
        }
        #expect(canary == 250)
    }

    @Test func firstMatchingRouteWins() throws {
        let table = try RoutingFixture.table(routes: """
        {"name": "a", "match": {"prefix": "/a"}, "route": {"cluster": "a"}},
        {"name": "ab", "match": {"prefix": "/ab"}, "route": {"cluster": "ab"}},
        {"name": "all", "match": {"prefix": "/"}, "route": {"cluster": "all"}}
        """)
        #expect(table.route(for: RoutingFixture.request("/abc"))?.route.name == "a")
        #expect(table.route(for: RoutingFixture.request("/b"))?.route.name == "all")
    }

    @Test func virtualHostSelectionUsesTheAuthorityWithItsPortUnlessConfigured() throws {
        let json = """
        {"name": "r", %EXTRA% "virtual_hosts": [
          {"name": "plain", "domains": ["svc"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "plain"}}]},
          {"name": "port", "domains": ["svc:8080"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "port"}}]}]}
        """
        let exact = try RoutingFixture.table(json.replacingOccurrences(of: "%EXTRA%", with: ""))
        #expect(exact.route(for: RoutingFixture.request("/", authority: "svc"))?.clusterName == "plain")
        #expect(exact.route(for: RoutingFixture.request("/", authority: "svc:8080"))?.clusterName == "port")
        #expect(exact.route(for: RoutingFixture.request("/", authority: "svc:9090")) == nil)
        #expect(exact.route(for: RoutingFixture.request("/", authority: "SVC"))?.clusterName == "plain")
        let ignoring = try RoutingFixture.table(json.replacingOccurrences(of: "%EXTRA%", with: #""ignore_port_in_host_matching": true,"#))
        #expect(ignoring.route(for: RoutingFixture.request("/", authority: "svc:9090"))?.clusterName == "plain")
        #expect(ignoring.route(for: RoutingFixture.request("/", authority: "svc:8080"))?.clusterName == "plain")
    }

    @Test func hostWithoutPortHandlesIPv6() {
        #expect(ASCII.hostWithoutPort("example.com:80") == "example.com")
        #expect(ASCII.hostWithoutPort("example.com") == "example.com")
        #expect(ASCII.hostWithoutPort("[::1]:80") == "[::1]")
        #expect(ASCII.hostWithoutPort("[::1]") == "[::1]")
        #expect(ASCII.hostWithoutPort("::1") == "::1")
        #expect(ASCII.hostWithoutPort("host:abc") == "host:abc")
    }

    @Test func requireTLSRedirectsPlainTextRequests() throws {
        let all = try RoutingFixture.table(routes: #"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#, vhostExtra: #""require_tls": "ALL""#)
        let plain = RoutingFixture.request("/p?q=1", authority: "example.com:8080")
        guard case .redirect(let redirect) = all.route(for: plain)?.route.action else {
            Issue.record("expected a redirect")
            return
        }
        #expect(redirect.responseCode == 301)
        #expect(redirect.location(for: plain) == "https://example.com:8080/p?q=1")
        #expect(all.route(for: RoutingFixture.request("/", scheme: "https"))?.clusterName == "c")

        let external = try RoutingFixture.table(routes: #"{"match": {"prefix": "/"}, "route": {"cluster": "c"}}"#, vhostExtra: #""require_tls": "EXTERNAL_ONLY""#)
        #expect(external.route(for: RoutingFixture.request("/", headers: [("x-envoy-internal", "true")]))?.clusterName == "c")
        if case .redirect = external.route(for: RoutingFixture.request("/"))?.route.action {} else {
            Issue.record("an external plain-text request must be redirected")
        }
    }
}
