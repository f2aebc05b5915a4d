import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// The RBAC engine's matchers and actions (Envoy's semantics), and the HTTP filter inside a
/// connection manager: 403 `RBAC: access denied`, counters, shadow metadata, per-route config.
@Suite struct RBACFilterTests {
    typealias HTTPRBAC = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC

    static func rules(_ json: String) throws -> RBACRules {
        EnvoyAnyTypes.register()
        return try RBACFilterFactory(config: Google_Protobuf_Any(message: HTTPRBAC(jsonString: json))).rules
    }

    static func engine(_ action: String, _ policies: String) throws -> RBACEngine {
        try #require(try rules(#"{"rules": {"action": "\#(action)", "policies": \#(policies)}}"#).enforced)
    }

    static func request(_ method: HTTPMethod = .GET, _ uri: String, host: String = "app.local", headers: [(String, String)] = []) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        return head
    }

    static func ip(_ text: String) -> [UInt8] { IPAddressBytes.parse(text)! }

    // MARK: Matchers

    @Test func permissionMatchersFollowEnvoy() throws {
        let engine = try Self.engine("ALLOW", """
            {
              "header": {"permissions": [{"header": {"name": ":method", "string_match": {"exact": "GET"}}}], "principals": [{"any": true}]},
              "path": {"permissions": [{"url_path": {"path": {"prefix": "/api/"}}}], "principals": [{"any": true}]},
              "authority": {"permissions": [{"header": {"name": ":authority", "string_match": {"exact": "admin.local", "ignore_case": true}}}], "principals": [{"any": true}]},
              "port": {"permissions": [{"destination_port": 9090}], "principals": [{"any": true}]},
              "ip": {"permissions": [{"destination_ip": {"address_prefix": "10.9.0.0", "prefix_len": 16}}], "principals": [{"any": true}]},
              "sni": {"permissions": [{"requested_server_name": {"suffix": ".secure.local"}}], "principals": [{"any": true}]},
              "template": {"permissions": [{"uri_template": {"name": "t", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig", "path_template": "/books/*/pages/**"}}}],
                "principals": [{"any": true}]}
            }
            """)
        func allowed(_ head: HTTPRequestHead?, local: String = "127.0.0.1", port: Int = 80, sni: String? = nil) -> String? {
            let decision = engine.evaluate(RBACAttributes(request: head, localAddress: Self.ip(local), localPort: port,
                                                          tls: sni.map { DownstreamTLSInfo(serverName: $0) }))
            return decision.allowed ? decision.effectivePolicyID : nil
        }
        #expect(allowed(Self.request(.GET, "/x")) == "header")
        #expect(allowed(Self.request(.POST, "/x")) == nil)
        #expect(allowed(Self.request(.POST, "/api/v1?q=1")) == "path")
        // url_path ignores the query: a prefix in the query does not match.
        #expect(allowed(Self.request(.POST, "/other?/api/")) == nil)
        #expect(allowed(Self.request(.POST, "/x", host: "ADMIN.local")) == "authority")
        #expect(allowed(Self.request(.POST, "/x"), port: 9090) == "port")
        #expect(allowed(Self.request(.POST, "/x"), local: "10.9.3.4") == "ip")
        #expect(allowed(Self.request(.POST, "/x"), sni: "db.secure.local") == "sni")
        #expect(allowed(Self.request(.POST, "/books/1/pages/2/3")) == "template")
        #expect(allowed(Self.request(.POST, "/books/1/pages")) == "template")
        #expect(allowed(Self.request(.POST, "/books/1/2/pages/3")) == nil)
        // Without a request (network filter) header and path permissions never match.
        #expect(allowed(nil) == nil)
        #expect(allowed(nil, port: 9090) == "port")
    }

    @Test func combinatorsAndPrincipals() throws {
        let engine = try Self.engine("ALLOW", """
            {
              "mtls": {"permissions": [{"any": true}], "principals": [{"and_ids": {"ids": [
                {"authenticated": {"principal_name": {"exact": "spiffe://cluster.local/ns/foo/sa/client"}}},
                {"not_id": {"direct_remote_ip": {"address_prefix": "10.0.0.66", "prefix_len": 32}}}]}}]},
              "remote": {"permissions": [{"not_rule": {"url_path": {"path": {"exact": "/private"}}}}],
                "principals": [{"or_ids": {"ids": [{"remote_ip": {"address_prefix": "192.168.0.0", "prefix_len": 16}},
                                                   {"header": {"name": "x-team", "present_match": true}}]}}]}
            }
            """)
        let client = DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/foo/sa/client"])
        let other = DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/bar/sa/x"], peerDNSSANs: ["x.bar"])
        func decide(_ head: HTTPRequestHead, direct: String = "10.0.0.1", remote: String? = nil, tls: DownstreamTLSInfo? = nil) -> RBACEngine.Decision {
            engine.evaluate(RBACAttributes(request: head, directRemoteAddress: Self.ip(direct), remoteAddress: remote.map(Self.ip), tls: tls))
        }
        #expect(decide(Self.request(.GET, "/private"), tls: client) == .init(allowed: true, effectivePolicyID: "mtls"))
        #expect(!decide(Self.request(.GET, "/private"), direct: "10.0.0.66", tls: client).allowed)
        #expect(!decide(Self.request(.GET, "/private"), tls: other).allowed)
        #expect(!decide(Self.request(.GET, "/private")).allowed)
        // remote_ip is the XFF-derived address, not the TCP peer.
        #expect(decide(Self.request(.GET, "/public"), direct: "192.168.1.1", remote: "10.0.0.1").allowed == false)
        #expect(decide(Self.request(.GET, "/public"), remote: "192.168.1.1").effectivePolicyID == "remote")
        #expect(!decide(Self.request(.GET, "/private"), remote: "192.168.1.1").allowed)
        #expect(decide(Self.request(.GET, "/public", headers: [("x-team", "")])).allowed)
    }

    @Test func authenticatedMatchesURIThenDNSThenSubject() throws {
        let engine = try Self.engine("ALLOW", """
            {"dns": {"permissions": [{"any": true}], "principals": [{"authenticated": {"principal_name": {"exact": "db.internal"}}}]},
             "subject": {"permissions": [{"any": true}], "principals": [{"authenticated": {"principal_name": {"prefix": "CN=legacy"}}}]},
             "anyTLS": {"permissions": [{"destination_port": 7}], "principals": [{"authenticated": {}}]}}
            """)
        func decide(_ tls: DownstreamTLSInfo?, port: Int = 80) -> String? {
            engine.evaluate(RBACAttributes(request: Self.request(.GET, "/"), localPort: port, tls: tls)).effectivePolicyID
        }
        #expect(decide(DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://x/ns/a/sa/b"], peerDNSSANs: ["db.internal"])) == "dns")
        #expect(decide(DownstreamTLSInfo(peerCertificatePresented: true, peerSubject: "CN=legacy,O=corp")) == "subject")
        #expect(decide(DownstreamTLSInfo(peerCertificatePresented: true, peerSubject: "CN=other")) == nil)
        // Without a principal name any TLS connection is authenticated; plaintext never is.
        #expect(decide(DownstreamTLSInfo(serverName: "a"), port: 7) == "anyTLS")
        #expect(decide(nil, port: 7) == nil)
    }

    @Test func metadataMatchersReadJWTClaims() throws {
        let engine = try Self.engine("ALLOW", """
            {"claims": {"permissions": [{"any": true}], "principals": [{"sourced_metadata": {"metadata_matcher": {
               "filter": "envoy.filters.http.jwt_authn", "path": [{"key": "https://issuer"}, {"key": "groups"}],
               "value": {"or_match": {"value_matchers": [{"string_match": {"exact": "admin"}}, {"list_match": {"one_of": {"string_match": {"exact": "admin"}}}}]}}}}}]},
             "present": {"permissions": [{"header": {"name": ":method", "exact_match": "PUT"}}], "principals": [{"metadata": {
               "filter": "envoy.filters.http.jwt_authn", "path": [{"key": "https://issuer"}, {"key": "iss"}], "value": {"present_match": true}}}]},
             "inverted": {"permissions": [{"header": {"name": ":method", "exact_match": "DELETE"}}], "principals": [{"metadata": {
               "filter": "envoy.filters.http.jwt_authn", "path": [{"key": "https://issuer"}, {"key": "admin"}], "value": {"bool_match": true}, "invert": true}}]}}
            """)
        func payload(_ json: String) throws -> [String: Google_Protobuf_Struct] {
            ["envoy.filters.http.jwt_authn": try Google_Protobuf_Struct(jsonString: #"{"https://issuer": \#(json)}"#)]
        }
        func decide(_ method: HTTPMethod, _ metadata: [String: Google_Protobuf_Struct]) -> String? {
            engine.evaluate(RBACAttributes(request: Self.request(method, "/"), dynamicMetadata: metadata)).effectivePolicyID
        }
        #expect(try decide(.GET, payload(#"{"iss": "https://issuer", "groups": ["dev", "admin"]}"#)) == "claims")
        #expect(try decide(.GET, payload(#"{"iss": "https://issuer", "groups": "admin"}"#)) == "claims")
        #expect(try decide(.GET, payload(#"{"iss": "https://issuer", "groups": ["dev"]}"#)) == nil)
        #expect(try decide(.PUT, payload(#"{"iss": "https://issuer"}"#)) == "present")
        #expect(decide(.PUT, [:]) == nil)
        #expect(decide(.DELETE, [:]) == "inverted")
        #expect(try decide(.DELETE, payload(#"{"admin": true}"#)) == nil)
    }

    // MARK: Actions

    @Test func denyAllowAndLogActions() throws {
        let policies = #"{"admin": {"permissions": [{"url_path": {"path": {"prefix": "/admin"}}}], "principals": [{"any": true}]}}"#
        let deny = try Self.engine("DENY", policies)
        let allow = try Self.engine("ALLOW", policies)
        let log = try Self.engine("LOG", policies)
        let admin = RBACAttributes(request: Self.request(.GET, "/admin/x"))
        let other = RBACAttributes(request: Self.request(.GET, "/other"))
        #expect(deny.evaluate(admin) == .init(allowed: false, effectivePolicyID: "admin"))
        #expect(deny.evaluate(other) == .init(allowed: true, effectivePolicyID: nil))
        #expect(allow.evaluate(admin) == .init(allowed: true, effectivePolicyID: "admin"))
        #expect(allow.evaluate(other) == .init(allowed: false, effectivePolicyID: nil))
        #expect(log.evaluate(admin) == .init(allowed: true, effectivePolicyID: "admin"))
        #expect(log.evaluate(other) == .init(allowed: true, effectivePolicyID: nil))
        // An ALLOW engine without policies allows nothing (Istio's "allow nothing" policy).
        #expect(try !Self.engine("ALLOW", "{}").evaluate(admin).allowed)
    }

    @Test func policiesAreEvaluatedInNameOrder() throws {
        let engine = try Self.engine("DENY", """
            {"b-second": {"permissions": [{"any": true}], "principals": [{"any": true}]},
             "a-first": {"permissions": [{"any": true}], "principals": [{"any": true}]}}
            """)
        #expect(engine.evaluate(RBACAttributes(request: Self.request(.GET, "/"))).effectivePolicyID == "a-first")
    }

    @Test func invalidConfigurationsNameTheField() throws {
        let cases: [(String, String)] = [
            (#"{"rules": {"policies": {"p": {"permissions": [], "principals": [{"any": true}]}}}}"#, #"rules.policies["p"].permissions"#),
            (#"{"rules": {"policies": {"p": {"permissions": [{"url_path": {"path": {"safe_regex": {"regex": "("}}}}], "principals": [{"any": true}]}}}}"#, #"rules.policies["p"].permissions[0].url_path.path.safe_regex"#),
            (#"{"rules": {"policies": {"p": {"permissions": [{"any": true}], "principals": [{"sourced_metadata": {"metadata_matcher": {"filter": "f", "path": [{"key": "k"}], "value": {"present_match": true}}, "metadata_source": "ROUTE"}}]}}}}"#, "metadata_source"),
            (#"{"shadow_rules": {"policies": {"p": {"permissions": [{"any": true}], "principals": [{"remote_ip": {"address_prefix": "nope"}}]}}}}"#, #"shadow_rules.policies["p"].principals[0].remote_ip.address_prefix"#),
        ]
        for (json, field) in cases {
            #expect(throws: FilterConfigurationError.self, "\(json)") { _ = try Self.rules(json) }
            do { _ = try Self.rules(json) } catch { #expect("\(error)".contains(field), "\(error)") }
        }
    }

    // MARK: The HTTP filter in a connection manager

    @Test func deniedRequestsGet403AndCountersMove() throws {
        let config = try HTTPRBAC(jsonString: """
            {"rules": {"action": "ALLOW", "policies": {"get": {"permissions": [{"header": {"name": ":method", "exact_match": "GET"}}], "principals": [{"any": true}]}}},
             "shadow_rules": {"action": "DENY", "policies": {"dry": {"permissions": [{"url_path": {"path": {"prefix": "/dry"}}}], "principals": [{"any": true}]}}},
             "shadow_rules_stat_prefix": "istio_dry_run_deny_"}
            """)
        let (runtime, stats) = try FilterTestSupport.manager([FilterTestSupport.filter("envoy.filters.http.rbac", config)])
        let channel = try FilterTestSupport.channel(runtime)
        let allowed = try FilterTestSupport.send(channel, "/dry/run")
        #expect(allowed.status == 200)
        #expect(allowed.metadata("envoy.filters.http.rbac")?.contains(#""istio_dry_run_deny_shadow_engine_result":"denied""#) == true, "\(allowed.body)")
        #expect(allowed.metadata("envoy.filters.http.rbac")?.contains(#""istio_dry_run_deny_shadow_effective_policy_id":"dry""#) == true)
        let denied = try FilterTestSupport.send(channel, "/x", method: .POST)
        #expect(denied.status == 403)
        #expect(denied.body == "RBAC: access denied")
        #expect(FilterTestSupport.counter(stats, "http.test.rbac.allowed") == 1)
        #expect(FilterTestSupport.counter(stats, "http.test.rbac.denied") == 1)
        #expect(FilterTestSupport.counter(stats, "http.test.rbac.istio_dry_run_deny_shadow_denied") == 1)
        #expect(FilterTestSupport.counter(stats, "http.test.rbac.istio_dry_run_deny_shadow_allowed") == 1)
    }

    @Test func remoteIPComesFromXForwardedForWithoutUseRemoteAddress() throws {
        let config = try HTTPRBAC(jsonString: """
            {"rules": {"action": "ALLOW", "policies": {"office": {"permissions": [{"any": true}], "principals": [{"remote_ip": {"address_prefix": "203.0.113.0", "prefix_len": 24}}]}}}}
            """)
        let (runtime, _) = try FilterTestSupport.manager([FilterTestSupport.filter("envoy.filters.http.rbac", config)])
        let channel = try FilterTestSupport.channel(runtime, peer: "10.0.0.5")
        #expect(try FilterTestSupport.send(channel, "/", headers: [("x-forwarded-for", "198.51.100.1, 203.0.113.7")]).status == 200)
        #expect(try FilterTestSupport.send(channel, "/", headers: [("x-forwarded-for", "203.0.113.7, 198.51.100.1")]).status == 403)
        #expect(try FilterTestSupport.send(channel, "/").status == 403)
        // With use_remote_address the TCP peer is the remote address.
        let (trusting, _) = try FilterTestSupport.manager([FilterTestSupport.filter("envoy.filters.http.rbac", config)]) { $0.useRemoteAddress = .init(true) }
        let direct = try FilterTestSupport.channel(trusting, peer: "203.0.113.9")
        #expect(try FilterTestSupport.send(direct, "/", headers: [("x-forwarded-for", "198.51.100.1")]).status == 200)
    }

    @Test func perRouteConfigReplacesOrDisablesTheRules() throws {
        let denyAll = try HTTPRBAC(jsonString: #"{"rules": {"action": "ALLOW", "policies": {}}}"#)
        let routes = try FilterTestSupport.routes([
            #"{"name": "open", "match": {"prefix": "/open"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"envoy.filters.http.rbac": {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}}}"#,
            #"{"name": "get", "match": {"prefix": "/get"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"envoy.filters.http.rbac": {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute", "rbac": {"rules": {"policies": {"g": {"permissions": [{"header": {"name": ":method", "exact_match": "GET"}}], "principals": [{"any": true}]}}}}}}}"#,
        ])
        let (runtime, _) = try FilterTestSupport.manager([FilterTestSupport.filter("envoy.filters.http.rbac", denyAll)], routes: routes)
        let channel = try FilterTestSupport.channel(runtime)
        #expect(try FilterTestSupport.send(channel, "/other").status == 403)
        #expect(try FilterTestSupport.send(channel, "/open/x").status == 200)
        #expect(try FilterTestSupport.send(channel, "/get/x").status == 200)
        #expect(try FilterTestSupport.send(channel, "/get/x", method: .POST).status == 403)
    }
}
