import Foundation
import MeshTestSupport
import Testing

/// istiod, sidecars (`sidecar --proxy envoy` and `--proxy swift`) and echo-server workloads on
/// loopback: the proofs of the ADS issue, run against real processes on both data planes,
/// including the NACK of a listener whose address another process holds.
@Suite(.serialized, .timeLimit(.minutes(5))) struct IstiodEndToEndTests {
    /// A small mesh: `reviews` v1 and v2 behind a ServiceEntry, and a client whose Sidecar opens an
    /// HTTP_PROXY egress listener on its own loopback address.
    struct Mesh {
        var configDir: URL
        var clientIP: String
        var proxyPort: Int
        var v1: String
        var v2: String
        var echoPort: Int
        /// istiod's own address, so no port-0 bind elsewhere in the test process can take its
        /// port while it restarts.
        var istiodIP: String
        var xdsPort: Int
        var debugPort: Int

        func write(_ file: String, _ text: String) throws {
            try text.write(to: configDir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }

        var services: String {
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.bookinfo.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              workloadSelector: {labels: {app: reviews}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v1, namespace: bookinfo}
            spec: {address: \(v1), labels: {app: reviews, version: v1}, ports: {http: \(echoPort)}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v2, namespace: bookinfo}
            spec: {address: \(v2), labels: {app: reviews, version: v2}, ports: {http: \(echoPort)}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              host: reviews.bookinfo.svc.cluster.local
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            """
        }

        func sidecar(extraEgress: String = "") -> String {
            """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: client, namespace: bookinfo}
            spec:
              workloadSelector: {labels: {app: client}}
              egress:
            \(extraEgress)  - port: {number: \(proxyPort), protocol: HTTP_PROXY, name: egress-http}
                bind: \(clientIP)
                captureMode: NONE
                hosts: ["./*"]
            """
        }

        static func routing(v1Weight: Int, v2Weight: Int) -> String {
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.bookinfo.svc.cluster.local]
              http:
              - name: jason
                match: [{headers: {end-user: {exact: jason}}}]
                route: [{destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}}]
              - name: v1-path
                match: [{uri: {prefix: /v1only}}]
                route: [{destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}}]
              - name: split
                route:
                - {destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}, weight: \(v1Weight)}
                - {destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}, weight: \(v2Weight)}
            """
        }

        /// One request through the client's HTTP_PROXY listener, off the cooperative thread pool
        /// (the socket calls block): the status and the answering workload.
        func get(_ path: String = "/", headers: [(String, String)] = []) async -> (status: Int, name: String?) {
            await offPool { self.blockingGet(path, headers: headers) }
        }

        func debug(_ path: String) async -> String? {
            await offPool { self.blockingDebug(path) }
        }

        func blockingGet(_ path: String, headers: [(String, String)]) -> (status: Int, name: String?) {
            do {
                let connection = try TCPTestConnection(host: clientIP, port: proxyPort, timeout: .seconds(5))
                try connection.sendHTTP1Request(
                    path: "http://reviews.bookinfo.svc.cluster.local:9080\(path)", host: "reviews.bookinfo.svc.cluster.local:9080",
                    headers: headers + [("connection", "close")])
                let response = try connection.readHTTP1Response()
                let name = (try? response.jsonObject())?["name"] as? String
                return (response.status, name)
            } catch {
                return (-1, nil)
            }
        }

        func blockingDebug(_ path: String) -> String? {
            guard let connection = try? TCPTestConnection(host: istiodIP, port: debugPort, timeout: .seconds(5)) else { return nil }
            try? connection.sendHTTP1Request(path: path, host: "\(istiodIP):\(debugPort)", headers: [("connection", "close")])
            return (try? connection.readHTTP1Response())?.text
        }
    }

    /// Waits (bounded) until `condition` holds.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return await condition()
    }

    /// Whether `count` requests all satisfy `check`.
    func all(_ count: Int, _ check: () async -> Bool) async -> Bool {
        for _ in 0..<count where !(await check()) { return false }
        return true
    }

    func startIstiod(_ mesh: Mesh) throws -> ChildProcess {
        try ChildProcess(ExampleBinary.url(named: "istiod"), [
            "--config-dir", mesh.configDir.path, "--xds-address", "\(mesh.istiodIP):\(mesh.xdsPort)",
            "--debug-address", "\(mesh.istiodIP):\(mesh.debugPort)", "--poll-interval", "200",
        ])
    }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func trafficFollowsTheConfigFolder(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("istiod-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clientIP = LoopbackAddresses.next(), v1 = LoopbackAddresses.next(), v2 = LoopbackAddresses.next()
        let istiodIP = LoopbackAddresses.next()
        let mesh = Mesh(
            configDir: dir, clientIP: clientIP, proxyPort: try LoopbackNetwork.freePort(on: clientIP), v1: v1, v2: v2,
            echoPort: try LoopbackNetwork.freePort(on: v1), istiodIP: istiodIP, xdsPort: try LoopbackNetwork.freePort(on: istiodIP),
            debugPort: try LoopbackNetwork.freePort(on: istiodIP))
        try mesh.write("services.yaml", mesh.services)
        try mesh.write("sidecar.yaml", mesh.sidecar())
        try mesh.write("routing.yaml", Mesh.routing(v1Weight: 80, v2Weight: 20))

        var processes: [ChildProcess] = []
        // SIGTERM lets the sidecar agent stop its Envoy; ChildProcess waits for each on release.
        defer { for p in processes { p.send(SIGTERM) } }
        for (ip, name) in [(v1, "reviews-v1"), (v2, "reviews-v2")] {
            processes.append(try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(ip):\(mesh.echoPort)", "--name", name]))
        }
        var istiod = try startIstiod(mesh)
        processes.append(istiod)
        #expect(await LoopbackNetwork.waitUntilAccepting(host: mesh.istiodIP, port: mesh.xdsPort, timeout: .seconds(30)), "\(istiod.output)")
        let adminPort = try LoopbackNetwork.freePort(on: clientIP)
        let sidecar = try ChildProcess(ExampleBinary.url(named: "sidecar"), [
            "--proxy", dataPlane.rawValue, "--ip", clientIP, "--namespace", "bookinfo", "--labels", "app=client",
            "--service-account", "client", "--xds", "\(mesh.istiodIP):\(mesh.xdsPort)", "--admin-port", String(adminPort),
            "--envoy-bin", envoy.path,
        ])
        processes.append(sidecar)

        // 1. A client reaches a service through its sidecar's HTTP_PROXY egress listener.
        let reachable = await eventually { await mesh.get().status == 200 }
        try #require(reachable, "no traffic through the sidecar\nistiod:\n\(istiod.output)\nsidecar:\n\(sidecar.output.suffix(3000))")

        // The debug endpoints describe the connected proxy and the loaded config.
        #expect(await mesh.debug("/ready")?.contains("ready") == true)
        #expect(await mesh.debug("/debug/adsz")?.contains("sidecar~\(clientIP)~") == true)
        #expect(await mesh.debug("/debug/configz")?.contains("\"VirtualService\"") == true)
        let dump = await mesh.debug("/debug/config_dump?proxyID=\(clientIP)") ?? ""
        #expect(dump.contains("outbound|9080|v1|reviews.bookinfo.svc.cluster.local"), "config_dump:\n\(dump.prefix(2000))")
        #expect(dump.contains("\(clientIP)_\(mesh.proxyPort)"), "the HTTP_PROXY listener is in the dump")

        // 2. An 80/20 weighted split between two subsets, within tolerance.
        var names: [String: Int] = [:]
        // 600 requests: five standard deviations then span 12-28 %, so a 90/10 or 70/30 split fails.
        for _ in 0..<600 { names[await mesh.get().name ?? "failed", default: 0] += 1 }
        #expect(names["failed"] == nil, "\(names)")
        #expect(LoopbackMesh.binomialRange(trials: 600, probability: 0.2).contains(names["reviews-v2"] ?? 0), "asked 80/20, measured \(names)")
        print("weighted split: asked 80/20, measured \(names)")

        // 3. Header and path routing.
        #expect(await all(10) { await mesh.get(headers: [("end-user", "jason")]).name == "reviews-v2" })
        #expect(await all(10) { await mesh.get("/v1only/x").name == "reviews-v1" })

        // 4. A live edit takes effect without failing requests in flight.
        let inFlight = Task { () -> [Int: Int] in
            var statuses: [Int: Int] = [:]
            for _ in 0..<400 where !Task.isCancelled { statuses[await mesh.get().status, default: 0] += 1 }
            return statuses
        }
        try mesh.write("routing.yaml", Mesh.routing(v1Weight: 0, v2Weight: 100))
        let switched = await eventually { await all(5) { await mesh.get().name == "reviews-v2" } }
        #expect(switched, "the edit to 0/100 never took effect")
        let statuses = await inFlight.value
        #expect(statuses.keys.allSatisfy { $0 == 200 }, "requests failed during the live edit: \(statuses)")

        // 5. An invalid edit is rejected and the old config keeps serving.
        try mesh.write("routing.yaml", Mesh.routing(v1Weight: -5, v2Weight: 100))
        let rejected = await eventually {
            let configz = await mesh.debug("/debug/configz") ?? ""
            return configz.contains("routing.yaml") && configz.contains("weight")
        }
        let configz = await mesh.debug("/debug/configz") ?? ""
        #expect(rejected, "configz does not show the rejected file:\n\(configz)")
        try? await Task.sleep(for: .seconds(1))
        #expect(await all(20) { await mesh.get().name == "reviews-v2" }, "the last good config must keep serving")

        // 6. istiod stopped and restarted under steady traffic: no failed request, Envoy reconnects.
        let steady = Task { () -> [Int: Int] in
            var statuses: [Int: Int] = [:]
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(8), !Task.isCancelled { statuses[await mesh.get().status, default: 0] += 1 }
            return statuses
        }
        try? await Task.sleep(for: .milliseconds(500))
        istiod.send(SIGTERM)
        #expect(await istiod.waitForExit(timeout: .seconds(20)) == 0, "istiod exits cleanly on SIGTERM\n\(istiod.output)")
        try? await Task.sleep(for: .seconds(1))
        istiod = try startIstiod(mesh)
        processes.append(istiod)
        let during = await steady.value
        #expect(during.keys.allSatisfy { $0 == 200 }, "requests failed while istiod restarted: \(during)")
        let reconnected = await eventually { await mesh.debug("/debug/syncz")?.contains("sidecar~\(clientIP)~") == true }
        #expect(reconnected, "the \(dataPlane) proxy did not reconnect to the restarted istiod")

        // 7. A config Envoy rejects is NACKed, shown in /debug/syncz, and the proxy keeps serving.
        let busyPort = try LoopbackNetwork.freePort(on: clientIP)
        let squatter = try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(clientIP):\(busyPort)", "--name", "squatter"])
        processes.append(squatter)
        #expect(await LoopbackNetwork.waitUntilAccepting(host: clientIP, port: busyPort, timeout: .seconds(10)))
        let conflicting = """
              - port: {number: \(busyPort), protocol: HTTP, name: taken}
                bind: \(clientIP)
                captureMode: NONE
                hosts: ["./*"]

            """
        try mesh.write("sidecar.yaml", mesh.sidecar(extraEgress: conflicting))
        let nacked = await eventually { await mesh.debug("/debug/syncz")?.contains("lastNack") == true }
        let syncz = await mesh.debug("/debug/syncz") ?? ""
        #expect(nacked, "no NACK in /debug/syncz:\n\(syncz)\nsidecar:\n\(sidecar.output.suffix(2000))")
        #expect(await all(10) { await mesh.get().status == 200 }, "the proxy keeps its last good config after a NACK")
    }
}

/// Runs blocking work on a global dispatch queue so it does not hold a cooperative-pool thread
/// (other tests' async work runs on the same two threads).
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
}
