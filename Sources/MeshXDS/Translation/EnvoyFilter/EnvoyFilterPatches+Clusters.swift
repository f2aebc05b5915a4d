import MeshCore
import SwiftProtobuf

extension EnvoyFilterPatches {
    typealias Cluster = Envoy_Config_Cluster_V3_Cluster

    /// Applies the CLUSTER patches (MERGE, REMOVE) and appends added clusters.
    ///
    /// Inbound clusters (`inbound|…`, `InboundPassthroughCluster`) are in the SIDECAR_INBOUND context,
    /// the others in SIDECAR_OUTBOUND, everything on a gateway in GATEWAY. An ADD whose context is
    /// ANY adds only in the outbound (or gateway) context, as in Istio.
    /// - Parameter clusters: the generated clusters.
    /// - Returns: the patched clusters, without removed ones, then added ones.
    public func patchClusters(_ clusters: [Envoy_Config_Cluster_V3_Cluster]) -> [Envoy_Config_Cluster_V3_Cluster] {
        let clusterPatches = patches(.CLUSTER)
        guard !clusterPatches.isEmpty else { return clusters }
        var out: [Cluster] = []
        for cluster in clusters {
            var cluster = cluster
            let context: EnvoyFilter.PatchContext = isGateway ? .GATEWAY
                : cluster.name.hasPrefix("inbound|") || cluster.name == ClusterName.inboundPassthrough ? .SIDECAR_INBOUND : .SIDECAR_OUTBOUND
            var removed = false
            for patch in clusterPatches where patch.applies(in: context) && Self.clusterMatches(cluster, patch) {
                if patch.operation == .REMOVE { removed = true; break }
                guard patch.operation == .MERGE else { continue }
                let value = patch.value(as: Cluster.self)
                if !Self.mergeTransportSocket(value, into: &cluster) { try? ProtoMerge.merge(value, into: &cluster) }
            }
            if !removed { out.append(cluster) }
        }
        for context in isGateway ? [EnvoyFilter.PatchContext.GATEWAY] : [.SIDECAR_OUTBOUND, .SIDECAR_INBOUND] {
            for patch in clusterPatches where patch.operation == .ADD && patch.applies(in: context) {
                if patch.context == .ANY && context == .SIDECAR_INBOUND { continue }
                out.append(patch.value(as: Cluster.self))
            }
        }
        return out
    }

    /// Istio's `clusterMatch`: the full name, or the port, subset and service host of `direction|port|subset|host`.
    static func clusterMatches(_ cluster: Cluster, _ patch: Patch) -> Bool {
        guard let match = patch.match.cluster else { return true }
        if let name = match.name, !name.isEmpty { return name == cluster.name }
        let parts = ClusterName.parse(cluster.name)
        if let subset = match.subset, !subset.isEmpty, subset != parts?.subset { return false }
        if let service = match.service, !service.isEmpty, service != parts?.host { return false }
        if let port = match.portNumber, port != 0, port != parts?.port { return false }
        return true
    }

    /// Istio's `mergeTransportSocketCluster`: a patch with a transport socket merges its typed config
    /// into the cluster's socket of the same name (in `transport_socket_matches` if it has them), or
    /// replaces a socket of another name; true when it handled the patch (the rest of it is not merged).
    private static func mergeTransportSocket(_ value: Cluster, into cluster: inout Cluster) -> Bool {
        guard value.hasTransportSocket else { return false }
        let socket = value.transportSocket
        func merged(_ destination: Envoy_Config_Core_V3_TransportSocket) -> Envoy_Config_Core_V3_TransportSocket {
            var result = destination
            if case .typedConfig(let target)? = destination.configType, case .typedConfig(let source)? = socket.configType,
               let any = try? ProtoMerge.mergeAny(source, into: target) {
                result.typedConfig = any
            }
            return result
        }
        if !cluster.transportSocketMatches.isEmpty {
            // Merging would leave both transport_socket and transport_socket_matches, which Envoy rejects: drop the patch.
            guard let i = cluster.transportSocketMatches.firstIndex(where: { $0.hasTransportSocket && $0.transportSocket.name == socket.name }) else { return true }
            cluster.transportSocketMatches[i].transportSocket = merged(cluster.transportSocketMatches[i].transportSocket)
        } else if cluster.hasTransportSocket && cluster.transportSocket.name == socket.name {
            cluster.transportSocket = merged(cluster.transportSocket)
        } else {
            cluster.transportSocket = socket
        }
        return true
    }
}
