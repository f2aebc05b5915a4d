import Foundation
import MeshTestSupport
import Testing

/// Mesh mutual TLS between two real sidecars (Envoy, or the Swift proxy: the same test body runs on
/// both data planes) whose certificates come from istiod's CA: the
/// client's sidecar (an HTTP_PROXY egress listener) reaches a `reviews` workload through auto mTLS
/// (its WorkloadEntry is labelled `security.istio.io/tlsMode: istio`), and the server's sidecar
/// (a Sidecar `ingress` listener in front of an echo-server) enforces PeerAuthentication and
/// AuthorizationPolicy principals.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MutualTLSEndToEndTests {
    static let namespace = "bookinfo"
    static let clientPrincipal = "cluster.local/ns/bookinfo/sa/client"

    static func services(serverIP: String, ingressPort: Int, echoPort: Int, clientIP: String, proxyPort: Int) -> String {
        [
            MeshYAML.serviceEntry(name: "reviews", namespace: "bookinfo", host: "reviews.bookinfo.svc.cluster.local", port: 9080, app: "reviews"),
            MeshYAML.meshWorkloadEntry(
                name: "reviews-1", namespace: "bookinfo", address: serverIP, serviceAccount: "reviews", portName: "http", port: ingressPort, app: "reviews"),
            MeshYAML.ingressSidecar(namespace: "bookinfo", app: "reviews", bind: serverIP, port: ingressPort, workloadPort: echoPort),
            MeshYAML.egressSidecar(namespace: "bookinfo", bind: clientIP, port: proxyPort),
        ].joined(separator: "\n---\n")
    }

    static func peerAuthentication(_ mode: String) -> String {
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          selector: {matchLabels: {app: reviews}}
          mtls: {mode: \(mode)}
        """
    }

    static func authorization(principal: String) -> String {
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          selector: {matchLabels: {app: reviews}}
          action: ALLOW
          rules:
          - from: [{source: {principals: ["\(principal)"]}}]
        """
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func sidecarsTalkMutualTLSWithIstiodCertificates(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let started = try await LoopbackMesh.startWithCA(namespace: Self.namespace, dataPlane: dataPlane) else { return }
        let (mesh, ca) = started
        defer {
            mesh.stop()
            ca.remove()
        }
        // The application shares the server sidecar's address, as in a pod.
        let serverIP = LoopbackAddresses.next(), clientIP = LoopbackAddresses.next()
        let echo = try await mesh.startEcho("reviews", ip: serverIP)
        let ingressPort = try LoopbackNetwork.freePort(on: serverIP)
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", Self.services(serverIP: serverIP, ingressPort: ingressPort, echoPort: echo.port, clientIP: clientIP, proxyPort: proxyPort))
        try mesh.write("peer-authentication.yaml", Self.peerAuthentication("STRICT"))
        // Istio's injector labels every sidecar-carrying pod `security.istio.io/tlsMode: istio`;
        // the translation offers a PERMISSIVE mutual TLS chain only to such workloads.
        let tlsMode = ["security.istio.io/tlsMode": "istio"]
        let server = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "reviews"]) { a, _ in a }, serviceAccount: "reviews", ip: serverIP)
        let client = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "client"]) { a, _ in a }, serviceAccount: "client", ip: clientIP)
        let ready = await mesh.waitUntilReady(server, timeout: .seconds(60))
        let clientReady = await mesh.waitUntilReady(client, timeout: .seconds(60))
        try #require(ready && clientReady, "\(mesh.diagnostics)")

        func viaClient() async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: proxyPort, url: "http://reviews.bookinfo.svc.cluster.local:9080/hello")
        }
        func plaintext() async -> LoopbackMesh.Response {
            await LoopbackMesh.request(host: serverIP, port: ingressPort, path: "/hello", authority: "reviews.bookinfo.svc.cluster.local", timeout: .seconds(3))
        }
        func dumps() async -> String {
            let serverListeners = await mesh.admin(server, "/config_dump?resource=dynamic_listeners") ?? "n/a"
            let clientClusters = await mesh.admin(client, "/config_dump?resource=dynamic_active_clusters") ?? "n/a"
            return "server listeners:\n\(serverListeners.prefix(6000))\nclient clusters:\n\(clientClusters.prefix(6000))\n\(mesh.diagnostics)"
        }

        // 1. STRICT: the client's request goes through both sidecars over mutual TLS, and the
        //    application sees the client's SPIFFE identity in x-forwarded-client-cert.
        var response = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let through = await LoopbackMesh.eventually(timeout: .seconds(45)) {
            response = await viaClient()
            return response.status == 200
        }
        let failure = await (through ? "" : dumps())
        try #require(through, "no answer through the client's sidecar: \(response)\n\(failure)")
        #expect(response.echoName == "reviews")
        let xfcc = response.echoHeaders["x-forwarded-client-cert"] ?? ""
        print("MutualTLSEndToEndTests: x-forwarded-client-cert = \(xfcc)")
        #expect(xfcc.contains("URI=spiffe://\(Self.clientPrincipal)"), "\(response.echoHeaders)")
        #expect(xfcc.contains("By=spiffe://cluster.local/ns/bookinfo/sa/reviews"), "\(response.echoHeaders)")
        let handshakes = await mesh.stat(client, "cluster.outbound|9080||reviews.bookinfo.svc.cluster.local.ssl.handshake") ?? 0
        #expect(handshakes >= 1, "the client's cluster made TLS handshakes")

        // 2. STRICT refuses plaintext straight to the server's ingress port; PERMISSIVE accepts it.
        let strictPlain = await plaintext()
        print("  STRICT plaintext: status \(strictPlain.status) \(strictPlain.error ?? "")")
        #expect(strictPlain.status == -1, "STRICT answered plaintext: \(strictPlain)")
        try mesh.write("peer-authentication.yaml", Self.peerAuthentication("PERMISSIVE"))
        var permissive = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let accepted = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            permissive = await plaintext()
            return permissive.status == 200
        }
        let permissiveFailure = await (accepted ? "" : dumps())
        #expect(accepted, "PERMISSIVE did not accept plaintext: \(permissive)\n\(permissiveFailure)")
        #expect(permissive.echoName == "reviews")
        #expect(permissive.echoHeaders["x-forwarded-client-cert"] == nil, "plaintext carries no client certificate")
        // The server's inbound filter chains changed, so Envoy drains the client's pooled
        // connection; a request racing that drain may see a reset (503 UC), as with Istio. Once
        // the client reconnects, mutual TLS keeps working under PERMISSIVE.
        var underPermissive = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let stillMutual = await LoopbackMesh.eventually(timeout: .seconds(15)) {
            underPermissive = await viaClient()
            return underPermissive.status == 200
        }
        #expect(stillMutual, "mutual TLS still works under PERMISSIVE: \(underPermissive)")
        for _ in 0..<5 {
            let next = await viaClient()
            #expect(next.status == 200 && (next.echoHeaders["x-forwarded-client-cert"] ?? "").contains("URI=spiffe://\(Self.clientPrincipal)"),
                    "mutual TLS under PERMISSIVE: \(next.status) \(next.error ?? "") \(next.body.prefix(300))")
        }

        // Back to STRICT: plaintext is refused again.
        try mesh.write("peer-authentication.yaml", Self.peerAuthentication("STRICT"))
        let refusedAgain = await LoopbackMesh.eventually(timeout: .seconds(30)) { await plaintext().status == -1 }
        #expect(refusedAgain, "STRICT restored still answers plaintext")

        // 3. AuthorizationPolicy principals: the client's identity (from its certificate) is
        //    allowed, another one is not.
        try mesh.write("authorization.yaml", Self.authorization(principal: Self.clientPrincipal))
        let allowed = await LoopbackMesh.eventually { await viaClient().status == 200 }
        #expect(allowed, "the client's principal is allowed")
        try mesh.write("authorization.yaml", Self.authorization(principal: "cluster.local/ns/bookinfo/sa/other"))
        var denied = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let forbidden = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            denied = await viaClient()
            return denied.status == 403
        }
        let deniedFailure = await (forbidden ? "" : dumps())
        #expect(forbidden, "the client was not denied: \(denied)\n\(deniedFailure)")
        #expect(denied.body.contains("RBAC: access denied"), "\(denied.body)")
        try mesh.write("authorization.yaml", Self.authorization(principal: Self.clientPrincipal))
        let allowedAgain = await LoopbackMesh.eventually { await viaClient().status == 200 }
        #expect(allowedAgain, "allowed again")
        let rbacDenied = await mesh.stat(server, "http.inbound_\(serverIP)_\(ingressPort).rbac.denied")
        print("  server rbac.denied=\(rbacDenied.map(String.init) ?? "n/a"), client ssl.handshake=\(handshakes)")
    }

    /// A TCP service (`protocol: TCP`): the client's sidecar proxies bytes over auto mTLS, the
    /// server's sidecar terminates mutual TLS on a TCP proxy chain (chosen by the TLS inspector)
    /// and STRICT refuses plaintext. HTTP is used only as the bytes the echo-server answers.
    static func tcpServices(serverIP: String, ingressPort: Int, echoPort: Int, clientIP: String, servicePort: Int) -> String {
        [
            MeshYAML.serviceEntry(
                name: "ledger", namespace: "bookinfo", host: "ledger.bookinfo.svc.cluster.local", port: servicePort, protocol: "TCP", portName: "tcp", app: "ledger"),
            MeshYAML.meshWorkloadEntry(
                name: "ledger-1", namespace: "bookinfo", address: serverIP, serviceAccount: "ledger", portName: "tcp", port: ingressPort, app: "ledger"),
            MeshYAML.ingressSidecar(
                namespace: "bookinfo", app: "ledger", bind: serverIP, port: ingressPort, protocol: "TCP", portName: "tcp", workloadPort: echoPort),
            MeshYAML.egressSidecar(
                namespace: "bookinfo", bind: clientIP, port: servicePort, protocol: "TCP", portName: "tcp", hosts: "\"./ledger.bookinfo.svc.cluster.local\""),
        ].joined(separator: "\n---\n")
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func tcpTrafficGoesOverMutualTLSBetweenSidecars(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let started = try await LoopbackMesh.startWithCA(namespace: Self.namespace, dataPlane: dataPlane) else { return }
        let (mesh, ca) = started
        defer {
            mesh.stop()
            ca.remove()
        }
        let serverIP = LoopbackAddresses.next(), clientIP = LoopbackAddresses.next()
        let echo = try await mesh.startEcho("ledger", ip: serverIP)
        let ingressPort = try LoopbackNetwork.freePort(on: serverIP)
        let servicePort = try LoopbackNetwork.freePort(on: clientIP)
        try mesh.write("services.yaml", Self.tcpServices(serverIP: serverIP, ingressPort: ingressPort, echoPort: echo.port, clientIP: clientIP, servicePort: servicePort))
        try mesh.write("peer-authentication.yaml", """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ledger, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: ledger}}
              mtls: {mode: STRICT}
            """)
        let tlsMode = ["security.istio.io/tlsMode": "istio"]
        let server = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "ledger"]) { a, _ in a }, serviceAccount: "ledger", ip: serverIP)
        let client = try await mesh.startSecureProxy(
            ca: ca, namespace: Self.namespace, labels: tlsMode.merging(["app": "client"]) { a, _ in a }, serviceAccount: "client", ip: clientIP)
        let ready = await mesh.waitUntilReady(server, timeout: .seconds(60))
        let clientReady = await mesh.waitUntilReady(client, timeout: .seconds(60))
        try #require(ready && clientReady, "\(mesh.diagnostics)")

        var response = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let through = await LoopbackMesh.eventually(timeout: .seconds(45)) {
            response = await LoopbackMesh.request(host: clientIP, port: servicePort, path: "/ledger", authority: "ledger", timeout: .seconds(3))
            return response.status == 200
        }
        try #require(through, "no answer through the client's TCP listener: \(response)\n\(mesh.diagnostics)")
        #expect(response.echoName == "ledger")
        #expect(response.echoHeaders["x-forwarded-client-cert"] == nil, "a TCP proxy adds no HTTP headers")
        let cluster = "cluster.outbound|\(servicePort)||ledger.bookinfo.svc.cluster.local.ssl.handshake"
        let handshakes = await mesh.stat(client, cluster) ?? 0
        print("MutualTLSEndToEndTests TCP (\(dataPlane)): status \(response.status) from \(response.echoName ?? "-"), client TLS handshakes \(handshakes)")
        #expect(handshakes >= 1, "the client's TCP cluster made TLS handshakes")
        let plain = await LoopbackMesh.request(host: serverIP, port: ingressPort, path: "/ledger", authority: "ledger", timeout: .seconds(3))
        #expect(plain.status == -1, "STRICT answered plaintext on the TCP port: \(plain)")
    }
}
