import Foundation
import MeshXDS
import SwiftProtobuf

/// Small Envoy resources and helpers for the ADS server, cache and client tests.
enum XDSFixtures {
    static let nodeID = "sidecar~127.0.0.5~test.default~default.svc.cluster.local"

    static var node: Envoy_Config_Core_V3_Node {
        .with { $0.id = nodeID; $0.cluster = "test.default" }
    }

    static func address(_ ip: String, _ port: UInt32) -> Envoy_Config_Core_V3_Address {
        .with { $0.socketAddress = .with { $0.address = ip; $0.portValue = port } }
    }

    static var adsConfigSource: Envoy_Config_Core_V3_ConfigSource {
        .with { $0.ads = .init(); $0.resourceApiVersion = .v3 }
    }

    /// An EDS cluster whose endpoints come from the ClusterLoadAssignment of the same name.
    static func edsCluster(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = name
            $0.type = .eds
            $0.connectTimeout = .init(seconds: 1)
            $0.edsClusterConfig = .with { $0.edsConfig = adsConfigSource }
        }
    }

    /// A STATIC cluster with one endpoint.
    static func staticCluster(_ name: String, port: UInt32) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = name
            $0.type = .static
            $0.connectTimeout = .init(seconds: 1)
            $0.loadAssignment = .with {
                $0.clusterName = name
                $0.endpoints = [.with { $0.lbEndpoints = [.with { $0.endpoint = .with { $0.address = address("127.0.0.1", port) } }] }]
            }
        }
    }

    static func endpoints(_ name: String, port: UInt32 = 8080) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        .with {
            $0.clusterName = name
            $0.endpoints = [.with { $0.lbEndpoints = [.with { $0.endpoint = .with { $0.address = address("127.0.0.1", port) } }] }]
        }
    }

    /// A listener whose HTTP connection manager takes routes `routeName` from RDS.
    static func listener(_ name: String, port: UInt32, routeName: String) throws -> Envoy_Config_Listener_V3_Listener {
        let router = Envoy_Extensions_Filters_Http_Router_V3_Router()
        let hcm = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.with {
            $0.statPrefix = name
            $0.rds = .with { $0.configSource = adsConfigSource; $0.routeConfigName = routeName }
            $0.httpFilters = [try .with { $0.name = "envoy.filters.http.router"; $0.typedConfig = try Google_Protobuf_Any(message: router) }]
        }
        return try .with {
            $0.name = name
            $0.address = address("127.0.0.1", port)
            $0.filterChains = [
                try .with { $0.filters = [try .with { $0.name = "envoy.filters.network.http_connection_manager"; $0.typedConfig = try Google_Protobuf_Any(message: hcm) }] }
            ]
        }
    }

    static func routes(_ name: String, cluster: String) -> Envoy_Config_Route_V3_RouteConfiguration {
        .with {
            $0.name = name
            $0.virtualHosts = [.with {
                $0.name = "all"
                $0.domains = ["*"]
                $0.routes = [.with {
                    $0.match = .with { $0.prefix = "/" }
                    $0.route = .with { $0.cluster = cluster }
                }]
            }]
        }
    }

    /// CDS c1 (EDS), EDS c1, LDS l1 -> RDS r1 -> c1.
    static func snapshot(_ version: String, endpointPort: UInt32 = 8080) throws -> Snapshot {
        try Snapshot(
            version: version,
            clusters: [edsCluster("c1")],
            endpoints: [endpoints("c1", port: endpointPort)],
            listeners: [listener("l1", port: 15001, routeName: "r1")],
            routes: [routes("r1", cluster: "c1")]
        )
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with ``TimeoutError`` after `seconds`.
func withTimeout<T: Sendable>(_ seconds: Double = 10, _ what: String = "operation", _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError(what: what)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

/// Polls `condition` every 20 ms until it holds, failing once `seconds` have passed AND the
/// condition was checked as many times as `seconds` allows at that pace. When the whole test run
/// keeps both cores busy, this task may not be scheduled for seconds at a time; wall-clock time
/// alone would then fail a wait that simply never got to look.
func eventually(_ seconds: Double = 10, _ what: String, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    let interval = Duration.milliseconds(20)
    let deadline = ContinuousClock.now + .seconds(seconds)
    let minimumPolls = Int(seconds * 50)
    var polls = 0
    while ContinuousClock.now < deadline || polls < minimumPolls {
        if try await condition() { return }
        polls += 1
        try await Task.sleep(for: interval)
    }
    throw TimeoutError(what: what)
}
