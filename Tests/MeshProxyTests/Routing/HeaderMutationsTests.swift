import MeshXDS
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import Testing
@testable import MeshProxy

@Suite("Header mutations")
struct HeaderMutationsTests {
    static func names(_ headers: HTTPHeaders) -> [String] {
        headers.map { "\($0.name)=\($0.value)" }
    }

    struct AppendCase: Sendable, CustomTestStringConvertible {
        let option: String
        let before: [(String, String)]
        let after: [String]
        init(_ option: String, _ before: [(String, String)], _ after: [String]) {
            self.option = option
            self.before = before
            self.after = after
        }
        var testDescription: String { "\(option) on \(before)" }
    }

    static let appendCases: [AppendCase] = [
        AppendCase(#"{"header": {"key": "x", "value": "new"}}"#, [("x", "old")], ["x=old", "x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}"#, [], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "ADD_IF_ABSENT"}"#, [("x", "old")], ["x=old"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "ADD_IF_ABSENT"}"#, [], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}"#, [("x", "a"), ("x", "b")], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}"#, [], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "OVERWRITE_IF_EXISTS"}"#, [("x", "old")], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append_action": "OVERWRITE_IF_EXISTS"}"#, [], []),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append": false}"#, [("x", "old")], ["x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": "new"}, "append": true}"#, [("x", "old")], ["x=old", "x=new"]),
        AppendCase(#"{"header": {"key": "x", "value": ""}}"#, [], []),
        AppendCase(#"{"header": {"key": "x", "value": ""}, "keep_empty_value": true}"#, [], ["x="]),
        AppendCase(#"{"header": {"key": "X-Upper", "value": "v"}}"#, [], ["x-upper=v"]),
        AppendCase(#"{"header": {"key": "x", "raw_value": "cmF3"}}"#, [], ["x=raw"]),
    ]

    @Test(arguments: appendCases)
    func appendActions(_ c: AppendCase) throws {
        let table = try RoutingFixture.table(routes: #"{"match": {"prefix": "/"}, "route": {"cluster": "c"}, "request_headers_to_add": [\#(c.option)]}"#)
        let route = try #require(table.route(for: RoutingFixture.request("/"))).route
        var headers = HTTPHeaders(c.before)
        route.requestHeaderMutations.apply(to: &headers)
        #expect(Self.names(headers) == c.after)
    }

    @Test func removalsComeBeforeAdditionsAndFormattersSeeTheHeadersBeforeAdditions() throws {
        let table = try RoutingFixture.table(routes: """
        {"match": {"prefix": "/"}, "route": {"cluster": "c"},
         "request_headers_to_remove": ["x-drop", "x-replace"],
         "request_headers_to_add": [
           {"header": {"key": "x-replace", "value": "added"}},
           {"header": {"key": "x-copy", "value": "%REQ(x-src)%"}},
           {"header": {"key": "x-src", "value": "changed"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]}
        """)
        let route = try #require(table.route(for: RoutingFixture.request("/"))).route
        var headers: HTTPHeaders = ["x-drop": "1", "x-replace": "old", "x-src": "original"]
        let context = HeaderFormatterContext(requestHeaders: headers)
        route.requestHeaderMutations.apply(to: &headers, context: context)
        #expect(headers["x-drop"].isEmpty)
        #expect(headers["x-replace"] == ["added"])
        #expect(headers["x-copy"] == ["original"])
        #expect(headers["x-src"] == ["changed"])
    }

    static let levelsConfig = """
    {"name": "r",
     %FLAG%
     "request_headers_to_add": [{"header": {"key": "x-level", "value": "config"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
     "response_headers_to_add": [{"header": {"key": "x-level", "value": "config"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
     "virtual_hosts": [{"name": "vh", "domains": ["*"],
       "request_headers_to_add": [{"header": {"key": "x-level", "value": "vhost"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                                  {"header": {"key": "x-trail", "value": "vhost"}}],
       "routes": [{"match": {"prefix": "/"},
         "request_headers_to_add": [{"header": {"key": "x-level", "value": "route"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                                    {"header": {"key": "x-trail", "value": "route"}}],
         "route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 1,
           "request_headers_to_add": [{"header": {"key": "x-level", "value": "cluster"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                                      {"header": {"key": "x-trail", "value": "cluster"}}]}]}}}]}]}
    """

    @Test func levelsApplyFromMostSpecificSoTheConfigurationWinsByDefault() throws {
        let table = try RoutingFixture.table(Self.levelsConfig.replacingOccurrences(of: "%FLAG%", with: ""))
        let request = RoutingFixture.request("/")
        let result = try #require(table.route(for: request))
        let selection = try #require(result.forward?.selectCluster(for: request))
        var headers = HTTPHeaders()
        result.route.requestHeaderMutations(for: selection.weightedCluster).apply(to: &headers)
        #expect(headers["x-level"] == ["config"])
        #expect(headers["x-trail"] == ["cluster", "route", "vhost"])
        var response = HTTPHeaders()
        result.route.responseHeaderMutations(for: selection.weightedCluster).apply(to: &response)
        #expect(response["x-level"] == ["config"])
    }

    @Test func mostSpecificHeaderMutationsWinsReversesTheOrder() throws {
        let table = try RoutingFixture.table(Self.levelsConfig.replacingOccurrences(of: "%FLAG%", with: #""most_specific_header_mutations_wins": true,"#))
        let request = RoutingFixture.request("/")
        let result = try #require(table.route(for: request))
        let selection = try #require(result.forward?.selectCluster(for: request))
        var headers = HTTPHeaders()
        result.route.requestHeaderMutations(for: selection.weightedCluster).apply(to: &headers)
        #expect(headers["x-level"] == ["cluster"])
        #expect(headers["x-trail"] == ["vhost", "route", "cluster"])
    }

    @Test func formatters() throws {
        let context = HeaderFormatterContext(
            downstreamRemoteAddress: "10.1.2.3:5555",
            downstreamDirectRemoteAddress: "[::1]:6000",
            downstreamLocalAddress: "127.0.0.1:15001",
            upstreamRemoteAddress: "10.9.9.9:80",
            protocol: "HTTP/1.1",
            hostname: "node-1",
            requestHeaders: ["x-a": "alpha", "x-long": "0123456789"]
        )
        let cases: [(String, String)] = [
            ("plain", "plain"),
            ("100%%", "100%"),
            ("%DOWNSTREAM_REMOTE_ADDRESS%", "10.1.2.3:5555"),
            ("ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%;port=%DOWNSTREAM_REMOTE_PORT%", "ip=10.1.2.3;port=5555"),
            ("%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%", "::1"),
            ("%DOWNSTREAM_LOCAL_ADDRESS%|%DOWNSTREAM_LOCAL_PORT%", "127.0.0.1:15001|15001"),
            ("%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "10.9.9.9"),
            ("%PROTOCOL% on %HOSTNAME%", "HTTP/1.1 on node-1"),
            ("%REQ(X-A)%", "alpha"),
            ("%REQ(x-missing?x-a)%", "alpha"),
            ("%REQ(x-missing)%", ""),
            ("%REQ(x-long):4%", "0123"),
        ]
        for (text, expected) in cases {
            let format = try HeaderValueFormat(parsing: text)
            #expect(format.format(context) == expected, "\(text)")
        }
        #expect(try HeaderValueFormat(parsing: "%PROTOCOL%").format(HeaderFormatterContext()) == "")
        #expect(try HeaderValueFormat(parsing: "plain").isLiteral)
        #expect(try !HeaderValueFormat(parsing: "%PROTOCOL%").isLiteral)
    }

    /// What the engine gives the formatters, in Envoy's spellings.
    @Test func theEngineNamesProtocolsAndAddressesAsEnvoyPrintsThem() throws {
        #expect(HTTPConnectionManagerRuntime.protocolName(.http1_0) == "HTTP/1.0")
        #expect(HTTPConnectionManagerRuntime.protocolName(.http1_1) == "HTTP/1.1")
        #expect(HTTPConnectionManagerRuntime.protocolName(.http2) == "HTTP/2")
        let v4 = DownstreamConnectionInfo(remoteAddress: try .init(ipAddress: "10.1.2.3", port: 5555),
                                          localAddress: try .init(ipAddress: "127.0.0.1", port: 15001), isTLS: false)
        #expect(v4.remoteAddressText == "10.1.2.3:5555" && v4.localAddressText == "127.0.0.1:15001")
        let v6 = DownstreamConnectionInfo(remoteAddress: try .init(ipAddress: "::1", port: 80), localAddress: nil, isTLS: false)
        #expect(v6.remoteAddressText == "[::1]:80" && v6.localAddressText == nil)
    }

    @Test func formatterErrors() {
        for (text, unsupported) in [("%START_TIME%", true), ("%UPSTREAM_METADATA(istio:x)%", true), ("50%", false), ("%lower%", false),
                                    ("%REQ(x%", false), ("%REQ()%", false), ("%PROTOCOL(x)%", false)] {
            do {
                _ = try HeaderValueFormat(parsing: text)
                Issue.record("\(text) should not parse")
            } catch {
                #expect(error.isUnsupported == unsupported, "\(text): \(error.message)")
            }
        }
    }

    @Test func typedPerFilterConfigMergesMostSpecificLast() throws {
        let table = try RoutingFixture.table("""
        {"name": "r",
         "typed_per_filter_config": {"f.config": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "is_optional": true},
                                     "f.shared": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "is_optional": true}},
         "virtual_hosts": [{"name": "vh", "domains": ["*"],
           "typed_per_filter_config": {"f.shared": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": true},
                                       "f.vhost": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": true}},
           "routes": [{"match": {"prefix": "/"},
             "typed_per_filter_config": {"f.vhost": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "is_optional": true}},
             "route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 1,
               "typed_per_filter_config": {"f.config": {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": true}}}]}}}]}]}
        """)
        let request = RoutingFixture.request("/")
        let result = try #require(table.route(for: request))
        let filters = result.route.typedPerFilterConfig
        #expect(Set(filters.keys) == ["f.config", "f.shared", "f.vhost"])
        let shared = try Envoy_Config_Route_V3_FilterConfig(unpackingAny: try #require(filters["f.shared"]))
        #expect(shared.disabled)
        let vhost = try Envoy_Config_Route_V3_FilterConfig(unpackingAny: try #require(filters["f.vhost"]))
        #expect(vhost.isOptional && !vhost.disabled)
        let cluster = try #require(result.forward?.selectCluster(for: request)?.weightedCluster)
        let config = try Envoy_Config_Route_V3_FilterConfig(unpackingAny: try #require(result.route.typedPerFilterConfig(for: cluster)["f.config"]))
        #expect(config.disabled)
    }
}
