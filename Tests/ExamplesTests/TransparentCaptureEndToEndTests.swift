import Foundation
import MeshTestSupport
import Testing

/// Istio's transparent capture (`INTERCEPTION_MODE: REDIRECT`), on both data planes: istiod
/// sends the `virtualOutbound` (15001, `use_original_dst`) and `virtualInbound` (15006,
/// `original_dst`) listeners and the `bind_to_port: false` listeners of each service, and iptables
/// `REDIRECT` rules like Istio's init container's send the workload's connections to them.
///
/// A second sidecar (no capture, Envoy's and ours alike) calls the captured workload over mesh
/// mutual TLS, with workload certificates from istiod's CA: its connection is redirected to
/// 15006 too, where the TLS inspector picks the mTLS chain of the original destination port.
///
/// Everything runs in a network namespace of its own (loopback only), so the NAT rules touch
/// nothing outside the test. It needs root (CAP_NET_ADMIN), `ip` and `iptables`: `.ci/run`
/// installs iptables, and under `CI=true` their absence fails the test.
@Suite(.serialized, .timeLimit(.minutes(4))) struct TransparentCaptureEndToEndTests {
    /// The captured workload's address; its application listens on `appPort`.
    static let workloadIP = "127.0.0.10"
    static let appPort = 8080
    static let controlIP = "127.0.0.2"
    /// The meshed client's address (its sidecar is not captured).
    static let clientIP = "127.0.0.40"
    /// The proxy's group: its own connections are not captured (Istio uses uid and gid 1337).
    static let proxyGroup = 1337

    static func mesh(reviews: String, tcpBackend: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: shop}
        spec:
          hosts: [reviews.shop.svc.cluster.local]
          addresses: [127.0.0.100]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
          endpoints: [{address: \(reviews)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: shop}
        spec:
          hosts: [reviews.shop.svc.cluster.local]
          http:
          - headers: {request: {set: {x-routed-by: reviews-route}}}
            route: [{destination: {host: reviews.shop.svc.cluster.local}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ledger, namespace: shop}
        spec:
          hosts: [ledger.shop.svc.cluster.local]
          addresses: [127.0.0.101]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9090, name: tcp, protocol: TCP}]
          endpoints: [{address: \(tcpBackend)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: cart, namespace: shop}
        spec:
          hosts: [cart.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: \(appPort), name: http, protocol: HTTP}]
          workloadSelector: {labels: {app: cart}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: cart-1, namespace: shop}
        spec: {address: \(workloadIP), labels: {app: cart, security.istio.io/tlsMode: istio}, serviceAccount: cart}
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: client, namespace: shop}
        spec:
          workloadSelector: {labels: {app: client}}
          egress:
          - port: {number: 15080, protocol: HTTP_PROXY, name: egress}
            bind: \(clientIP)
            captureMode: NONE
            hosts: ["./*"]
        """
    }

    /// Istio's nat rules, in `OUTPUT` because every connection here is local: the proxy's own
    /// connections (its group, and inbound forwarding from 127.0.0.6) pass; connections to the
    /// application's port are redirected to 15006; the workload's other connections to 15001.
    static var captureRules: [[String]] {
        [
            ["-N", "ISTIO_REDIRECT"], ["-A", "ISTIO_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001"],
            ["-N", "ISTIO_IN_REDIRECT"], ["-A", "ISTIO_IN_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15006"],
            ["-N", "ISTIO_OUTPUT"], ["-A", "OUTPUT", "-p", "tcp", "-j", "ISTIO_OUTPUT"],
            ["-A", "ISTIO_OUTPUT", "-s", "127.0.0.6/32", "-o", "lo", "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-m", "owner", "--gid-owner", String(proxyGroup), "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-d", "\(workloadIP)/32", "-p", "tcp", "--dport", String(appPort), "-j", "ISTIO_IN_REDIRECT"],
            ["-A", "ISTIO_OUTPUT", "-s", "\(workloadIP)/32", "-j", "ISTIO_REDIRECT"],
        ]
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func redirectedConnectionsReachTheListenersOfTheirOriginalDestination(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        guard let namespace = try await NetworkNamespace.create(prefix: "smcap") else { return }
        defer { namespace.delete() }
        for rule in Self.captureRules {
            let result = try await namespace.run(["iptables", "-t", "nat"] + rule)
            try #require(result.status == 0, "iptables \(rule.joined(separator: " ")): \(result.stderr)")
        }
        let configDir = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: configDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: configDir) }
        try Self.mesh(reviews: "127.0.0.20", tcpBackend: "127.0.0.21")
            .write(to: configDir.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)
        // The CA's folder and the bootstrap tokens beside the config folder, not in it.
        let securityDir = URL(fileURLWithPath: configDir.path + "-security")
        try FileManager.default.createDirectory(at: securityDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: securityDir) }
        let caDir = securityDir.appendingPathComponent("cacerts")
        let token = "capture-\(UUID().uuidString)"
        let tokenFile = securityDir.appendingPathComponent("tokens"), agentToken = securityDir.appendingPathComponent("token")
        try "\(token) spiffe://cluster.local/ns/shop/sa/*\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        try "\(token)\n".write(to: agentToken, atomically: true, encoding: .utf8)
        let secure = "\(Self.controlIP):15012"
        let security = ["--xds", secure, "--ca", secure, "--root-cert", caDir.appendingPathComponent("root-cert.pem").path,
                        "--token-file", agentToken.path]

        var processes: [ChildProcess] = []
        defer { ChildProcess.terminate(processes.reversed()) }
        func echo(_ name: String, _ address: String) throws {
            processes.append(try namespace.spawn(ExampleBinary.url(named: "echo-server"), ["--address", address, "--name", name]))
        }
        processes.append(try namespace.spawn(ExampleBinary.url(named: "istiod"), [
            "--config-dir", configDir.path, "--xds-address", "\(Self.controlIP):15010",
            "--debug-address", "\(Self.controlIP):15014", "--poll-interval", "200",
            "--ca-dir", caDir.path, "--secure-address", secure, "--bootstrap-token-file", tokenFile.path,
        ]))
        try echo("reviews", "127.0.0.20:9080")
        try echo("ledger", "127.0.0.21:9090")
        try echo("outside", "127.0.0.30:7070")
        try echo("cart", "\(Self.workloadIP):\(Self.appPort)")
        let rootReady = await LoopbackMesh.eventually(timeout: .seconds(30)) {
            FileManager.default.fileExists(atPath: caDir.appendingPathComponent("root-cert.pem").path)
        }
        try #require(rootReady, "istiod's CA never wrote its root certificate")
        let sidecar = try namespace.spawn(ExampleBinary.url(named: "sidecar"), [
            "--proxy", dataPlane.rawValue, "--ip", Self.workloadIP, "--namespace", "shop", "--labels", "app=cart,security.istio.io/tlsMode=istio",
            "--service-account", "cart", "--admin-port", "15000", "--envoy-bin", envoy.path, "--interception-mode", "REDIRECT",
        ] + security, group: Self.proxyGroup)
        processes.append(sidecar)
        // Not in the proxy group: its connections are captured like another pod's arriving at this one.
        let client = try namespace.spawn(ExampleBinary.url(named: "sidecar"), [
            "--proxy", dataPlane.rawValue, "--ip", Self.clientIP, "--namespace", "shop", "--labels", "app=client",
            "--service-account", "client", "--admin-port", "15000", "--envoy-bin", envoy.path,
        ] + security)
        processes.append(client)

        for (proxy, ip) in [(sidecar, Self.workloadIP), (client, Self.clientIP)] {
            let ready = await LoopbackMesh.eventually(timeout: .seconds(60)) {
                await namespace.curl(["http://\(ip):15000/ready"]).status == 200
            }
            try #require(ready, "the \(dataPlane) proxy on \(ip) never became ready\n\(proxy.output.suffix(4000))")
        }

        // An HTTP service's VIP: handed to the 0.0.0.0:9080 listener, routed by its VirtualService.
        let routed = await namespace.curl(["--interface", Self.workloadIP, "-H", "host: reviews.shop.svc.cluster.local",
                                           "http://127.0.0.100:9080/captured"])
        #expect(routed.status == 200, "\(routed)\n\(sidecar.output.suffix(3000))")
        #expect(routed.body.contains("\"reviews\""), "\(routed.body)")
        #expect(routed.body.contains("reviews-route"), "the VirtualService's header is missing: \(routed.body)")

        // A TCP service's VIP: handed to the listener on exactly that address (nothing listens on
        // the VIP itself, so only the listener's endpoint can answer).
        let tcp = await namespace.curl(["--interface", Self.workloadIP, "http://127.0.0.101:9090/ledger"])
        #expect(tcp.status == 200 && tcp.body.contains("\"ledger\""), "\(tcp)")

        // An address no service has: virtualOutbound's catch-all chain, PassthroughCluster to
        // the original destination.
        let passthrough = await namespace.curl(["--interface", Self.workloadIP, "http://127.0.0.30:7070/outside"])
        #expect(passthrough.status == 200 && passthrough.body.contains("\"outside\""), "\(passthrough)")

        // Inbound: redirected to 15006, matched by the original destination port, forwarded to
        // the application from 127.0.0.6 by the inbound HTTP connection manager, which adds a
        // request id the client did not send.
        let inbound = await namespace.curl(["http://\(Self.workloadIP):\(Self.appPort)/inbound"])
        #expect(inbound.status == 200 && inbound.body.contains("\"cart\""), "\(inbound)")
        #expect(inbound.body.lowercased().contains("x-request-id"), "not through the inbound listener: \(inbound.body)")

        // Mesh mutual TLS from the other sidecar: redirected to 15006 like the plaintext request,
        // served by the mTLS chain, which forwards the client's identity.
        let mutual = await namespace.curl(["-x", "http://\(Self.clientIP):15080", "http://cart.shop.svc.cluster.local:\(Self.appPort)/mtls"])
        #expect(mutual.status == 200 && mutual.body.contains("\"cart\""), "\(mutual)\n\(client.output.suffix(2000))")
        #expect(mutual.body.contains("spiffe://cluster.local/ns/shop/sa/client"), "no client identity: \(mutual.body)")

        // The proxy saw each of them.
        let stats = await namespace.curl(["http://\(Self.workloadIP):15000/stats"]).body
        for counter in ["cluster.outbound|9080||reviews.shop.svc.cluster.local.upstream_rq_total",
                        "cluster.outbound|9090||ledger.shop.svc.cluster.local.upstream_cx_total",
                        "cluster.PassthroughCluster.upstream_cx_total", "cluster.inbound|8080||.upstream_rq_total"] {
            let line = stats.split(separator: "\n").first { $0.hasPrefix("\(counter): ") }
            let value = line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect(value >= 1, "\(counter) is \(line.map(String.init) ?? "missing")")
        }
    }
}

/// A network namespace with only loopback up, made with `ip netns add` and removed by ``delete()``.
struct NetworkNamespace: Sendable {
    let name: String
    let ip: URL

    /// Creates one, or returns nil (a failure under `CI=true`) when this machine cannot: no `ip`
    /// or `iptables`, or no permission to make namespaces.
    static func create(prefix: String) async throws -> NetworkNamespace? {
        func unavailable(_ why: String) -> NetworkNamespace? {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("network namespaces with iptables are required under CI (.ci/run installs iptables): \(why)")
            } else {
                print("note: skipping a network-namespace test: \(why)")
            }
            return nil
        }
        let candidates = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        guard let ip = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }).map(URL.init(fileURLWithPath:)) else {
            return unavailable("no ip command (iproute2)")
        }
        let name = "\(prefix)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let added = try await ChildProcess.run(ip, ["netns", "add", name])
        guard added.status == 0 else { return unavailable("ip netns add: \(added.stderr)") }
        let namespace = NetworkNamespace(name: name, ip: ip)
        let up = try await namespace.run(["ip", "link", "set", "lo", "up"])
        let iptables = try await namespace.run(["iptables", "-t", "nat", "-L", "-n"])
        guard up.status == 0, iptables.status == 0 else {
            namespace.delete()
            return unavailable("loopback: \(up.stderr) iptables: \(iptables.stderr)")
        }
        return namespace
    }

    /// Runs a command inside the namespace to completion.
    func run(_ command: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await ChildProcess.run(ip, ["netns", "exec", name] + command)
    }

    /// Starts a program inside the namespace, optionally with another real and effective group.
    func spawn(_ executable: URL, _ arguments: [String], group: Int? = nil) throws -> ChildProcess {
        var command = ["netns", "exec", name]
        if let group { command += ["setpriv", "--regid", String(group), "--clear-groups"] }
        return try ChildProcess(ip, command + [executable.path] + arguments)
    }

    /// curl inside the namespace; returns the status (-1 when the request failed) and the body.
    func curl(_ arguments: [String]) async -> (status: Int, body: String) {
        guard let result = try? await run(["curl", "-s", "-m", "10", "-w", "\n%{http_code}"] + arguments) else { return (-1, "") }
        let text = result.stdout
        guard let newline = text.lastIndex(of: "\n") else { return (-1, text + result.stderr) }
        let status = Int(text[text.index(after: newline)...]) ?? -1
        return (status == 0 ? -1 : status, String(text[..<newline]))
    }

    /// Removes the namespace (its processes must have exited or be exiting).
    func delete() {
        let process = Process()
        process.executableURL = ip
        process.arguments = ["netns", "delete", name]
        try? process.run()
        process.waitUntilExit()
    }
}
