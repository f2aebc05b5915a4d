import Foundation
import MeshCore
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// Golden-style: our translator's real output for AuthorizationPolicy and RequestAuthentication
/// (the inbound listeners istiod sends a sidecar) is compiled by the Swift proxy's listener
/// configuration and run through its filters, so what istiod produces is exactly what is tested.
/// The only addition is an echo filter before the router that answers for the application.
@Suite struct SecurityTranslationFilterTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    static let issuer = JWTAuthnFilterTests.issuer

    static func yaml(jwks: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: web, namespace: foo}
        spec:
          workloadSelector: {labels: {app: web}}
          ingress:
          - {port: {number: 8000, protocol: HTTP, name: http}, captureMode: NONE, defaultEndpoint: "127.0.0.1:18000"}
          - {port: {number: 3306, protocol: TCP, name: tcp}, captureMode: NONE, defaultEndpoint: "127.0.0.1:13306"}
        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          jwtRules:
          - issuer: \(issuer)
            audiences: [httpbin]
            jwks: '\(jwks)'
            outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny-admin, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          action: DENY
          rules:
          - to: [{operation: {paths: [/admin/*], ports: ["8000"]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: web, namespace: foo}
        spec:
          selector: {matchLabels: {app: web}}
          action: ALLOW
          rules:
          - to: [{operation: {methods: [GET], paths: [/open/*, /admin/*]}}]
            when: [{key: "request.headers[x-team]", values: [blue]}]
          - from: [{source: {requestPrincipals: ["*"]}}]
            to: [{operation: {paths: [/jwt/*]}}]
          - from: [{source: {requestPrincipals: ["\(issuer)/alice"]}}]
            to: [{operation: {paths: [/alice/*]}}]
          - to: [{operation: {paths: [/claims/*]}}]
            when: [{key: "request.auth.claims[groups]", values: [admin]}]
          - from: [{source: {principals: [cluster.local/ns/foo/sa/client], namespaces: [foo]}}]
            to: [{operation: {paths: [/mtls/*]}}]
          - from: [{source: {ipBlocks: [10.20.0.0/16]}}]
            to: [{operation: {ports: ["3306"]}}]
          - to: [{operation: {paths: ["/books/{*}/pages/{**}"]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: audit, namespace: foo, annotations: {istio.io/dry-run: "true"}}
        spec:
          selector: {matchLabels: {app: web}}
          action: DENY
          rules:
          - to: [{operation: {methods: [DELETE]}}]
        """
    }

    struct Translated {
        var http: HTTPConnectionManagerConfiguration
        var tcp: FilterChainConfiguration
        var httpRBAC: [RBACFilterFactory]
    }

    static func translate(jwks: String) throws -> Translated {
        let output = ConfigDecoder().decode(yaml(jwks: jwks), file: "security.yaml")
        #expect(!output.hasErrors, "\(output.errors)")
        EnvoyAnyTypes.register()
        let identity = try ProxyIdentity(nodeID: "sidecar~127.0.0.31~web-1.foo~foo.svc.cluster.local")
        let proxy = ProxyView(identity: identity, labels: ["app": "web"], serviceAccount: "web", interceptionMode: .none)
        let request = GenerationRequest(snapshot: MeshSnapshot(resources: output.resources, mesh: MeshConfig()), proxy: proxy, options: TranslationOptions())
        let listeners = (GeneratorRegistry.standard.generate(EnvoyTypeURL.listener, request) ?? []).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener }
        func inbound(_ port: UInt32) throws -> Envoy_Config_Listener_V3_Listener {
            try #require(listeners.first { $0.address.socketAddress.portValue == port && $0.trafficDirection == .inbound })
        }
        // The TCP listener as istiod sends it, compiled by the proxy (network RBAC before tcp_proxy).
        let tcpListener = try ListenerConfiguration(try inbound(3306))
        let tcp = try #require(tcpListener.filterChains.first)
        // DENY (with the dry-run policy as shadow rules), then ALLOW, as Istio orders them.
        #expect(tcp.networkFilters.map(\.name) == ["envoy.filters.network.rbac", "envoy.filters.network.rbac"])
        // The HTTP listener: compiled as sent, then with the echo filter before the router.
        var httpListener = try inbound(8000)
        _ = try ListenerConfiguration(httpListener)
        var chain = httpListener.filterChains[0]
        let index = try #require(chain.filters.firstIndex { $0.typedConfig.isA(HCM.self) })
        var hcm = try HCM(unpackingAny: chain.filters[index].typedConfig)
        #expect(hcm.httpFilters.map(\.name) == ["envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.rbac", "envoy.filters.http.router"])
        hcm.httpFilters.insert(try FilterTestSupport.filter("echo", Google_Protobuf_Empty()), at: hcm.httpFilters.count - 1)
        chain.filters[index].typedConfig = try Google_Protobuf_Any(message: hcm)
        httpListener.filterChains = [chain]
        let compiled = try ListenerConfiguration(httpListener, httpFilters: FilterTestSupport.registry)
        guard case .http(let manager) = try #require(compiled.filterChains.first).terminal else {
            throw CancellationError()
        }
        let rbac = manager.filters.compactMap { $0.factory as? RBACFilterFactory }
        return Translated(http: manager, tcp: tcp, httpRBAC: rbac)
    }

    @Test func authorizationAndJWTFromTheTranslator() throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        // Istio's validation rejects unknown key types, so the RequestAuthentication gets the usable keys only.
        let jwks = keys.jwks.split(separator: "\n").filter { !$0.contains("unknown") }.joined(separator: " ")
            .replacingOccurrences(of: "}, ]", with: "} ]").replacingOccurrences(of: "},  ]", with: "} ]")
        let translated = try Self.translate(jwks: jwks)
        let (runtime, stats) = try FilterTestSupport.runtime(translated.http)
        let channel = try FilterTestSupport.channel(runtime)
        let now = Int(Date().timeIntervalSince1970)
        let alice = try keys.token(["sub": "alice", "aud": "httpbin", "exp": now + 3600, "groups": ["dev", "admin"]])
        let bob = try keys.token(["sub": "bob", "aud": "httpbin", "exp": now + 3600, "groups": ["dev"]])
        let expired = try keys.token(["sub": "alice", "aud": "httpbin", "exp": now - 600])
        let wrongAudience = try keys.token(["sub": "alice", "aud": "other", "exp": now + 3600])
        var forged = alice
        forged.removeLast(4)
        forged += alice.hasSuffix("AAAA") ? "BBBB" : "AAAA"
        func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }

        struct Case { var name: String; var path: String; var method: HTTPMethod = .GET; var headers: [(String, String)] = []; var status: Int; var body: String? = nil }
        let cases: [Case] = [
            Case(name: "GET /open with x-team: blue", path: "/open/x", headers: [("x-team", "blue")], status: 200),
            Case(name: "GET /open without header", path: "/open/x", status: 403, body: "RBAC: access denied"),
            Case(name: "POST /open with x-team: blue", path: "/open/x", method: .POST, headers: [("x-team", "blue")], status: 403),
            Case(name: "GET /admin with x-team: blue (DENY wins)", path: "/admin/x", headers: [("x-team", "blue")], status: 403),
            Case(name: "GET /jwt valid token", path: "/jwt/x", headers: bearer(alice), status: 200),
            Case(name: "GET /jwt no token", path: "/jwt/x", status: 403, body: "RBAC: access denied"),
            Case(name: "GET /jwt bad signature", path: "/jwt/x", headers: bearer(forged), status: 401, body: "Jwt verification fails"),
            Case(name: "GET /jwt expired token", path: "/jwt/x", headers: bearer(expired), status: 401, body: "Jwt is expired"),
            Case(name: "GET /jwt wrong audience", path: "/jwt/x", headers: bearer(wrongAudience), status: 403, body: "Audiences in Jwt are not allowed"),
            Case(name: "GET /alice as alice", path: "/alice/x", headers: bearer(alice), status: 200),
            Case(name: "GET /alice as bob", path: "/alice/x", headers: bearer(bob), status: 403),
            Case(name: "GET /claims groups [dev, admin]", path: "/claims/x", headers: bearer(alice), status: 200),
            Case(name: "GET /claims groups [dev]", path: "/claims/x", headers: bearer(bob), status: 403),
            Case(name: "GET /mtls over plaintext", path: "/mtls/x", status: 403),
            Case(name: "GET /books template", path: "/books/1/pages/2/3", status: 200),
            Case(name: "GET /books template, two segments", path: "/books/1/2/pages/3", status: 403),
            Case(name: "DELETE /open is not in the ALLOW rule", path: "/open/x", method: .DELETE, headers: [("x-team", "blue")], status: 403),
        ]
        for item in cases {
            let response = try FilterTestSupport.send(channel, item.path, method: item.method, host: "web.foo", headers: item.headers)
            #expect(response.status == item.status, "\(item.name): \(response.body)")
            if let body = item.body { #expect(response.body == body, "\(item.name)") }
        }
        let withClaim = try FilterTestSupport.send(channel, "/jwt/x", host: "web.foo", headers: bearer(alice))
        #expect(withClaim.echoed("x-jwt-sub") == "alice")
        #expect(withClaim.echoed("authorization") == nil)
        // The dry-run policy counted and wrote its shadow result without enforcing it.
        let dryRun = try FilterTestSupport.send(channel, "/jwt/x", method: .DELETE, host: "web.foo", headers: bearer(alice))
        #expect(dryRun.status == 200)
        #expect(dryRun.metadata("envoy.filters.http.rbac")?.contains(#""istio_dry_run_deny_shadow_engine_result":"denied""#) == true, "\(dryRun.body)")
        let prefix = "http.\(translated.http.statPrefix)."
        #expect(FilterTestSupport.counter(stats, prefix + "rbac.denied") > 0)
        #expect(FilterTestSupport.counter(stats, prefix + "rbac.istio_dry_run_deny_shadow_denied") > 0)
        #expect(FilterTestSupport.counter(stats, prefix + "jwt_authn.denied") == 3)
    }

    @Test func peerPrincipalsFromTheTranslatorMatchTheCertificateSAN() throws {
        let translated = try Self.translate(jwks: #"{"keys": []}"#)
        let allow = try #require(translated.httpRBAC.last?.rules.enforced)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/mtls/x")
        head.headers.add(name: "host", value: "web.foo")
        func decide(_ tls: DownstreamTLSInfo?) -> Bool { allow.evaluate(RBACAttributes(request: head, tls: tls)).allowed }
        #expect(decide(DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/foo/sa/client"])))
        #expect(!decide(DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/bar/sa/client"])))
        #expect(!decide(DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/foo/sa/other"])))
        #expect(!decide(nil))
    }

    @Test func networkRBACFromTheTranslatorGuardsTCP() throws {
        let translated = try Self.translate(jwks: #"{"keys": []}"#)
        let factories = translated.tcp.networkFilters.map(\.factory)
        let stats = StatsStore()
        let office = try NetworkFilterTests.channel(factories, stats: stats, peer: "10.20.1.1")
        try office.writeInbound(ByteBuffer(string: "hello"))
        #expect(try office.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "hello")
        #expect(office.isActive)
        let stranger = try NetworkFilterTests.channel(factories, stats: stats, peer: "10.30.1.1")
        try stranger.writeInbound(ByteBuffer(string: "hello"))
        #expect(try stranger.readInbound(as: ByteBuffer.self) == nil)
        #expect(!stranger.isActive)
        // Two filters (DENY: only port 8000 paths, so both pass it; ALLOW: only 10.20.0.0/16).
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.allowed") == 3)
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.denied") == 1)
        // The dry-run DENY policy loses its HTTP-only method on TCP: it would deny everything.
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.istio_dry_run_deny_shadow_denied") == 2)
        _ = try? office.finish()
    }
}
