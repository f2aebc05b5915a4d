import MeshXDS
import NIOConcurrencyHelpers

/// The proxy's live routing state: route tables by name (RDS) and clusters by name (CDS + EDS).
/// Immutable; a new value replaces the old one on every accepted update.
struct ProxyState: Sendable {
    var routeTables: [String: RouteTable] = [:]
    var clusters: [String: ClusterRuntime] = [:]
}

/// Holds the current ``ProxyState``; read on every request, replaced on updates.
final class ProxyStateStore: Sendable {
    private let box = NIOLockedValueBox(ProxyState())
    /// The TLS secrets listeners and clusters use (SDS over ADS and the embedder's provider).
    let secrets = SecretStore()
    /// The proxy's own node and workload, as Istio's telemetry filters report and exchange it.
    let local: LocalWorkload

    init(node: Envoy_Config_Core_V3_Node = .init()) {
        local = LocalWorkload(node: node)
    }

    var current: ProxyState { box.withLockedValue { $0 } }

    /// The route table `name` of the current state (looked up under the lock, without copying the state).
    func routeTable(named name: String) -> RouteTable? { box.withLockedValue { $0.routeTables[name] } }

    /// The cluster `name` of the current state (looked up under the lock, without copying the state).
    func cluster(named name: String) -> ClusterRuntime? { box.withLockedValue { $0.clusters[name] } }

    func update(_ change: (inout ProxyState) -> Void) {
        box.withLockedValue { change(&$0) }
    }
}
