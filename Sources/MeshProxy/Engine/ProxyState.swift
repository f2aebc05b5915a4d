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

    var current: ProxyState { box.withLockedValue { $0 } }

    func update(_ change: (inout ProxyState) -> Void) {
        box.withLockedValue { change(&$0) }
    }
}
