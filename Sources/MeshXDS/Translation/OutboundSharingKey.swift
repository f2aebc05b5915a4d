public import MeshCore

/// What a sidecar's outbound clusters, endpoints and routes depend on besides the mesh snapshot
/// and the translation options.
///
/// Proxies with equal keys get identical shared resources (``GenerationRequest/Part/shared``), so
/// a producer generates and serializes them once per key instead of once per proxy: in a mesh
/// where a namespace's workloads share their Sidecar, that is once per namespace. Per-instance
/// facts (address, name, service account) are never part of it; the workload's labels are, only
/// when some configuration selects outbound behaviour by labels (a DestinationRule
/// `workloadSelector` or a VirtualService match on `sourceLabels`).
public struct OutboundSharingKey: Sendable, Hashable {
    public var namespace: String
    public var dnsDomain: String
    public var interceptionMode: ProxyView.InterceptionMode
    public var clusterID: String?
    public var istioVersion: String?
    public var locality: String
    /// The Sidecar resource that applies to the workload, if any.
    public var sidecar: ResourceKey?
    /// The workload's labels when the mesh has label-selected outbound configuration, else nil.
    public var labels: [String: String]?
    /// The locality endpoints are prioritised against: topology labels, else the node's
    /// (``LocalityLoadBalancing/proxyLocality(_:)``).
    public var effectiveLocality: String = ""
    /// All the proxy's addresses are IPv6 (DNS clusters then resolve IPv6 only).
    public var ipv6Only: Bool = false
}

/// Decides, once per snapshot, how proxies' outbound resources can be shared.
///
/// ```swift
/// let sharing = OutboundSharing(snapshot: snapshot)
/// if let key = sharing.key(for: proxy) { /* reuse the shared part generated for `key` */ }
/// ```
public struct OutboundSharing: Sendable {
    private let snapshot: MeshSnapshot
    /// Whether some configuration makes outbound translation depend on workload labels.
    public let labelSensitive: Bool
    /// Whether proxies can share at all (EnvoyFilters patch per workload, so they turn it off).
    public let enabled: Bool

    public init(snapshot: MeshSnapshot) {
        self.snapshot = snapshot
        enabled = snapshot.envoyFilters.all.isEmpty
        let selectedRules = snapshot.destinationRules.all.contains { $0.workloadLabels != nil }
        let sourceLabelMatches = snapshot.virtualServices.all.contains { vs in
            (vs.spec.http ?? []).contains { ($0.match ?? []).contains { $0.sourceLabels != nil } }
                || (vs.spec.tcp ?? []).contains { ($0.match ?? []).contains { $0.sourceLabels != nil } }
                || (vs.spec.tls ?? []).contains { ($0.match ?? []).contains { $0.sourceLabels != nil } }
        }
        // failoverPriority compares endpoint labels with the proxy's.
        let failoverPriority = snapshot.destinationRules.all.contains { rule in
            ([rule.trafficPolicy] + rule.subsets.map(\.trafficPolicy)).contains { policy in
                policy?.loadBalancer?.localityLbSetting?.failoverPriority?.isEmpty == false
                    || (policy?.portLevelSettings ?? []).contains { $0.loadBalancer?.localityLbSetting?.failoverPriority?.isEmpty == false }
            }
        }
        labelSensitive = selectedRules || sourceLabelMatches || failoverPriority
    }

    /// The proxy's key, or nil when its resources must be generated whole (gateways, and
    /// meshes with EnvoyFilters).
    public func key(for proxy: ProxyView) -> OutboundSharingKey? {
        guard enabled, proxy.type == .sidecar else { return nil }
        var key = OutboundSharingKey(
            namespace: proxy.namespace, dnsDomain: proxy.dnsDomain, interceptionMode: proxy.interceptionMode,
            clusterID: proxy.clusterID, istioVersion: proxy.istioVersion, locality: proxy.locality,
            sidecar: snapshot.sidecars.sidecar(for: proxy.workload)?.key,
            labels: labelSensitive ? proxy.labels : nil)
        key.effectiveLocality = LocalityLoadBalancing.proxyLocality(proxy)
        key.ipv6Only = ClusterBuilder.dnsLookupFamily(proxy.ipAddresses) == .v6Only
        return key
    }
}
