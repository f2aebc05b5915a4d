import MeshXDS
import Testing
@testable import MeshProxy

@Suite("Route table validation")
struct RouteTableValidationTests {
    struct Rejection: Sendable, CustomTestStringConvertible {
        let route: String
        let field: String
        let code: ProxyConfigurationError.Code
        init(_ route: String, _ field: String, _ code: ProxyConfigurationError.Code = .invalid) {
            self.route = route
            self.field = field
            self.code = code
        }
        var testDescription: String { field }
    }

    static let routeRejections: [Rejection] = [
        Rejection(#"{"route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match"),
        Rejection(#"{"match": {"prefix": "/"}}"#, "virtual_hosts[0].routes[0]"),
        Rejection(#"{"match": {}, "route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match"),
        Rejection(#"{"match": {"prefix": "/"}, "non_forwarding_action": {}}"#, "virtual_hosts[0].routes[0].non_forwarding_action", .unsupported),
        Rejection(#"{"match": {"safe_regex": {"regex": "(unclosed"}}, "route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match.safe_regex.regex"),
        Rejection(#"{"match": {"path_separated_prefix": "/api/"}, "route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match.path_separated_prefix"),
        Rejection(#"{"match": {"path_match_policy": {"name": "envoy.path.match.uri_template.uri_template_matcher"}}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.path_match_policy", .unsupported),
        Rejection(#"{"match": {"prefix": "/", "tls_context": {"presented": true}}, "route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match.tls_context", .unsupported),
        Rejection(#"{"match": {"prefix": "/", "dynamic_metadata": [{"filter": "f"}]}, "route": {"cluster": "c"}}"#, "virtual_hosts[0].routes[0].match.dynamic_metadata[0].path"),
        Rejection(#"{"match": {"prefix": "/", "dynamic_metadata": [{"filter": "f", "path": [{"key": "k"}]}]}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.dynamic_metadata[0].value"),
        Rejection(#"{"match": {"prefix": "/", "dynamic_metadata": [{"filter": "f", "path": [{"key": "k"}], "value": {"list_match": {}}}]}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.dynamic_metadata[0].value.list_match"),
        Rejection(#"{"match": {"prefix": "/", "headers": [{"name": "x", "safe_regex_match": {"regex": "["}}]}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.headers[0].safe_regex_match.regex"),
        Rejection(#"{"match": {"prefix": "/", "headers": [{"name": "x", "string_match": {"safe_regex": {"regex": "a"}, "ignore_case": true}}]}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.headers[0].string_match.ignore_case"),
        Rejection(#"{"match": {"prefix": "/", "headers": [{"name": "x", "range_match": {"start": "5", "end": "1"}}]}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.headers[0].range_match"),
        Rejection(#"{"match": {"prefix": "/", "runtime_fraction": {"runtime_key": "k"}}, "route": {"cluster": "c"}}"#,
                  "virtual_hosts[0].routes[0].match.runtime_fraction.default_value"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {}}"#, "virtual_hosts[0].routes[0].route", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "prefix_rewrite": "/a", "regex_rewrite": {"pattern": {"regex": "a"}, "substitution": "b"}}}"#,
                  "virtual_hosts[0].routes[0].route"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "regex_rewrite": {"pattern": {"regex": "a"}, "substitution": "\\1"}}}"#,
                  "virtual_hosts[0].routes[0].route.regex_rewrite.substitution"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "path_rewrite_policy": {"name": "envoy.path.rewrite.uri_template.uri_template_rewriter"}}}"#,
                  "virtual_hosts[0].routes[0].route.path_rewrite_policy", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 0}]}}}"#,
                  "virtual_hosts[0].routes[0].route.weighted_clusters.clusters"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 1}], "total_weight": 100}}}"#,
                  "virtual_hosts[0].routes[0].route.weighted_clusters.total_weight"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [{"weight": 1}]}}}"#,
                  "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0]"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "retry_policy": {"retry_on": "5xx,bogus"}}}"#,
                  "virtual_hosts[0].routes[0].route.retry_policy.retry_on"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "retry_policy": {"retry_back_off": {"base_interval": "1s", "max_interval": "0.5s"}}}}"#,
                  "virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.max_interval"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "hedge_policy": {"initial_requests": 2}}}"#,
                  "virtual_hosts[0].routes[0].route.hedge_policy", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "metadata_match": {}}}"#,
                  "virtual_hosts[0].routes[0].route.metadata_match", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "hash_policy": [{"terminal": true}]}}"#,
                  "virtual_hosts[0].routes[0].route.hash_policy[0]"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c", "request_mirror_policies": [{}]}}"#,
                  "virtual_hosts[0].routes[0].route.request_mirror_policies[0]"),
        Rejection(#"{"match": {"prefix": "/"}, "direct_response": {"status": 100}}"#, "virtual_hosts[0].routes[0].direct_response.status"),
        Rejection(#"{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"filename": "/etc/passwd"}}}"#,
                  "virtual_hosts[0].routes[0].direct_response.body.filename", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "request_headers_to_add": [{"header": {"key": ":path", "value": "/x"}}]}"#,
                  "virtual_hosts[0].routes[0].request_headers_to_add[0].header.key"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "request_headers_to_remove": ["host"]}"#,
                  "virtual_hosts[0].routes[0].request_headers_to_remove[0]"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "request_headers_to_add": [{"header": {"key": "x", "value": "v"}, "append": true, "append_action": "ADD_IF_ABSENT"}]}"#,
                  "virtual_hosts[0].routes[0].request_headers_to_add[0]"),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "response_headers_to_add": [{"header": {"key": "x", "value": "%START_TIME%"}}]}"#,
                  "virtual_hosts[0].routes[0].response_headers_to_add[0].header.value", .unsupported),
        Rejection(#"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "response_headers_to_add": [{"header": {"key": "x", "value": "100%"}}]}"#,
                  "virtual_hosts[0].routes[0].response_headers_to_add[0].header.value"),
        Rejection(#"{"match": {"prefix": "/"}, "redirect": {"port_redirect": 70000}}"#, "virtual_hosts[0].routes[0].redirect.port_redirect"),
    ]

    @Test(arguments: routeRejections)
    func rejectsRoutesNamingTheField(_ rejection: Rejection) throws {
        let error = try #require(try RoutingFixture.error(route: rejection.route))
        #expect(error.field == rejection.field)
        #expect(error.code == rejection.code)
        #expect(error.resourceType == "RouteConfiguration")
        #expect(error.resourceName == "test")
    }

    @Test func rejectsConfigurationLevelProblems() throws {
        let vhds = try #require(try RoutingFixture.error(#"{"name": "r", "vhds": {"config_source": {"ads": {}}}}"#))
        #expect(vhds.field == "vhds")
        #expect(vhds.code == .unsupported)

        let duplicate = try #require(try RoutingFixture.error("""
        {"name": "r", "virtual_hosts": [{"name": "a", "domains": ["x.com"]}, {"name": "b", "domains": ["y.com", "X.com"]}]}
        """))
        #expect(duplicate.field == "virtual_hosts[1].domains[1]")

        let noDomains = try #require(try RoutingFixture.error(#"{"name": "r", "virtual_hosts": [{"name": "a"}]}"#))
        #expect(noDomains.field == "virtual_hosts[0].domains")

        let typedRetry = try #require(try RoutingFixture.error("""
        {"name": "r", "virtual_hosts": [{"name": "a", "domains": ["*"], "retry_policy_typed_config": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig"}}]}
        """))
        #expect(typedRetry.field == "virtual_hosts[0].retry_policy_typed_config")
        #expect(typedRetry.code == .unsupported)

        let bigBody = try #require(try RoutingFixture.error("""
        {"name": "r", "max_direct_response_body_size_bytes": 4, "virtual_hosts": [{"name": "a", "domains": ["*"],
         "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "12345"}}}]}]}
        """))
        #expect(bigBody.field == "virtual_hosts[0].routes[0].direct_response.body")
        #expect(bigBody.description.contains("RouteConfiguration \"r\""))
    }

    @Test func acceptsWhatEnvoyAccepts() throws {
        #expect(try RoutingFixture.error(route: #"{"match": {"prefix": "/"}, "route": {"cluster": "c", "hedge_policy": {}}}"#) == nil)
        #expect(try RoutingFixture.error(route: #"{"match": {"prefix": "/", "tls_context": {}}, "route": {"cluster": "c"}}"#) == nil)
        #expect(try RoutingFixture.error(route: #"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "request_headers_to_add": [{"header": {"key": "x-pct", "value": "100%%"}}]}"#) == nil)
    }

    @Test func referencedClustersListsDirectTargets() throws {
        let table = try RoutingFixture.table(routes: """
        {"match": {"prefix": "/a"}, "route": {"cluster": "one", "request_mirror_policies": [{"cluster": "mirror"}]}},
        {"match": {"prefix": "/b"}, "route": {"weighted_clusters": {"clusters": [{"name": "two", "weight": 1}, {"cluster_header": "x-c", "weight": 1}]}}},
        {"match": {"prefix": "/c"}, "route": {"cluster_header": "x-cluster"}}
        """)
        #expect(table.referencedClusters == ["one", "two", "mirror"])
    }
}
