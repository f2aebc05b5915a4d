import Testing
@testable import MeshProxy

@Suite("Redirects")
struct RedirectActionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let match: String
        let redirect: String
        let authority: String
        let scheme: String
        let path: String
        let location: String
        let status: Int
        init(_ redirect: String, _ path: String, _ location: String, status: Int = 301,
             match: String = #"{"prefix": "/"}"#, authority: String = "example.com", scheme: String = "http") {
            self.match = match
            self.redirect = redirect
            self.authority = authority
            self.scheme = scheme
            self.path = path
            self.location = location
            self.status = status
        }
        var testDescription: String { "\(redirect) \(scheme)://\(authority)\(path) → \(location)" }
    }

    static let cases: [Case] = [
        Case(#"{"https_redirect": true}"#, "/a?b", "https://example.com/a?b"),
        Case(#"{"https_redirect": true}"#, "/a", "https://example.com/a", authority: "example.com:80"),  // default port of the old scheme dropped
        Case(#"{"https_redirect": true}"#, "/a", "https://example.com:8080/a", authority: "example.com:8080"),
        Case(#"{"scheme_redirect": "http"}"#, "/a", "http://example.com/a", authority: "example.com:443", scheme: "https"),
        Case(#"{"host_redirect": "new.example.com"}"#, "/a?q", "http://new.example.com/a?q"),
        Case(#"{"port_redirect": 8443}"#, "/a", "http://example.com:8443/a", authority: "example.com:9080"),
        Case(#"{"host_redirect": "h", "port_redirect": 8443, "scheme_redirect": "https", "path_redirect": "/new", "response_code": "PERMANENT_REDIRECT"}"#,
             "/old/x?q=1", "https://h:8443/new?q=1", status: 308),
        Case(#"{"path_redirect": "/here", "response_code": "FOUND"}"#, "/moved", "http://example.com/here", status: 302),
        Case(#"{"path_redirect": "/here", "strip_query": true}"#, "/moved?a=1", "http://example.com/here"),
        Case(#"{"path_redirect": "/here?own=1", "strip_query": true}"#, "/moved?a=1", "http://example.com/here?own=1"),
        Case(#"{"prefix_rewrite": "/v2/", "response_code": "SEE_OTHER"}"#, "/v1/users?x", "http://example.com/v2/users?x", status: 303, match: #"{"prefix": "/v1/"}"#),
        Case(#"{"prefix_rewrite": "/v2/", "strip_query": true, "response_code": "TEMPORARY_REDIRECT"}"#, "/v1/users?x", "http://example.com/v2/users", status: 307, match: #"{"prefix": "/v1/"}"#),
        Case(#"{"regex_rewrite": {"pattern": {"regex": "^/u/([0-9]+)$"}, "substitution": "/users/\\1"}}"#, "/u/7?x", "http://example.com/users/7?x"),
        Case(#"{"host_redirect": "www.example.com"}"#, "/", "http://www.example.com/", authority: "example.com:9080"),
        Case(#"{"https_redirect": true}"#, "/", "https://[::1]:8080/", authority: "[::1]:8080"),
    ]

    @Test(arguments: cases)
    func location(_ c: Case) throws {
        let table = try RoutingFixture.table(routes: #"{"match": \#(c.match), "redirect": \#(c.redirect)}"#)
        let request = RoutingFixture.request(c.path, authority: c.authority, scheme: c.scheme)
        let result = try #require(table.route(for: request))
        guard case .redirect(let redirect) = result.route.action else {
            Issue.record("expected a redirect")
            return
        }
        #expect(redirect.location(for: request) == c.location)
        #expect(redirect.responseCode == c.status)
    }
}
