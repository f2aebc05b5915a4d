import Foundation
import MeshProxy
import MeshXDS
import SwiftProtobuf
import Testing

/// Every Cluster and ClusterLoadAssignment our translator emits (the MeshXDS golden files) must be
/// accepted by the proxy, and an UpstreamCluster built from each must be usable.
@Suite struct GoldenAcceptanceTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MeshXDSTests/testdata/translation")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/cds.golden.json").path) }
            .sorted()
    }

    @Test func goldenCasesExist() {
        #expect(Self.cases.count >= 20, "found \(Self.cases) under \(Self.directory.path)")
    }

    @Test(arguments: cases)
    func acceptsEveryClusterAndAssignment(_ name: String) throws {
        EnvoyAnyTypes.register()
        let folder = Self.directory.appendingPathComponent(name)
        let clusters = try Envoy_Config_Cluster_V3_Cluster.array(fromJSONString: String(contentsOf: folder.appendingPathComponent("cds.golden.json"), encoding: .utf8))
        let assignments = try Envoy_Config_Endpoint_V3_ClusterLoadAssignment.array(fromJSONString: String(contentsOf: folder.appendingPathComponent("eds.golden.json"), encoding: .utf8))
        var byService: [String: EndpointSet] = [:]
        for assignment in assignments {
            do {
                byService[assignment.clusterName] = try EndpointSet(assignment)
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
        for cluster in clusters {
            let configuration: ClusterConfiguration
            do {
                configuration = try ClusterConfiguration(cluster)
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            var endpoints: EndpointSet?
            if case .eds(let service) = configuration.discovery { endpoints = byService[service] }
            let upstream = UpstreamCluster(configuration: configuration, endpoints: endpoints, random: SeededRandom().function)
            if configuration.loadBalancer != .clusterProvided, upstream.hosts.contains(where: { $0.healthStatus.coarseHealth == .healthy }) {
                #expect(upstream.chooseHost(HostSelectionContext(hash: 7)) != nil, "\(name): \(configuration.name) chose no host")
            }
        }
        #expect(!clusters.isEmpty)
    }
}
