import Crypto
import _CryptoExtras
import Foundation
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// `jwt_authn` inside a connection manager: tokens signed in the test with swift-crypto (RS256,
/// PS256, ES256, EdDSA, HS256), Envoy's 401/403 replies and `www-authenticate`, requirements,
/// extraction locations, forwarding, claim headers and the metadata RBAC reads.
@Suite struct JWTAuthnFilterTests {
    typealias JWTConfig = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication
    static let issuer = "https://issuer.test"

    /// Signing keys and their JWKS.
    struct Keys: @unchecked Sendable {
        let rsa: _RSA.Signing.PrivateKey
        let ec = P256.Signing.PrivateKey()
        let ed = Curve25519.Signing.PrivateKey()
        let secret = SymmetricKey(size: .bits256)

        init() throws { rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048) }

        var jwks: String {
            let primitives = try! rsa.publicKey.getKeyPrimitives()
            let (n, e) = ([UInt8](primitives.modulus), [UInt8](primitives.publicExponent))
            let raw = [UInt8](ec.publicKey.rawRepresentation)
            let k = secret.withUnsafeBytes { Array($0) }
            return #"""
            {"keys": [
              {"kty": "RSA", "kid": "rsa", "n": "\#(Base64URL.encode(n))", "e": "\#(Base64URL.encode(e))"},
              {"kty": "EC", "kid": "ec", "crv": "P-256", "alg": "ES256", "x": "\#(Base64URL.encode(Array(raw[0..<32])))", "y": "\#(Base64URL.encode(Array(raw[32..<64])))"},
              {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "\#(Base64URL.encode([UInt8](ed.publicKey.rawRepresentation)))"},
              {"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "\#(Base64URL.encode(k))"},
              {"kty": "unknown", "kid": "skipped"}
            ]}
            """#
        }

        func token(_ claims: [String: Any], alg: String = "RS256", kid: String? = nil) throws -> String {
            var claims = claims
            if claims["iss"] == nil { claims["iss"] = JWTAuthnFilterTests.issuer }
            var header: [String: Any] = ["alg": alg, "typ": "JWT"]
            if let kid { header["kid"] = kid }
            let input = Base64URL.encode([UInt8](try JSONSerialization.data(withJSONObject: header, options: .sortedKeys))) + "."
                + Base64URL.encode([UInt8](try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys)))
            let data = Data(input.utf8)
            let signature: [UInt8]
            switch alg {
            case "RS256": signature = [UInt8](try rsa.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation)
            case "PS256": signature = [UInt8](try rsa.signature(for: SHA256.hash(data: data), padding: .PSS).rawRepresentation)
            case "ES256": signature = [UInt8](try ec.signature(for: SHA256.hash(data: data)).rawRepresentation)
            case "EdDSA": signature = [UInt8](try ed.signature(for: data))
            case "HS256": signature = Array(HMAC<SHA256>.authenticationCode(for: data, using: secret))
            default: throw CancellationError()
            }
            return input + "." + Base64URL.encode(signature)
        }
    }

    static let keys = Result { try Keys() }

    static func config(keys: Keys, provider: String = "", extra: String = "", rules: String? = nil) throws -> JWTConfig {
        let jwks = keys.jwks.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: " ")
        return try JWTConfig(jsonString: """
            {"providers": {"origins-0": {"issuer": "\(issuer)", "audiences": ["httpbin"], "local_jwks": {"inline_string": "\(jwks)"},
                                         "payload_in_metadata": "\(issuer)", "normalize_payload_in_metadata": {"space_delimited_claims": ["scope"]}\(provider)}\(extra)},
             "rules": \(rules ?? #"[{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "origins-0"}, {"allow_missing": {}}]}}}]"#)}
            """)
    }

    static func channel(_ config: JWTConfig, rbac: Envoy_Extensions_Filters_Http_Rbac_V3_RBAC? = nil,
                        routes: Envoy_Config_Route_V3_RouteConfiguration? = nil) throws -> (EmbeddedChannel, StatsStore) {
        var filters = [try FilterTestSupport.filter("envoy.filters.http.jwt_authn", config)]
        if let rbac { filters.append(try FilterTestSupport.filter("envoy.filters.http.rbac", rbac)) }
        let (runtime, stats) = try FilterTestSupport.manager(filters, routes: routes)
        return (try FilterTestSupport.channel(runtime), stats)
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }
    static func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }

    @Test func everySupportedAlgorithmVerifies() throws {
        let keys = try Self.keys.get()
        let (channel, _) = try Self.channel(try Self.config(keys: keys))
        for (alg, kid) in [("RS256", "rsa"), ("PS256", "rsa"), ("ES256", "ec"), ("EdDSA", "ed"), ("HS256", "hmac")] {
            let token = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600], alg: alg, kid: kid)
            let response = try FilterTestSupport.send(channel, "/x", headers: Self.bearer(token))
            #expect(response.status == 200, "\(alg): \(response.body)")
            // Verified and not forwarded: the token is removed, the payload is in the metadata.
            #expect(response.echoed("authorization") == nil, "\(alg)")
            #expect(response.metadata("envoy.filters.http.jwt_authn")?.contains(#""sub":"alice""#) == true, "\(alg): \(response.body)")
        }
        // Without a kid every key that fits the algorithm is tried.
        let noKid = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600], alg: "ES256")
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(noKid)).status == 200)
    }

    @Test func failuresAnswerAsEnvoy() throws {
        let keys = try Self.keys.get()
        let (channel, stats) = try Self.channel(try Self.config(keys: keys))
        let good = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600])
        var forged = good
        forged.removeLast(4)
        forged += good.hasSuffix("AAAA") ? "BBBB" : "AAAA"
        let cases: [(String, String, Int, String)] = [
            ("expired", try keys.token(["sub": "a", "aud": "httpbin", "exp": Self.now - 600]), 401, "Jwt is expired"),
            ("within clock skew", try keys.token(["sub": "a", "aud": "httpbin", "exp": Self.now - 30]), 200, ""),
            ("not yet valid", try keys.token(["sub": "a", "aud": "httpbin", "nbf": Self.now + 600]), 401, "Jwt not yet valid"),
            ("wrong audience", try keys.token(["sub": "a", "aud": "other", "exp": Self.now + 600]), 403, "Audiences in Jwt are not allowed"),
            ("audience list", try keys.token(["sub": "a", "aud": ["other", "https://httpbin/"], "exp": Self.now + 600]), 200, ""),
            ("bad signature", forged, 401, "Jwt verification fails"),
            ("unknown kid", try keys.token(["sub": "a", "aud": "httpbin"], kid: "nope"), 401, "Jwks doesn't have key to match kid or alg from Jwt"),
            ("garbage", "abc.def", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
            // A token of an issuer no provider knows counts as missing under allow_missing.
            ("other issuer", try keys.token(["iss": "https://elsewhere", "sub": "a"]), 200, ""),
        ]
        for (name, token, status, body) in cases {
            let response = try FilterTestSupport.send(channel, "/path?q=1", host: "app.local", headers: Self.bearer(token))
            #expect(response.status == status, "\(name): \(response.body)")
            if status != 200 {
                #expect(response.body == body, "\(name)")
                #expect(response.headers.first(name: "www-authenticate") == #"Bearer realm="http://app.local/path?q=1", error="invalid_token""#, "\(name)")
            }
        }
        // No token at all passes (allow_missing) and leaves no metadata.
        let none = try FilterTestSupport.send(channel, "/x")
        #expect(none.status == 200 && none.metadata("envoy.filters.http.jwt_authn") == nil)
        #expect(FilterTestSupport.counter(stats, "http.test.jwt_authn.denied") == 6)
        #expect(FilterTestSupport.counter(stats, "http.test.jwt_authn.allowed") == 4)
    }

    @Test func requiredProviderRejectsMissingTokens() throws {
        let keys = try Self.keys.get()
        let rules = #"[{"match": {"prefix": "/public"}}, {"match": {"prefix": "/"}, "requires": {"provider_name": "origins-0"}}]"#
        let (channel, _) = try Self.channel(try Self.config(keys: keys, rules: rules))
        let missing = try FilterTestSupport.send(channel, "/api")
        #expect(missing.status == 401 && missing.body == "Jwt is missing")
        #expect(missing.headers.first(name: "www-authenticate") == #"Bearer realm="http://app.local/api""#)
        // A rule without requirement: no verification at all.
        #expect(try FilterTestSupport.send(channel, "/public/x").status == 200)
        #expect(try FilterTestSupport.send(channel, "/public/x", headers: Self.bearer("garbage")).status == 200)
        // From the default query parameter access_token.
        let token = try keys.token(["sub": "q", "aud": "httpbin", "exp": Self.now + 600])
        #expect(try FilterTestSupport.send(channel, "/api?access_token=\(token)").status == 200)
    }

    @Test func headersParamsForwardingAndClaimHeaders() throws {
        let keys = try Self.keys.get()
        let provider = #", "from_headers": [{"name": "x-jwt", "value_prefix": "Token "}], "from_params": ["jwt"], "forward": false, "forward_payload_header": "x-payload", "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}, {"header_name": "x-org", "claim_name": "org.name"}, {"header_name": "x-groups", "claim_name": "groups"}]"#
        let (channel, _) = try Self.channel(try Self.config(keys: keys, provider: provider))
        let token = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600, "org": ["name": "acme"], "groups": ["a", "b"], "scope": "read write"])
        let viaHeader = try FilterTestSupport.send(channel, "/x", headers: [("x-jwt", "Token \(token)"), ("x-sub", "spoofed")])
        #expect(viaHeader.status == 200, "\(viaHeader.body)")
        #expect(viaHeader.echoed("x-jwt") == nil)
        #expect(viaHeader.echoed("x-sub") == "alice")
        #expect(viaHeader.echoed("x-org") == "acme")
        #expect(viaHeader.echoed("x-groups") == "a,b")
        #expect(viaHeader.echoed("x-payload") == token.split(separator: ".")[1].description)
        // A claim that would split the header is not copied (and cannot smuggle another header).
        let smuggling = try keys.token(["sub": "alice\r\nx-admin: true", "aud": "httpbin", "exp": Self.now + 600, "org": ["name": "acme"]])
        let smuggled = try FilterTestSupport.send(channel, "/x", headers: [("x-jwt", "Token \(smuggling)")])
        #expect(smuggled.status == 200)
        #expect(smuggled.echoed("x-sub") == nil && smuggled.echoed("x-admin") == nil)
        #expect(smuggled.echoed("x-org") == "acme")
        // Space-delimited claims are lists in the metadata RBAC reads.
        #expect(viaHeader.metadata("envoy.filters.http.jwt_authn")?.contains(#""scope":["read","write"]"#) == true, "\(viaHeader.body)")
        // The Authorization header is not a location of this provider: an unknown token there is ignored.
        let viaParam = try FilterTestSupport.send(channel, "/x?jwt=\(token)", headers: [("authorization", "Bearer junk")])
        #expect(viaParam.status == 200)
        #expect(viaParam.echoed("authorization") == "Bearer junk")
        #expect(viaParam.echoed("uri") == "/x?jwt=\(token)")
        // forward: true keeps the token.
        let forwarding = try Self.channel(try Self.config(keys: keys, provider: #", "forward": true"#)).0
        #expect(try FilterTestSupport.send(forwarding, "/x", headers: Self.bearer(token)).echoed("authorization") == "Bearer \(token)")
    }

    @Test func requirementCombinations() throws {
        let keys = try Self.keys.get()
        let second = #", "second": {"issuer": "https://second.test", "local_jwks": {"inline_string": "{\"keys\": []}"}, "from_headers": [{"name": "x-second"}]}"#
        let rules = #"""
            [{"match": {"prefix": "/all"}, "requires": {"requires_all": {"requirements": [{"provider_name": "origins-0"}, {"provider_name": "second"}]}}},
             {"match": {"prefix": "/failed"}, "requires": {"allow_missing_or_failed": {}}},
             {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
             {"match": {"prefix": "/aud"}, "requires": {"provider_and_audiences": {"provider_name": "origins-0", "audiences": ["special"]}}},
             {"match": {"prefix": "/named"}, "requirement_name": "need-origins"}]
            """#
        let (channel, _) = try Self.channel(try Self.config(keys: keys, extra: second + #"}, "requirement_map": {"need-origins": {"provider_name": "origins-0"}"#, rules: rules))
        let good = try keys.token(["sub": "alice", "aud": ["httpbin", "special"], "exp": Self.now + 600])
        let expired = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now - 600])
        #expect(try FilterTestSupport.send(channel, "/all", headers: Self.bearer(good)).body == "Jwt is missing")
        #expect(try FilterTestSupport.send(channel, "/failed", headers: Self.bearer(expired)).status == 200)
        #expect(try FilterTestSupport.send(channel, "/missing").status == 200)
        #expect(try FilterTestSupport.send(channel, "/missing", headers: Self.bearer(expired)).body == "Jwt is expired")
        #expect(try FilterTestSupport.send(channel, "/aud", headers: Self.bearer(good)).status == 200)
        let plain = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600])
        #expect(try FilterTestSupport.send(channel, "/aud", headers: Self.bearer(plain)).status == 403)
        #expect(try FilterTestSupport.send(channel, "/named").body == "Jwt is missing")
        // The second provider has no keys: its tokens cannot verify.
        let secondToken = try keys.token(["iss": "https://second.test", "sub": "x"])
        #expect(try FilterTestSupport.send(channel, "/all", headers: Self.bearer(good) + [("x-second", secondToken)]).body == "Jwks doesn't have any valid public key")
    }

    @Test func perRouteRequirementAndDisable() throws {
        let keys = try Self.keys.get()
        let routes = try FilterTestSupport.routes([
            #"{"name": "off", "match": {"prefix": "/off"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {"@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig", "disabled": true}}}"#,
            #"{"name": "strict", "match": {"prefix": "/strict"}, "direct_response": {"status": 599}, "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {"@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig", "requirement_name": "need"}}}"#,
        ])
        let (channel, _) = try Self.channel(try Self.config(keys: keys, extra: #"}, "requirement_map": {"need": {"provider_name": "origins-0"}"#), routes: routes)
        #expect(try FilterTestSupport.send(channel, "/off", headers: Self.bearer("garbage")).status == 200)
        #expect(try FilterTestSupport.send(channel, "/strict").status == 401)
        #expect(try FilterTestSupport.send(channel, "/other").status == 200)
    }

    @Test func rbacReadsVerifiedClaims() throws {
        let keys = try Self.keys.get()
        let rbac = try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(jsonString: """
            {"rules": {"action": "ALLOW", "policies": {"alice": {"permissions": [{"any": true}], "principals": [{"sourced_metadata": {"metadata_matcher": {
              "filter": "envoy.filters.http.jwt_authn", "path": [{"key": "\(Self.issuer)"}, {"key": "sub"}], "value": {"string_match": {"exact": "alice"}}}}}]}}}}
            """)
        let (channel, _) = try Self.channel(try Self.config(keys: keys), rbac: rbac)
        let alice = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600])
        let bob = try keys.token(["sub": "bob", "aud": "httpbin", "exp": Self.now + 600])
        #expect(try FilterTestSupport.send(channel, "/", headers: Self.bearer(alice)).status == 200)
        #expect(try FilterTestSupport.send(channel, "/", headers: Self.bearer(bob)).body == "RBAC: access denied")
        #expect(try FilterTestSupport.send(channel, "/").status == 403)
    }

    /// Envoy's `clear_route_cache`: a verified token has the request routed again, so a route that
    /// matches on the payload metadata (Istio's JWT claim routes) is chosen; without it the route
    /// chosen before the filter ran stays.
    @Test func claimRoutesMatchOnceTheTokenClearsTheRouteCache() throws {
        let keys = try Self.keys.get()
        let admins = """
            {"name": "admins", "match": {"prefix": "/", "dynamic_metadata": [{"filter": "envoy.filters.http.jwt_authn",
              "path": [{"key": "\(Self.issuer)"}, {"key": "groups"}],
              "value": {"or_match": {"value_matchers": [{"list_match": {"one_of": {"string_match": {"exact": "admin"}}}}, {"string_match": {"exact": "admin"}}]}}}]},
             "direct_response": {"status": 201}}
            """
        let notAdmins = """
            {"name": "not-admins", "match": {"prefix": "/", "dynamic_metadata": [{"filter": "envoy.filters.http.jwt_authn",
              "path": [{"key": "\(Self.issuer)"}, {"key": "groups"}], "value": {"string_match": {"exact": "admin"}}, "invert": true}]},
             "direct_response": {"status": 202}}
            """
        let routes = try FilterTestSupport.routes([admins, notAdmins])
        let alice = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600, "groups": ["dev", "admin"]])
        let carol = try keys.token(["sub": "carol", "aud": "httpbin", "exp": Self.now + 600, "groups": "admin"])
        let bob = try keys.token(["sub": "bob", "aud": "httpbin", "exp": Self.now + 600, "groups": ["dev"]])

        let config = try Self.config(keys: keys, provider: #", "clear_route_cache": true"#)
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("envoy.filters.http.jwt_authn", config)], routes: routes, echo: false)
        let channel = try FilterTestSupport.channel(runtime)
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(alice)).status == 201)
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(carol)).status == 201)
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(bob)).status == 202)
        // No token (allowed by the rule): no metadata, so only the inverted matcher holds.
        #expect(try FilterTestSupport.send(channel, "/x").status == 202)

        let (keeping, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("envoy.filters.http.jwt_authn", try Self.config(keys: keys))],
                                                         routes: routes, echo: false)
        #expect(try FilterTestSupport.send(try FilterTestSupport.channel(keeping), "/x", headers: Self.bearer(alice)).status == 202)
    }

    /// A claim copied into a header also has the request routed again (without payload metadata).
    @Test func claimHeadersClearTheRouteCacheToo() throws {
        let keys = try Self.keys.get()
        let routes = try FilterTestSupport.routes([
            #"{"name": "admins", "match": {"prefix": "/", "headers": [{"name": "x-jwt-group", "string_match": {"exact": "admin"}}]}, "direct_response": {"status": 201}}"#,
        ])
        var config = try Self.config(keys: keys)
        config.providers["origins-0"]?.payloadInMetadata = ""
        config.providers["origins-0"]?.clearRouteCache_p = true
        config.providers["origins-0"]?.claimToHeaders = [.with { $0.headerName = "x-jwt-group"; $0.claimName = "group" }]
        let (runtime, _) = try FilterTestSupport.manager([try FilterTestSupport.filter("envoy.filters.http.jwt_authn", config)], routes: routes, echo: false)
        let channel = try FilterTestSupport.channel(runtime)
        let admin = try keys.token(["sub": "alice", "aud": "httpbin", "exp": Self.now + 600, "group": "admin"])
        let dev = try keys.token(["sub": "bob", "aud": "httpbin", "exp": Self.now + 600, "group": "dev"])
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(admin)).status == 201)
        #expect(try FilterTestSupport.send(channel, "/x", headers: Self.bearer(dev)).status == 599)
    }

    @Test func invalidKeySourcesAreRejected() throws {
        let remote = try JWTConfig(jsonString: """
            {"providers": {"p": {"issuer": "i", "remote_jwks": {"http_uri": {"uri": "https://keys.test/jwks", "cluster": "jwks", "timeout": "1s"}}}}}
            """)
        _ = try JWTAuthnFilterFactory(config: Google_Protobuf_Any(message: remote))
        let noTimeout = try JWTConfig(jsonString: """
            {"providers": {"p": {"issuer": "i", "remote_jwks": {"http_uri": {"uri": "https://keys.test/jwks", "cluster": "jwks"}}}}}
            """)
        #expect(throws: FilterConfigurationError.self) { _ = try JWTAuthnFilterFactory(config: Google_Protobuf_Any(message: noTimeout)) }
        let badRule = try JWTConfig(jsonString: #"{"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "nope"}}]}"#)
        #expect(throws: FilterConfigurationError.self) { _ = try JWTAuthnFilterFactory(config: Google_Protobuf_Any(message: badRule)) }
    }
}
