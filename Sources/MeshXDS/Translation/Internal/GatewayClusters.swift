import MeshCore

/// The extra clusters of a router proxy.
enum GatewayClusters {
    /// For AUTO_PASSTHROUGH servers: a copy of each outbound cluster (service port and subset)
    /// the server admits, named `outbound_.PORT_.SUBSET_.HOST` as the SNI clients send. EDS
    /// clusters keep their `outbound|...` service name, so their endpoints are shared.
    static func sniDNATClusters(scope: ProxyScope, builder: ClusterBuilder) -> [Envoy_Config_Cluster_V3_Cluster] {
        let gateways = GatewayScope(snapshot: scope.snapshot, proxy: scope.proxy, options: scope.options)
        let servers = gateways.listeners.flatMap(\.servers).filter { $0.kind == .autoPassthrough }
        guard !servers.isEmpty else { return [] }
        var out: [Envoy_Config_Cluster_V3_Cluster] = []
        for service in scope.services where servers.contains(where: { gateways.serverAdmits($0, host: service.hostname, namespace: service.namespace) }) {
            let instances = scope.snapshot.services.instances(of: service)
            let rule = scope.destinationRule(for: service)
            for port in service.ports {
                for var cluster in builder.outboundClusters(service: service, port: port, instances: instances, rule: rule) {
                    guard let parts = ClusterName.parse(cluster.name) else { continue }
                    cluster.name = ClusterName.sniDNAT(port: parts.port, subset: parts.subset, host: parts.host)
                    if cluster.hasLoadAssignment { cluster.loadAssignment.clusterName = cluster.name }
                    out.append(cluster)
                }
            }
        }
        return out
    }
}
