import Foundation
import MeshTestSupport
import Testing

/// Gateway TLS with credentials from Kubernetes `Secret`s, as in Istio: a router (Envoy through
/// `sidecar --proxy envoy --type router --ca ...`, or the Swift proxy with `--proxy swift`; the
/// same test body runs on both) whose xDS connection proves its namespace gets
/// `kubernetes://NAME` and `kubernetes://NAME-cacert` from istiod over ADS. Certificates are made
/// at test time with openssl; nothing private is committed.
@Suite(.serialized, .timeLimit(.minutes(5))) struct GatewaySecretEndToEndTests {
    static let namespace = "edge"

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func credentialNameServesRotatesAndRequiresClientCertificates(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let curl = Curl.binary() else { return }
        let hosts = ["secure.example.com", "mtls.example.com", "foreign.example.com"]
        guard let certs = try await TestCertificates.make(dnsNames: hosts) else { return }
        defer { certs.remove() }
        try await certs.issueServer("server2", subject: "secure.example.com rotated", dnsNames: hosts)
        guard let (mesh, ca) = try await LoopbackMesh.startWithCA(namespace: Self.namespace, dataPlane: dataPlane) else { return }
        defer {
            mesh.stop()
            ca.remove()
        }
        let web = try await mesh.startEcho("web-v1")
        let gatewayIP = LoopbackAddresses.next()
        let port = try LoopbackNetwork.freePort(on: gatewayIP)
        let httpPort = try LoopbackNetwork.freePort(on: gatewayIP)
        let serverCert = try certs.text("server.crt"), serverKey = try certs.text("server.key")
        let caCert = try certs.text("ca.crt")

        try mesh.write("web.yaml", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: web, namespace: edge}
            spec:
              hosts: [web.edge.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(web.port)}]
              endpoints: [{address: \(web.ip)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(port), name: https, protocol: HTTPS}
                hosts: [secure.example.com]
                tls: {mode: SIMPLE, credentialName: web-cert}
              - port: {number: \(port), name: https-mtls, protocol: HTTPS}
                hosts: [mtls.example.com]
                tls: {mode: MUTUAL, credentialName: partner-cert}
              - port: {number: \(port), name: https-foreign, protocol: HTTPS}
                hosts: [foreign.example.com]
                tls: {mode: SIMPLE, credentialName: foreign-cert}
              - port: {number: \(httpPort), name: http, protocol: HTTP}
                hosts: [origin.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web, namespace: edge}
            spec:
              hosts: [secure.example.com, mtls.example.com, foreign.example.com]
              gateways: [edge]
              http:
              - route: [{destination: {host: web}}]
            ---
            # TLS origination at the gateway with a client certificate from a Secret: plain HTTP on
            # httpPort is sent, MUTUAL, to this gateway's own MUTUAL server (mtls.example.com).
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: mtls-upstream, namespace: edge}
            spec:
              hosts: [mtls-upstream.edge.svc.cluster.local]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 443, name: http-tls, protocol: HTTP, targetPort: \(port)}]
              endpoints: [{address: \(gatewayIP)}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: mtls-upstream, namespace: edge}
            spec:
              host: mtls-upstream.edge.svc.cluster.local
              trafficPolicy:
                tls: {mode: MUTUAL, credentialName: client-cred, sni: mtls.example.com, subjectAltNames: [mtls.example.com]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: origin, namespace: edge}
            spec:
              hosts: [origin.example.com]
              gateways: [edge]
              http:
              - rewrite: {authority: mtls.example.com}
                route: [{destination: {host: mtls-upstream.edge.svc.cluster.local, port: {number: 443}}}]
            """)
        // Kubernetes' TLS layout; Istio's generic layout with the CA in a `-cacert` secret; and a
        // secret of another namespace that the gateway must not read.
        try mesh.write("web-cert.yaml", LoopbackMesh.secretYAML(name: "web-cert", namespace: "edge", data: ["tls.crt": serverCert, "tls.key": serverKey]))
        try mesh.write("partner-cert.yaml", LoopbackMesh.secretYAML(name: "partner-cert", namespace: "edge", type: "Opaque", data: ["cert": serverCert, "key": serverKey])
            + "\n---\n" + LoopbackMesh.secretYAML(name: "partner-cert-cacert", namespace: "edge", type: "Opaque", data: ["cacert": caCert]))
        try mesh.write("client-cred.yaml", LoopbackMesh.secretYAML(name: "client-cred", namespace: "edge", type: "Opaque", data: [
            "cert": try certs.text("client.crt"), "key": try certs.text("client.key"), "cacert": caCert]))
        try mesh.write("foreign-cert.yaml", LoopbackMesh.secretYAML(name: "foreign-cert", namespace: "other", data: ["tls.crt": serverCert, "tls.key": serverKey]))

        let gateway = try await mesh.startSecureGateway(ca: ca, namespace: Self.namespace, ip: gatewayIP)
        let ready = await mesh.waitUntilReady(gateway, timeout: .seconds(45))
        try #require(ready, "\(mesh.diagnostics)")

        func https(_ host: String, _ extra: [String] = []) async throws -> Curl.Result {
            try await Curl.get(curl, "https://\(host):\(port)/hello", ["--resolve", "\(host):\(port):\(gatewayIP)", "--cacert", certs.caCertificate.path] + extra)
        }
        // SIMPLE with credentialName: the served chain verifies against the test CA.
        var first = try await https("secure.example.com")
        _ = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            first = (try? await https("secure.example.com")) ?? first
            return first.httpStatus == 200
        }
        print("gateway credentialName SIMPLE: asked 200 from web-v1 with the CA, measured \(first.httpStatus) from \(first.echoName ?? "-") (curl exit \(first.exitStatus))")
        #expect(first.exitStatus == 0 && first.httpStatus == 200 && first.echoName == "web-v1", "\(first.stderr)\n\(mesh.diagnostics)")
        let before = try await ServedCertificate.observe(ip: gatewayIP, port: port, serverName: "secure.example.com", caFile: certs.caCertificate)
        let serial1 = try certs.serial("server.crt"), serial2 = try certs.serial("server2.crt")
        print("served certificate: serial \(before.serial ?? "-"), subject \(before.subject ?? "-"), verified \(before.verified) (secret's serial \(serial1))")
        #expect(before.verified && before.serial == serial1, "\(before.output)")

        // MUTUAL with the CA from `partner-cert-cacert`: a client certificate is required.
        let withoutClient = try await https("mtls.example.com")
        let withClient = try await https("mtls.example.com", ["--cert", certs.clientCertificate.path, "--key", certs.clientKey.path])
        print("gateway credentialName MUTUAL: without client certificate measured curl exit \(withoutClient.exitStatus) HTTP \(withoutClient.httpStatus); with one \(withClient.httpStatus) from \(withClient.echoName ?? "-")")
        #expect(withoutClient.httpStatus == 0 && withoutClient.exitStatus != 0)
        #expect(withClient.httpStatus == 200 && withClient.echoName == "web-v1", "\(withClient.stderr)")

        // MUTUAL origination with credentialName: the gateway's cluster presents the client
        // certificate of `client-cred` and verifies the upstream against its `cacert`.
        var originated = await mesh.requestGateway(gateway, port: httpPort, host: "origin.example.com", path: "/origin")
        _ = await LoopbackMesh.eventually(timeout: .seconds(20)) {
            originated = await mesh.requestGateway(gateway, port: httpPort, host: "origin.example.com", path: "/origin")
            return originated.status == 200
        }
        let originHandshakes = await mesh.stat(gateway, "cluster.outbound|443||mtls-upstream.edge.svc.cluster.local.ssl.handshake") ?? -1
        print("gateway DestinationRule credentialName MUTUAL origination: asked 200 from web-v1 through the MUTUAL server, measured \(originated.status) from \(originated.echoName ?? "-"), upstream TLS handshakes \(originHandshakes)")
        #expect(originated.status == 200 && originated.echoName == "web-v1", "\(originated)\n\(mesh.diagnostics)")
        #expect(originHandshakes >= 1)

        // A secret of another namespace is not served: that server is left out, so no chain matches its SNI.
        let foreign = try await https("foreign.example.com")
        print("gateway credentialName in another namespace: asked refused, measured curl exit \(foreign.exitStatus) HTTP \(foreign.httpStatus)")
        #expect(foreign.httpStatus == 0 && foreign.exitStatus != 0)
        #expect(mesh.istiod?.output.contains("Secret edge/foreign-cert not found (namespace other has one") == true, "\(mesh.istiod?.output.suffix(3000) ?? "")")

        // Rotation: the Secret's file gets a new certificate; the gateway serves it without a listener change.
        let ldsBefore = await mesh.stat(gateway, "listener_manager.lds.update_success")
        let modifiedBefore = await mesh.stat(gateway, "listener_manager.listener_modified")
        let uptimeBefore = await mesh.stat(gateway, "server.uptime")
        let rotatedCert = try certs.text("server2.crt"), rotatedKey = try certs.text("server2.key")
        try mesh.write("web-cert.yaml", LoopbackMesh.secretYAML(name: "web-cert", namespace: "edge", data: ["tls.crt": rotatedCert, "tls.key": rotatedKey]))
        let rotationStart = ContinuousClock.now
        var after = before
        let rotated = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            after = (try? await ServedCertificate.observe(ip: gatewayIP, port: port, serverName: "secure.example.com", caFile: certs.caCertificate)) ?? after
            return after.serial == serial2
        }
        let rotationTime = ContinuousClock.now - rotationStart
        let afterRotation = try await https("secure.example.com")
        let ldsAfter = await mesh.stat(gateway, "listener_manager.lds.update_success")
        let modifiedAfter = await mesh.stat(gateway, "listener_manager.listener_modified")
        let uptimeAfter = await mesh.stat(gateway, "server.uptime")
        print("secret rotation: served serial \(before.serial ?? "-") → \(after.serial ?? "-") (subject \(after.subject ?? "-")) after \(rotationTime); LDS updates \(ldsBefore ?? -1) → \(ldsAfter ?? -1), listeners modified \(modifiedBefore ?? -1) → \(modifiedAfter ?? -1), Envoy uptime \(uptimeBefore ?? -1) → \(uptimeAfter ?? -1) s; HTTPS after rotation \(afterRotation.httpStatus)")
        #expect(rotated && after.verified, "\(after.output)")
        #expect(ldsAfter == ldsBefore && modifiedAfter == modifiedBefore, "the rotation changed listeners")
        #expect((uptimeAfter ?? 0) >= (uptimeBefore ?? .max), "Envoy restarted")
        #expect(afterRotation.httpStatus == 200 && afterRotation.exitStatus == 0)
        // The MUTUAL server's secret did not change, so its chain still serves the old certificate.
        let partner = try await ServedCertificate.observe(ip: gatewayIP, port: port, serverName: "mtls.example.com", caFile: certs.caCertificate)
        #expect(partner.serial == serial1)

        // A bad secret (key of another certificate) is rejected, naming file, Secret and field; the last good one keeps serving.
        try mesh.write("web-cert.yaml", LoopbackMesh.secretYAML(name: "web-cert", namespace: "edge", data: ["tls.crt": serverCert, "tls.key": rotatedKey]))
        var rejection = ""
        let rejected = await LoopbackMesh.eventually(timeout: .seconds(15)) {
            rejection = await mesh.debug("/debug/configz") ?? ""
            return rejection.contains("web-cert.yaml") && rejection.contains("does not match")
        }
        let stillServed = try await ServedCertificate.observe(ip: gatewayIP, port: port, serverName: "secure.example.com", caFile: certs.caCertificate)
        let keyBody = rotatedKey.split(separator: "\n").dropFirst().first.map(String.init) ?? "-"
        let istiodLog = mesh.istiod?.output ?? ""
        print("bad secret: rejected \(rejected); still serving serial \(stillServed.serial ?? "-"); key material in istiod's log: \(istiodLog.contains(keyBody) || istiodLog.contains(Data(rotatedKey.utf8).base64EncodedString().prefix(40)))")
        #expect(rejected, "\(rejection)")
        #expect(rejection.contains("Secret edge/web-cert") && rejection.contains("data[tls.key]"), "\(rejection)")
        #expect(stillServed.serial == serial2)
        #expect(!istiodLog.contains(keyBody) && !istiodLog.contains(String(Data(rotatedKey.utf8).base64EncodedString().prefix(40))))
    }
}
