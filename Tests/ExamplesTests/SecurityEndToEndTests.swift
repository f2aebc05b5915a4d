import Foundation
import MeshTestSupport
import Testing

/// AuthorizationPolicy and RequestAuthentication enforced by each data plane: istiod translates
/// them, the sidecar runs Envoy (`--proxy envoy`) or the Swift proxy (`--proxy swift`) with a
/// Sidecar `ingress` listener (captureMode NONE) in front of an echo-server, and requests go
/// straight to that listener. The same test body runs against both proxies.
///
/// Tokens are RS256 JWTs signed in the test with `openssl` (key generated per run); the public
/// key is inlined in the RequestAuthentication as a JWKS.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SecurityEndToEndTests {
    static let issuer = "https://issuer.swiftmesh.test"

    /// An RSA key made with openssl, and RS256 signing with it.
    struct SigningKey {
        var directory: URL
        var jwks: String

        static func make() throws -> SigningKey {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let key = directory.appendingPathComponent("key.pem").path
            _ = try run(["genrsa", "-out", key, "2048"])
            let modulusLine = String(decoding: try run(["rsa", "-in", key, "-noout", "-modulus"]), as: UTF8.self)
            let hex = modulusLine.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "Modulus=", with: "")
            var modulus = [UInt8]()
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                guard let byte = UInt8(hex[index..<next], radix: 16) else { throw HarnessError("bad modulus \(modulusLine)") }
                modulus.append(byte)
                index = next
            }
            let jwks = #"{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"test","n":"\#(base64url(Data(modulus)))","e":"AQAB"}]}"#
            return SigningKey(directory: directory, jwks: jwks)
        }

        /// A signed token with `claims` (and `iss` = ``SecurityEndToEndTests/issuer`` unless given).
        func token(_ claims: [String: Any]) throws -> String {
            var claims = claims
            if claims["iss"] == nil { claims["iss"] = SecurityEndToEndTests.issuer }
            let header = base64url(try JSONSerialization.data(withJSONObject: ["alg": "RS256", "typ": "JWT", "kid": "test"], options: .sortedKeys))
            let payload = base64url(try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys))
            let input = "\(header).\(payload)"
            let signature = try Self.run(["dgst", "-sha256", "-sign", directory.appendingPathComponent("key.pem").path], input: Data(input.utf8))
            return "\(input).\(base64url(signature))"
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }

        static func run(_ arguments: [String], input: Data = Data()) throws -> Data {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            let errors = stderr.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
            }
            return output
        }

        static func base64url(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }

        func base64url(_ data: Data) -> String { Self.base64url(data) }
    }

    static func config(workload: LoopbackMesh.Workload, proxyIP: String, port: Int, jwks: String) -> String {
        """
        \(MeshYAML.ingressSidecar(namespace: "foo", app: "httpbin", bind: proxyIP, port: port, workloadPort: workload.port))
        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt, namespace: foo}
        spec:
          selector: {matchLabels: {app: httpbin}}
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
          selector: {matchLabels: {app: httpbin}}
          action: DENY
          rules:
          - to: [{operation: {paths: [/admin/*]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: httpbin, namespace: foo}
        spec:
          selector: {matchLabels: {app: httpbin}}
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
        """
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func authorizationAndJWTAreEnforced(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let key = try SigningKey.make()
        defer { key.remove() }
        // The application shares the sidecar's address, as in a pod.
        let proxyIP = LoopbackAddresses.next()
        let httpbin = try await mesh.startEcho("httpbin", ip: proxyIP)
        let port = try LoopbackNetwork.freePort(on: proxyIP)
        try mesh.write("security.yaml", Self.config(workload: httpbin, proxyIP: proxyIP, port: port, jwks: key.jwks))
        let proxy = try await mesh.startProxy(namespace: "foo", labels: ["app": "httpbin"], serviceAccount: "httpbin", ip: proxyIP)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")

        let now = Int(Date().timeIntervalSince1970)
        let alice = try key.token(["sub": "alice", "aud": "httpbin", "exp": now + 3600, "groups": ["dev", "admin"]])
        let bob = try key.token(["sub": "bob", "aud": "httpbin", "exp": now + 3600, "groups": ["dev"]])
        let expired = try key.token(["sub": "alice", "aud": "httpbin", "exp": now - 600])
        let wrongAudience = try key.token(["sub": "alice", "aud": "other", "exp": now + 3600])
        var forged = alice
        forged.removeLast(4)
        forged += alice.hasSuffix("AAAA") ? "BBBB" : "AAAA"

        func send(_ path: String, method: String = "GET", headers: [(String, String)] = []) async -> LoopbackMesh.Response {
            await LoopbackMesh.request(host: proxyIP, port: port, path: path, authority: "httpbin.foo", method: method, headers: headers)
        }
        func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }

        // The policy reaches Envoy over xDS shortly after the proxy starts: wait for the first allow.
        var first = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let live = await LoopbackMesh.eventually {
            first = await send("/open/x", headers: [("x-team", "blue")])
            return first.status == 200
        }
        try #require(live, "\(first)\n\(mesh.diagnostics)")

        struct Case { var name: String; var path: String; var method = "GET"; var headers: [(String, String)] = []; var status: Int; var body: String? = nil }
        let cases: [Case] = [
            Case(name: "GET /open with x-team: blue", path: "/open/x", headers: [("x-team", "blue")], status: 200),
            Case(name: "GET /open without header", path: "/open/x", status: 403, body: "RBAC: access denied"),
            Case(name: "GET /open with x-team: red", path: "/open/x", headers: [("x-team", "red")], status: 403, body: "RBAC: access denied"),
            Case(name: "POST /open with x-team: blue", path: "/open/x", method: "POST", headers: [("x-team", "blue")], status: 403, body: "RBAC: access denied"),
            Case(name: "GET /admin with x-team: blue (DENY wins)", path: "/admin/x", headers: [("x-team", "blue")], status: 403, body: "RBAC: access denied"),
            Case(name: "GET /jwt valid token", path: "/jwt/x", headers: bearer(alice), status: 200),
            Case(name: "GET /jwt no token", path: "/jwt/x", status: 403, body: "RBAC: access denied"),
            Case(name: "GET /jwt bad signature", path: "/jwt/x", headers: bearer(forged), status: 401, body: "Jwt verification fails"),
            Case(name: "GET /jwt expired token", path: "/jwt/x", headers: bearer(expired), status: 401, body: "Jwt is expired"),
            // Envoy's jwt_authn answers an audience mismatch with 403, other verification failures with 401.
            Case(name: "GET /jwt wrong audience", path: "/jwt/x", headers: bearer(wrongAudience), status: 403, body: "Audiences in Jwt are not allowed"),
            Case(name: "GET /open bad signature, header ok", path: "/open/x", headers: [("x-team", "blue")] + bearer(forged), status: 401),
            Case(name: "GET /alice as alice", path: "/alice/x", headers: bearer(alice), status: 200),
            Case(name: "GET /alice as bob", path: "/alice/x", headers: bearer(bob), status: 403, body: "RBAC: access denied"),
            Case(name: "GET /claims groups [dev, admin]", path: "/claims/x", headers: bearer(alice), status: 200),
            Case(name: "GET /claims groups [dev]", path: "/claims/x", headers: bearer(bob), status: 403, body: "RBAC: access denied"),
            Case(name: "GET /claims no token", path: "/claims/x", status: 403, body: "RBAC: access denied"),
        ]
        let repeats = 3
        print("SecurityEndToEndTests (\(dataPlane)): expected vs observed status over \(repeats) requests each")
        for item in cases {
            var observed: [Int: Int] = [:]
            var last = LoopbackMesh.Response(status: -1, headers: [], body: "")
            for _ in 0..<repeats {
                last = await send(item.path, method: item.method, headers: item.headers)
                observed[last.status, default: 0] += 1
            }
            let summary = observed.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
            print("  \(item.name): expected \(item.status), observed \(summary)")
            #expect(observed == [item.status: repeats], "\(item.name): \(last)")
            if let body = item.body { #expect(last.body.contains(body), "\(item.name): body \(last.body)") }
            if item.status == 200 { #expect(last.echoName == "httpbin", "\(item.name): \(last)") }
        }
        // The challenge names the request URL (query included), as Envoy builds it.
        let challenge = await send("/jwt/x?debug=1", headers: bearer(forged))
        #expect(challenge.header("www-authenticate") == #"Bearer realm="http://httpbin.foo/jwt/x?debug=1", error="invalid_token""#, "\(challenge)")
        // jwt_authn copied the verified subject into a header for the application.
        let withClaim = await send("/jwt/x", headers: bearer(alice))
        #expect(withClaim.echoHeaders["x-jwt-sub"] == "alice", "\(withClaim.echoHeaders)")
        let rbacDenied = await mesh.stat(proxy, "http.inbound_\(proxyIP)_\(port).rbac.denied")
        let jwtDenied = await mesh.stat(proxy, "http.inbound_\(proxyIP)_\(port).jwt_authn.denied")
        print("  \(dataPlane) counters: rbac.denied=\(rbacDenied.map(String.init) ?? "n/a") jwt_authn.denied=\(jwtDenied.map(String.init) ?? "n/a")")
        #expect((rbacDenied ?? 0) > 0)
    }

    /// AuthorizationPolicy on TCP ports: istiod puts the network RBAC filter before `tcp_proxy`;
    /// a DENY rule for one port closes its connections on their first bytes, the other port passes.
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func tcpAuthorizationIsEnforced(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let proxyIP = LoopbackAddresses.next()
        let app = try await mesh.startEcho("tcpapp", ip: proxyIP)
        let open = try LoopbackNetwork.freePort(on: proxyIP)
        let closed = try LoopbackNetwork.freePort(on: proxyIP)
        try mesh.write("tcp.yaml", """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: tcpapp, namespace: foo}
            spec:
              workloadSelector: {labels: {app: tcpapp}}
              ingress:
              - {port: {number: \(open), protocol: TCP, name: tcp-open}, bind: \(proxyIP), captureMode: NONE, defaultEndpoint: "0.0.0.0:\(app.port)"}
              - {port: {number: \(closed), protocol: TCP, name: tcp-closed}, bind: \(proxyIP), captureMode: NONE, defaultEndpoint: "0.0.0.0:\(app.port)"}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-closed, namespace: foo}
            spec:
              selector: {matchLabels: {app: tcpapp}}
              action: DENY
              rules:
              - to: [{operation: {ports: ["\(closed)"]}}]
            """)
        let proxy = try await mesh.startProxy(namespace: "foo", labels: ["app": "tcpapp"], serviceAccount: "tcpapp", ip: proxyIP)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")
        func send(_ port: Int) async -> LoopbackMesh.Response {
            await LoopbackMesh.request(host: proxyIP, port: port, path: "/tcp", authority: "tcpapp.foo", timeout: .seconds(5))
        }
        var last = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let live = await LoopbackMesh.eventually {
            last = await send(open)
            return last.status == 200
        }
        try #require(live, "\(last)\n\(mesh.diagnostics)")
        var openStatuses: [Int] = [], closedStatuses: [Int] = []
        for _ in 0..<3 {
            let allowed = await send(open)
            openStatuses.append(allowed.status)
            #expect(allowed.echoName == "tcpapp", "\(allowed)")
            closedStatuses.append(await send(closed).status)
        }
        print("SecurityEndToEndTests TCP (\(dataPlane)): open port \(openStatuses), denied port \(closedStatuses) (-1 = closed without a response)")
        #expect(openStatuses == [200, 200, 200])
        #expect(closedStatuses == [-1, -1, -1])
        let denied = await mesh.stat(proxy, "tcp.rbac.denied")
        print("  \(dataPlane) counters: tcp.rbac.denied=\(denied.map(String.init) ?? "n/a")")
        #expect((denied ?? 0) >= 3)
    }
}
