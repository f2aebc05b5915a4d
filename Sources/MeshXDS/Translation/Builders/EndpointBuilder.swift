public import MeshCore
import SwiftProtobuf

/// Builds `ClusterLoadAssignment`s from workload instances: one locality group per
/// `region/zone/subzone`, endpoint weights from the instances.
public struct EndpointBuilder: Sendable {
    public init() {}

    /// The endpoints of one service port, optionally limited to a subset's labels.
    /// - Parameters:
    ///   - clusterName: the cluster the assignment is for.
    ///   - port: the service port; endpoints use the instance's port for it.
    ///   - instances: the service's instances.
    ///   - subsetLabels: labels an instance must carry, or nil for all instances.
    ///   - limit: at most this many endpoints (LOGICAL_DNS takes one).
    ///   - locality: the locality load balancing of the proxy the assignment is for, if any: it sets
    ///     priorities (failover) or locality weights (distribute).
    public func loadAssignment(
        clusterName: String, port: ServicePortInfo, instances: [WorkloadInstance],
        subsetLabels: [String: String]? = nil, limit: Int? = nil, locality: LocalityLoadBalancing? = nil
    ) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var selected = instances
            .filter { instance in (subsetLabels ?? [:]).allSatisfy { instance.labels[$0.key] == $0.value } }
            .sorted { ($0.locality, $0.address, $0.name) < ($1.locality, $1.address, $1.name) }
        if let limit { selected = Array(selected.prefix(limit)) }
        let byLocality = Dictionary(grouping: selected, by: \.locality)
        let groups = byLocality.keys.sorted().map { byLocality[$0]! }
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment.with {
            $0.clusterName = clusterName
            $0.endpoints = groups.map { group in
                .with {
                    if !group[0].locality.isEmpty { $0.locality = Self.locality(group[0].locality) }
                    $0.lbEndpoints = group.map { instance in
                        .with {
                            let endpointPort = instance.endpointPorts[port.port] ?? port.targetPort ?? port.port
                            $0.endpoint = .with { $0.address = Proto.address(instance.address, port: endpointPort) }
                            $0.healthStatus = .healthy
                            $0.loadBalancingWeight = .init(max(instance.weight, 1))
                            var metadata = TLSContexts.endpointMetadata(instance) ?? .init()
                            metadata.filterMetadata["istio"] = Google_Protobuf_Struct(fields: [
                                "workload": .init(stringValue: IstioTelemetryBuilder.workloadMetadataValue(instance, clusterID: Self.clusterID)),
                            ])
                            $0.metadata = metadata
                        }
                    }
                    $0.loadBalancingWeight = .init(group.reduce(0) { $0 + max($1.weight, 1) })
                }
            }
        }
        locality?.apply(to: &assignment, instances: groups)
        return assignment
    }

    /// A single static endpoint (inbound clusters to `defaultEndpoint`).
    /// - Parameters:
    ///   - clusterName: the cluster the assignment is for.
    ///   - host: an IP address or `unix://` path.
    ///   - port: the port (ignored for `unix://`).
    public func staticAssignment(clusterName: String, host: String, port: UInt32) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        .with {
            $0.clusterName = clusterName
            $0.endpoints = [.with {
                $0.lbEndpoints = [.with { $0.endpoint = .with { $0.address = Proto.address(host, port: port) } }]
            }]
        }
    }

    /// The cluster endpoints are reported in (`destination_cluster`): a single-cluster mesh's
    /// `Kubernetes`, the agent's default `CLUSTER_ID`.
    static let clusterID = "Kubernetes"

    static func locality(_ text: String) -> Envoy_Config_Core_V3_Locality {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        return .with {
            $0.region = parts[0]
            if parts.count > 1 { $0.zone = parts[1] }
            if parts.count > 2 { $0.subZone = parts[2] }
        }
    }
}
