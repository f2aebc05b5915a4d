import Foundation
import MeshTestSupport
import Testing

/// An ingress gateway (`sidecar --proxy envoy|swift --type router`) driven by istiod, in front of
/// echo-server workloads, an egress gateway, and `outboundTrafficPolicy` through a sidecar's HTTP
/// proxy listener — all real processes on loopback. Every scenario (plain text, HTTPS with file
/// certificates, TLS passthrough by SNI) runs the same body on Envoy and on the Swift proxy.
@Suite(.serialized, .timeLimit(.minutes(5))) struct GatewayEndToEndTests {
    /// ServiceEntries `<name>.bookinfo.svc.cluster.local:9080` for the workloads.
    static func services(_ workloads: [(service: String, workload: LoopbackMesh.Workload)]) -> String {
        workloads.map { entry in
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: \(entry.service), namespace: bookinfo}
            spec:
              hosts: [\(entry.service).bookinfo.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(entry.workload.port)}]
              endpoints: [{address: \(entry.workload.ip)}]
            """
        }.joined(separator: "\n---\n")
    }

    /// Waits until `send` answers `status` (the gateway got its listeners and routes).
    static func waitFor(_ status: Int, _ send: () async -> LoopbackMesh.Response) async -> LoopbackMesh.Response {
        var last = LoopbackMesh.Response(status: -1, headers: [], body: "")
        _ = await LoopbackMesh.eventually {
            last = await send()
            return last.status == status
        }
        return last
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func ingressGatewayRoutesByHostAndPath(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let productpage = try await mesh.startEcho("productpage-v1")
        let reviews = try await mesh.startEcho("reviews-v1")
        let ratings = try await mesh.startEcho("ratings-v1")
        let gatewayIP = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: gatewayIP)
        try mesh.write("services.yaml", Self.services([("productpage", productpage), ("reviews", reviews), ("ratings", ratings)]))
        try mesh.write("gateway.yaml", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(port), name: http, protocol: HTTP}
                hosts: ["bookinfo/bookinfo.example.com", "bookinfo/ratings.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: bookinfo, namespace: bookinfo}
            spec:
              hosts: [bookinfo.example.com]
              gateways: [istio-system/ingress]
              http:
              - match: [{uri: {prefix: /reviews}}]
                route: [{destination: {host: reviews}}]
              - route: [{destination: {host: productpage}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: bookinfo}
            spec:
              hosts: [ratings.example.com]
              gateways: [istio-system/ingress]
              http:
              - route: [{destination: {host: ratings}}]
            """)
        let gateway = try await mesh.startGateway(ip: gatewayIP)
        let ready = await mesh.waitUntilReady(gateway)
        try #require(ready, "\(mesh.diagnostics)")
        let first = await Self.waitFor(200) { await mesh.requestGateway(gateway, port: port, host: "bookinfo.example.com", path: "/") }
        try #require(first.status == 200, "\(first)\n\(mesh.diagnostics)")

        let cases: [(host: String, path: String, expected: String)] = [
            ("bookinfo.example.com", "/", "productpage-v1"),
            ("bookinfo.example.com", "/reviews/1", "reviews-v1"),
            ("ratings.example.com", "/ratings/1", "ratings-v1"),
            ("ratings.example.com:\(port)", "/reviews/1", "ratings-v1"),
        ]
        for (host, path, expected) in cases {
            let counts = await LoopbackMesh.tally(20, key: { "\($0.status) \($0.echoName ?? "-")" }) {
                await mesh.requestGateway(gateway, port: port, host: host, path: path)
            }
            print("gateway routing: Host \(host) \(path): asked 20 × \(expected), measured \(counts)")
            #expect(counts == ["200 \(expected)": 20], "Host \(host) path \(path)")
        }
        let seenPath = await mesh.requestGateway(gateway, port: port, host: "bookinfo.example.com", path: "/reviews/1?x=1").echoPath
        #expect(seenPath == "/reviews/1?x=1")
        let unknown = await mesh.requestGateway(gateway, port: port, host: "unknown.example.com", path: "/")
        print("gateway routing: Host unknown.example.com: asked 404 (no virtual host), measured \(unknown.status)")
        #expect(unknown.status == 404)
    }

    /// RequestAuthentication and AuthorizationPolicy selecting the gateway apply at the gateway,
    /// and a VirtualService routes on a verified token's claim (`@request.auth.claims.groups`).
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func gatewayAuthenticatesAuthorizesAndRoutesByJWTClaim(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        let key = try SecurityEndToEndTests.SigningKey.make()
        defer { key.remove() }
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let reviews = try await mesh.startEcho("reviews-v1")
        let admin = try await mesh.startEcho("reviews-admin")
        let gatewayIP = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: gatewayIP)
        try mesh.write("services.yaml", Self.services([("reviews", reviews), ("reviews-admin", admin)]))
        try mesh.write("gateway.yaml", """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: ingress-jwt, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              jwtRules:
              - issuer: \(SecurityEndToEndTests.issuer)
                jwks: '\(key.jwks)'
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: private-needs-token, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              action: DENY
              rules:
              - from: [{source: {notRequestPrincipals: ["*"]}}]
                to: [{operation: {paths: [/private/*]}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(port), name: http, protocol: HTTP}
                hosts: ["bookinfo/reviews.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.example.com]
              gateways: [istio-system/ingress]
              http:
              - name: admins
                match: [{headers: {"@request.auth.claims.groups": {exact: admin}}}]
                route: [{destination: {host: reviews-admin}}]
              - route: [{destination: {host: reviews}}]
            """)
        let gateway = try await mesh.startGateway(ip: gatewayIP)
        let ready = await mesh.waitUntilReady(gateway)
        try #require(ready, "\(mesh.diagnostics)")
        func send(_ path: String, token: String? = nil) async -> LoopbackMesh.Response {
            await mesh.requestGateway(gateway, port: port, host: "reviews.example.com", path: path,
                                      headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
        }
        let first = await Self.waitFor(403) { await send("/private/x") }
        try #require(first.status == 403, "\(first)\n\(mesh.diagnostics)")

        let now = Int(Date().timeIntervalSince1970)
        let alice = try key.token(["sub": "alice", "exp": now + 3600, "groups": ["dev", "admin"]])
        let bob = try key.token(["sub": "bob", "exp": now + 3600, "groups": ["dev"]])
        var forged = alice
        forged.removeLast(4)
        forged += alice.hasSuffix("AAAA") ? "BBBB" : "AAAA"
        let cases: [(path: String, token: String?, who: String, expected: String)] = [
            ("/", nil, "no token", "200 reviews-v1"),
            ("/private/x", nil, "no token", "403 -"),
            ("/", bob, "bob (dev)", "200 reviews-v1"),
            ("/private/x", bob, "bob (dev)", "200 reviews-v1"),
            ("/", alice, "alice (dev, admin)", "200 reviews-admin"),
            ("/private/x", alice, "alice (dev, admin)", "200 reviews-admin"),
            ("/", forged, "a forged token", "401 -"),
        ]
        for (path, token, who, expected) in cases {
            let counts = await LoopbackMesh.tally(5, key: { "\($0.status) \($0.echoName ?? "-")" }) { await send(path, token: token) }
            print("gateway JWT (\(dataPlane)): \(who) \(path): asked 5 × \(expected), measured \(counts)")
            #expect(counts == [expected: 5], "\(who) \(path)")
        }
    }

    /// The same body on Envoy and on the Swift proxy (`--proxy swift --type router`).
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func httpsWithFileCertificatesAndHTTPSRedirect(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let curl = Curl.binary() else { return }
        guard let certs = try await TestCertificates.make(dnsNames: ["bookinfo.example.com", "partner.example.com"]) else { return }
        defer { certs.remove() }
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let productpage = try await mesh.startEcho("productpage-v1")
        let reviews = try await mesh.startEcho("reviews-v1")
        let gatewayIP = LoopbackAddresses.next()
        let httpPort = try LoopbackNetwork.freePort(on: gatewayIP)
        let httpsPort = try LoopbackNetwork.freePort(on: gatewayIP)
        try mesh.write("services.yaml", Self.services([("productpage", productpage), ("reviews", reviews)]))
        try mesh.write("gateway.yaml", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: secure, namespace: bookinfo}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(httpPort), name: http, protocol: HTTP}
                hosts: [bookinfo.example.com]
                tls: {httpsRedirect: true}
              - port: {number: \(httpsPort), name: https, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls:
                  mode: SIMPLE
                  serverCertificate: \(certs.serverCertificate.path)
                  privateKey: \(certs.serverKey.path)
              - port: {number: \(httpsPort), name: https-partner, protocol: HTTPS}
                hosts: [partner.example.com]
                tls:
                  mode: MUTUAL
                  serverCertificate: \(certs.serverCertificate.path)
                  privateKey: \(certs.serverKey.path)
                  caCertificates: \(certs.caCertificate.path)
              - port: {number: \(httpsPort), name: https-vault, protocol: HTTPS}
                hosts: [vault.example.com]
                tls: {mode: SIMPLE, credentialName: vault-cert}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: bookinfo, namespace: bookinfo}
            spec:
              hosts: [bookinfo.example.com, partner.example.com]
              gateways: [secure]
              http:
              - match: [{uri: {prefix: /reviews}}]
                route: [{destination: {host: reviews}}]
              - route: [{destination: {host: productpage}}]
            """)
        let gateway = try await mesh.startGateway(ip: gatewayIP)
        let ready = await mesh.waitUntilReady(gateway)
        try #require(ready, "\(mesh.diagnostics)")

        func https(_ host: String, _ path: String, _ extra: [String]) async throws -> Curl.Result {
            try await Curl.get(curl, "https://\(host):\(httpsPort)\(path)", ["--resolve", "\(host):\(httpsPort):\(gatewayIP)"] + extra)
        }
        let trusted = ["--cacert", certs.caCertificate.path]
        var result = try await https("bookinfo.example.com", "/reviews/1", trusted)
        _ = await LoopbackMesh.eventually {
            result = (try? await https("bookinfo.example.com", "/reviews/1", trusted)) ?? result
            return result.httpStatus == 200
        }
        print("gateway HTTPS (SIMPLE, file certificate, client trusts the test CA): asked 200 from reviews-v1, measured \(result.httpStatus) from \(result.echoName ?? "-") (curl exit \(result.exitStatus))")
        #expect(result.exitStatus == 0 && result.httpStatus == 200, "\(result.stderr)\n\(mesh.diagnostics)")
        #expect(result.echoName == "reviews-v1")
        let root = try await https("bookinfo.example.com", "/", trusted)
        #expect(root.httpStatus == 200 && root.echoName == "productpage-v1")

        // Without the CA the client must refuse the certificate (curl exit 60: peer certificate cannot be authenticated).
        let untrusted = try await https("bookinfo.example.com", "/", [])
        print("gateway HTTPS without the CA: asked a verification failure, measured curl exit \(untrusted.exitStatus)")
        #expect(untrusted.exitStatus == 60, "\(untrusted.stderr)")

        // MUTUAL on the same port, chosen by SNI: a client certificate signed by the CA is required.
        let withClientCert = try await https("partner.example.com", "/", trusted + ["--cert", certs.clientCertificate.path, "--key", certs.clientKey.path])
        let withoutClientCert = try await https("partner.example.com", "/", trusted)
        print("gateway HTTPS MUTUAL: with client certificate measured \(withClientCert.httpStatus) from \(withClientCert.echoName ?? "-"); without one measured HTTP \(withoutClientCert.httpStatus), curl exit \(withoutClientCert.exitStatus)")
        #expect(withClientCert.httpStatus == 200 && withClientCert.echoName == "productpage-v1", "\(withClientCert.stderr)")
        #expect(withoutClientCert.httpStatus != 200 && withoutClientCert.exitStatus != 0)

        // The server whose certificate is a secret is left out (this gateway's plaintext xDS
        // connection proves no identity, so it is served no secrets) and istiod says why.
        let reported = await LoopbackMesh.eventually(timeout: .seconds(10)) {
            mesh.istiod?.output.contains("spec.servers[3].tls.credentialName: secrets are served only to a gateway whose xDS connection proves its identity") == true
        }
        #expect(reported, "\(mesh.istiod?.output.suffix(3000) ?? "")")

        // httpsRedirect: plain HTTP gets a 301 to https, path kept.
        let redirect = await Self.waitFor(301) {
            await mesh.requestGateway(gateway, port: httpPort, host: "bookinfo.example.com", path: "/reviews/1")
        }
        print("gateway httpsRedirect: asked 301 to https, measured \(redirect.status) Location \(redirect.header("location") ?? "-")")
        #expect(redirect.status == 301)
        #expect(redirect.header("location") == "https://bookinfo.example.com/reviews/1"
                || redirect.header("location") == "https://bookinfo.example.com:\(httpPort)/reviews/1")
    }

    /// TLS passthrough: the gateway reads only the SNI of the ClientHello and hands the encrypted
    /// bytes to the backend the VirtualService's `tls` route names; the backends are `openssl
    /// s_server`s with certificates from two different CAs, so a client that verifies against one
    /// CA succeeds only when its connection reached that backend.
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func tlsPassthroughRoutesBySNI(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let curl = Curl.binary(), let openssl = TestCertificates.openssl() else { return }
        guard let alphaCerts = try await TestCertificates.make(dnsNames: ["alpha.example.com"]),
              let betaCerts = try await TestCertificates.make(dnsNames: ["beta.example.com"]) else { return }
        defer { alphaCerts.remove(); betaCerts.remove() }
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }

        var backends: [(ip: String, port: Int, process: ChildProcess)] = []
        defer { ChildProcess.terminate(backends.map(\.process)) }
        for certs in [alphaCerts, betaCerts] {
            let ip = LoopbackAddresses.next()
            let port = try LoopbackNetwork.freePort(on: ip)
            let server = try ChildProcess(openssl, ["s_server", "-accept", "\(ip):\(port)", "-cert", certs.serverCertificate.path,
                                                    "-key", certs.serverKey.path, "-www", "-quiet"])
            backends.append((ip, port, server))
            let accepting = await LoopbackNetwork.waitUntilAccepting(host: ip, port: port, timeout: .seconds(20))
            try #require(accepting, "openssl s_server did not start: \(server.output)")
        }
        let gatewayIP = LoopbackAddresses.next()
        let tlsPort = try LoopbackNetwork.freePort(on: gatewayIP)
        let config = zip(["alpha", "beta"], backends).map { name, backend in
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: \(name), namespace: bookinfo}
            spec:
              hosts: [\(name).bookinfo.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 443, name: tls, protocol: TLS, targetPort: \(backend.port)}]
              endpoints: [{address: \(backend.ip)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name), namespace: bookinfo}
            spec:
              hosts: [\(name).example.com]
              gateways: [passthrough]
              tls:
              - match: [{port: \(tlsPort), sniHosts: [\(name).example.com]}]
                route: [{destination: {host: \(name).bookinfo.svc.cluster.local, port: {number: 443}}}]
            """
        } + ["""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: passthrough, namespace: bookinfo}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(tlsPort), name: tls, protocol: TLS}
                hosts: [alpha.example.com, beta.example.com]
                tls: {mode: PASSTHROUGH}
            """]
        try mesh.write("passthrough.yaml", config.joined(separator: "\n---\n"))
        let gateway = try await mesh.startGateway(ip: gatewayIP)
        let ready = await mesh.waitUntilReady(gateway)
        try #require(ready, "\(mesh.diagnostics)")

        func get(_ host: String, trusting certs: TestCertificates) async throws -> Curl.Result {
            try await Curl.get(curl, "https://\(host):\(tlsPort)/", ["--resolve", "\(host):\(tlsPort):\(gatewayIP)", "--cacert", certs.caCertificate.path])
        }
        var alpha = try await get("alpha.example.com", trusting: alphaCerts)
        _ = await LoopbackMesh.eventually {
            alpha = (try? await get("alpha.example.com", trusting: alphaCerts)) ?? alpha
            return alpha.httpStatus == 200
        }
        let beta = try await get("beta.example.com", trusting: betaCerts)
        // The certificate the client sees is the backend's: alpha's CA does not vouch for beta.
        let betaWithAlphaCA = try await get("beta.example.com", trusting: alphaCerts)
        let unknown = try await get("gamma.example.com", trusting: alphaCerts)
        print("gateway TLS passthrough (\(dataPlane)): alpha SNI measured HTTP \(alpha.httpStatus) (curl exit \(alpha.exitStatus)), "
              + "beta SNI \(beta.httpStatus) (exit \(beta.exitStatus)); beta checked against alpha's CA: exit \(betaWithAlphaCA.exitStatus); "
              + "unknown SNI: exit \(unknown.exitStatus)")
        #expect(alpha.exitStatus == 0 && alpha.httpStatus == 200 && alpha.body.contains("s_server"), "\(alpha.stderr)\n\(mesh.diagnostics)")
        #expect(beta.exitStatus == 0 && beta.httpStatus == 200, "\(beta.stderr)")
        #expect(betaWithAlphaCA.exitStatus == 60, "the gateway must not terminate TLS: \(betaWithAlphaCA.stderr)")
        #expect(unknown.exitStatus != 0 && unknown.httpStatus == 0, "no filter chain for an unknown SNI")
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func registryOnlyRefusesAnUnknownHostThatAllowAnyPasses(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let reviews = try await mesh.startEcho("reviews-v1")
        // Not in any registry: only reachable when the policy lets unknown hosts through.
        let outside = try await mesh.startEcho("outside")
        let client = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: client)
        func sidecar(_ mode: String) -> String {
            """
            \(MeshYAML.egressSidecar(namespace: "bookinfo", bind: client, port: proxyPort, outboundTrafficPolicy: mode))
            """
        }
        try mesh.write("services.yaml", Self.services([("reviews", reviews)]))
        try mesh.write("sidecar.yaml", sidecar("REGISTRY_ONLY"))
        let proxy = try await mesh.startProxy(namespace: "bookinfo", labels: ["app": "client"], ip: client)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")
        let known = await Self.waitFor(200) {
            await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://reviews.bookinfo.svc.cluster.local:9080/")
        }
        try #require(known.status == 200, "\(known)\n\(mesh.diagnostics)")

        let unknownURL = "http://\(outside.ip):\(outside.port)/hello"
        let refused = await LoopbackMesh.tally(20, key: { "\($0.status) \($0.echoName ?? "-")" }) {
            await mesh.requestThroughProxy(proxy, port: proxyPort, url: unknownURL)
        }
        print("outboundTrafficPolicy REGISTRY_ONLY: unknown host \(outside.ip):\(outside.port): asked 20 × 502 (block_all), measured \(refused)")
        #expect(refused == ["502 -": 20])

        try mesh.write("sidecar.yaml", sidecar("ALLOW_ANY"))
        let first = await Self.waitFor(200) { await mesh.requestThroughProxy(proxy, port: proxyPort, url: unknownURL) }
        try #require(first.status == 200, "\(first)\n\(mesh.diagnostics)")
        let passed = await LoopbackMesh.tally(20, key: { "\($0.status) \($0.echoName ?? "-")" }) {
            await mesh.requestThroughProxy(proxy, port: proxyPort, url: unknownURL)
        }
        print("outboundTrafficPolicy ALLOW_ANY: unknown host \(outside.ip):\(outside.port): asked 20 × 200 from outside, measured \(passed)")
        #expect(passed == ["200 outside": 20])
        #expect(first.echoPath == "/hello")
        let forwarded = await mesh.stat(proxy, "cluster.ForwardProxyCluster.upstream_rq_200") ?? 0
        #expect(forwarded >= 21, "ForwardProxyCluster carried \(forwarded) requests")
        // Registered services still go to their own cluster.
        let stillKnown = await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://reviews.bookinfo.svc.cluster.local:9080/")
        #expect(stillKnown.status == 200 && stillKnown.echoName == "reviews-v1")
    }

    /// Istio's egress gateway task on loopback: the client's sidecar sends an external host to the
    /// egress gateway (the VirtualService's `mesh` match), which sends it out (its gateway match).
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func egressGatewayCarriesExternalTraffic(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let external = try await mesh.startEcho("edition")
        let gatewayIP = LoopbackAddresses.next()
        let gatewayPort = try LoopbackNetwork.freePort(on: gatewayIP)
        let client = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: client)
        try mesh.write("egress.yaml", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: edition, namespace: default}
            spec:
              hosts: [edition.example.com]
              ports: [{number: 80, name: http-port, protocol: HTTP, targetPort: \(external.port)}]
              resolution: DNS
              endpoints: [{address: \(external.ip)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: istio-egressgateway, namespace: istio-system}
            spec:
              hosts: [istio-egressgateway.istio-system.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP, targetPort: \(gatewayPort)}]
              endpoints: [{address: \(gatewayIP)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: istio-egressgateway, namespace: default}
            spec:
              selector: {istio: egressgateway}
              servers:
              - port: {number: \(gatewayPort), name: http, protocol: HTTP}
                hosts: [edition.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: egressgateway-for-edition, namespace: default}
            spec:
              host: istio-egressgateway.istio-system.svc.cluster.local
              subsets: [{name: edition}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: direct-edition-through-egress-gateway, namespace: default}
            spec:
              hosts: [edition.example.com]
              gateways: [istio-egressgateway, mesh]
              http:
              - match: [{gateways: [mesh], port: 80}]
                route:
                - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: edition, port: {number: 80}}
              - match: [{gateways: [istio-egressgateway], port: \(gatewayPort)}]
                route:
                - destination: {host: edition.example.com, port: {number: 80}}
            ---
            \(MeshYAML.egressSidecar(namespace: "default", bind: client, port: proxyPort, hosts: "\"*/*\"", outboundTrafficPolicy: "REGISTRY_ONLY"))
            """)
        let gateway = try await mesh.startGateway(labels: ["istio": "egressgateway"], ip: gatewayIP)
        let proxy = try await mesh.startProxy(namespace: "default", labels: ["app": "client"], ip: client)
        let gatewayReady = await mesh.waitUntilReady(gateway)
        let proxyReady = await mesh.waitUntilReady(proxy)
        try #require(gatewayReady && proxyReady, "\(mesh.diagnostics)")
        let first = await Self.waitFor(200) { await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://edition.example.com/politics") }
        try #require(first.status == 200, "\(first)\n\(mesh.diagnostics)")
        let counts = await LoopbackMesh.tally(20, key: { "\($0.status) \($0.echoName ?? "-")" }) {
            await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://edition.example.com/politics")
        }
        let viaSidecar = await mesh.stat(proxy, "cluster.outbound|80|edition|istio-egressgateway.istio-system.svc.cluster.local.upstream_rq_200") ?? 0
        let viaGateway = await mesh.stat(gateway, "cluster.outbound|80||edition.example.com.upstream_rq_200") ?? 0
        print("egress gateway: asked 20 × 200 from edition via the egress gateway, measured \(counts); sidecar→gateway cluster 200s \(viaSidecar), gateway→external cluster 200s \(viaGateway)")
        #expect(counts == ["200 edition": 20])
        #expect(first.echoPath == "/politics")
        #expect(viaSidecar >= 21 && viaGateway >= 21)
    }
}
