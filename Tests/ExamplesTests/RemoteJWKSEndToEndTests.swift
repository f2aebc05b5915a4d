import Foundation
import MeshTestSupport
import Testing

/// RequestAuthentication with a `jwksUri`: istiod translates it to `remote_jwks` with a
/// `jwks|HOST|PORT` cluster, and each data plane fetches the keys from a small HTTP server on a
/// loopback address through that cluster, caches them and verifies tokens with them. The same
/// test body runs against Envoy and the Swift proxy.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RemoteJWKSEndToEndTests {
    static func config(workload: LoopbackMesh.Workload, proxyIP: String, port: Int, jwksURI: String) -> String {
        """
        \(MeshYAML.ingressSidecar(namespace: "foo", app: "httpbin", bind: proxyIP, port: port, workloadPort: workload.port))
        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt, namespace: foo}
        spec:
          selector: {matchLabels: {app: httpbin}}
          jwtRules:
          - issuer: \(SecurityEndToEndTests.issuer)
            audiences: [httpbin]
            jwksUri: \(jwksURI)
            outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: require-jwt, namespace: foo}
        spec:
          selector: {matchLabels: {app: httpbin}}
          action: ALLOW
          rules:
          - from: [{source: {requestPrincipals: ["*"]}}]
        """
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func tokensAreVerifiedWithFetchedKeys(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let key = try SecurityEndToEndTests.SigningKey.make()
        defer { key.remove() }
        let keyServer = try LoopbackJWKSServer(host: LoopbackAddresses.next(), jwks: key.jwks)
        defer { keyServer.stop() }
        let proxyIP = LoopbackAddresses.next()
        let httpbin = try await mesh.startEcho("httpbin", ip: proxyIP)
        let port = try LoopbackNetwork.freePort(on: proxyIP)
        try mesh.write("security.yaml", Self.config(workload: httpbin, proxyIP: proxyIP, port: port, jwksURI: keyServer.uri))
        let proxy = try await mesh.startProxy(namespace: "foo", labels: ["app": "httpbin"], serviceAccount: "httpbin", ip: proxyIP)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")

        let now = Int(Date().timeIntervalSince1970)
        let alice = try key.token(["sub": "alice", "aud": "httpbin", "exp": now + 3600])
        let expired = try key.token(["sub": "alice", "aud": "httpbin", "exp": now - 600])
        var forged = alice
        forged.removeLast(4)
        forged += alice.hasSuffix("AAAA") ? "BBBB" : "AAAA"
        let otherKey = try SecurityEndToEndTests.SigningKey.make()
        defer { otherKey.remove() }
        let otherSigner = try otherKey.token(["sub": "alice", "aud": "httpbin", "exp": now + 3600])

        func send(_ headers: [(String, String)] = []) async -> LoopbackMesh.Response {
            await LoopbackMesh.request(host: proxyIP, port: port, path: "/jwt/x", authority: "httpbin.foo", headers: headers)
        }
        func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }

        // The policies reach the proxy shortly after it starts: wait until a request without a token is refused.
        var first = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let live = await LoopbackMesh.eventually {
            first = await send()
            return first.status == 403
        }
        try #require(live, "\(first)\n\(mesh.diagnostics)")

        let valid = 6
        print("RemoteJWKSEndToEndTests (\(dataPlane)): keys from \(keyServer.uri)")
        for index in 0..<valid {
            let response = await send(bearer(alice))
            #expect(response.status == 200, "valid token #\(index): \(response)")
            #expect(response.echoName == "httpbin", "\(response)")
            #expect(response.echoHeaders["x-jwt-sub"] == "alice", "\(response.echoHeaders)")
        }
        let bad = await send(bearer(forged))
        #expect(bad.status == 401, "\(bad)")
        #expect(bad.body.contains("Jwt verification fails"), "\(bad.body)")
        let wrongKey = await send(bearer(otherSigner))
        #expect(wrongKey.status == 401, "\(wrongKey)")
        let old = await send(bearer(expired))
        #expect(old.status == 401 && old.body.contains("Jwt is expired"), "\(old)")
        #expect(await send().status == 403)
        // Keys are cached: far fewer fetches than verified requests (Envoy caches per worker thread).
        let fetches = keyServer.requestCount
        print("  \(dataPlane): \(valid + 2) verified tokens, \(fetches) JWKS fetch(es)")
        #expect(fetches >= 1 && fetches < valid, "fetches: \(fetches)")
    }
}
