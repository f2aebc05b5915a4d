import Foundation
import MeshTestSupport
import Testing

/// The custom control plane example (not istiod: hand-built resources, endpoint-only updates)
/// drives real Envoy and the Swift proxy alike: any xDS control plane can.
@Suite(.timeLimit(.minutes(3))) struct CustomControlPlaneTests {
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func theProxyFollowsRotatingEndpoints(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        let proxyIP = LoopbackAddresses.next(), upstreamIP = LoopbackAddresses.next(), controlPlaneIP = LoopbackAddresses.next()
        let portA = try LoopbackNetwork.freePort(on: upstreamIP)
        let portB = try LoopbackNetwork.freePort(on: upstreamIP)
        let xdsPort = try LoopbackNetwork.freePort(on: controlPlaneIP)
        let listenPort = try LoopbackNetwork.freePort(on: proxyIP)
        let adminPort = try LoopbackNetwork.freePort(on: proxyIP)

        var processes: [ChildProcess] = []
        // SIGTERM lets the sidecar agent stop its Envoy; ChildProcess waits for each on release.
        defer { for p in processes { p.send(SIGTERM) } }
        processes.append(try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(upstreamIP):\(portA)", "--name", "a"]))
        processes.append(try ChildProcess(ExampleBinary.url(named: "echo-server"), ["--address", "\(upstreamIP):\(portB)", "--name", "b"]))
        let controlPlane = try ChildProcess(ExampleBinary.url(named: "custom-control-plane"), [
            "--xds-address", "\(controlPlaneIP):\(xdsPort)", "--listener", "\(proxyIP):\(listenPort)",
            "--upstream", "\(upstreamIP):\(portA)", "--upstream", "\(upstreamIP):\(portB)", "--rotate", "2",
        ])
        processes.append(controlPlane)
        #expect(await LoopbackNetwork.waitUntilAccepting(host: controlPlaneIP, port: xdsPort, timeout: .seconds(30)))
        let sidecar = try ChildProcess(ExampleBinary.url(named: "sidecar"), [
            "--proxy", dataPlane.rawValue, "--ip", proxyIP, "--namespace", "default", "--xds", "\(controlPlaneIP):\(xdsPort)",
            "--admin-port", String(adminPort), "--envoy-bin", envoy.path,
        ])
        processes.append(sidecar)

        @Sendable func answer() -> String? {
            guard let c = try? TCPTestConnection(host: proxyIP, port: listenPort, timeout: .seconds(5)) else { return nil }
            try? c.sendHTTP1Request(path: "/", host: "anything", headers: [("connection", "close")])
            return (try? c.readHTTP1Response()).flatMap { try? $0.jsonObject()["name"] as? String }
        }
        var seen: Set<String> = []
        let start = ContinuousClock.now
        while seen.count < 2, ContinuousClock.now - start < .seconds(40) {
            if let name = await offPool(answer) { seen.insert(name) }
            try? await Task.sleep(for: .milliseconds(200))
        }
        #expect(seen == ["a", "b"], "the \(dataPlane) proxy should reach both upstreams as the control plane rotates them\n\(controlPlane.output)\n\(sidecar.output.suffix(2000))")
    }
}
