public import MeshCore

/// Locality-aware load balancing as Istio computes it for one proxy: endpoint priorities (failover)
/// or locality weights (distribute) relative to the proxy's own locality.
///
/// Failover only happens when the cluster has outlier detection: without it Envoy never sees an
/// endpoint fail and would never move to a lower priority. Since the mesh default enables locality
/// load balancing, any DestinationRule with `outlierDetection` gets locality failover.
public struct LocalityLoadBalancing: Sendable, Hashable {
    /// The effective setting: the DestinationRule's, else the mesh's.
    public var setting: LocalityLoadBalancerSetting
    /// The cluster has outlier detection.
    public var enableFailover: Bool
    /// The proxy's `region/zone/subzone`.
    public var proxyLocality: String
    /// The proxy's labels with its topology labels added (for `failoverPriority`).
    public var proxyLabels: [String: String]

    public init(setting: LocalityLoadBalancerSetting, enableFailover: Bool, proxyLocality: String, proxyLabels: [String: String]) {
        self.setting = setting
        self.enableFailover = enableFailover
        self.proxyLocality = proxyLocality
        self.proxyLabels = proxyLabels
    }

    /// Well-known topology labels Istio adds to proxies and endpoints.
    public enum TopologyLabel {
        public static let region = "topology.kubernetes.io/region"
        public static let zone = "topology.kubernetes.io/zone"
        public static let subzone = "topology.istio.io/subzone"
        public static let network = "topology.istio.io/network"
        /// Istio's internal locality override label, `region.zone.subzone`.
        public static let istioLocality = "istio-locality"
    }

    /// The setting in effect: the DestinationRule's `localityLbSetting` unless it disables locality
    /// load balancing, else the mesh's unless that is disabled; nil means no locality handling.
    public static func effectiveSetting(mesh: LocalityLoadBalancerSetting?, rule: LocalityLoadBalancerSetting?) -> LocalityLoadBalancerSetting? {
        if let rule { return rule.enabled == false ? nil : rule }
        if let mesh { return mesh.enabled == false ? nil : mesh }
        return nil
    }

    /// The proxy's locality as Istio takes it: topology labels first, then the `istio-locality`
    /// label, then the node's locality.
    public static func proxyLocality(_ proxy: ProxyView) -> String {
        let labels = proxy.labels
        let region = labels[TopologyLabel.region], zone = labels[TopologyLabel.zone], subzone = labels[TopologyLabel.subzone]
        if region != nil || zone != nil || subzone != nil {
            return trimmed([region ?? "", zone ?? "", subzone ?? ""])
        }
        if let label = labels[TopologyLabel.istioLocality], !label.isEmpty {
            return String(label.map { $0 == "." ? "/" : $0 })
        }
        return proxy.locality
    }

    /// `labels` with the topology labels of `locality` and `network` set.
    public static func augment(_ labels: [String: String], locality: String, network: String) -> [String: String] {
        var out = labels
        let parts = split(locality)
        if !parts.region.isEmpty { out[TopologyLabel.region] = parts.region }
        if !parts.zone.isEmpty { out[TopologyLabel.zone] = parts.zone }
        if !parts.subzone.isEmpty { out[TopologyLabel.subzone] = parts.subzone }
        if !network.isEmpty { out[TopologyLabel.network] = network }
        return out
    }

    /// The view of `proxy` for a cluster whose effective policy has `loadBalancer` and `outlierDetection`.
    public static func make(
        proxy: ProxyView, mesh: LocalityLoadBalancerSetting?, loadBalancer: DestinationRule.LoadBalancerSettings?,
        outlierDetection: Bool
    ) -> LocalityLoadBalancing? {
        guard let setting = effectiveSetting(mesh: mesh, rule: loadBalancer?.localityLbSetting) else { return nil }
        let locality = proxyLocality(proxy)
        return LocalityLoadBalancing(
            setting: setting, enableFailover: outlierDetection, proxyLocality: locality,
            proxyLabels: augment(proxy.labels, locality: locality, network: proxy.labels[TopologyLabel.network] ?? ""))
    }

    /// True when the cluster needs `locality_weighted_lb_config`: distribute weights, or explicit
    /// failover with outlier detection.
    public var usesLocalityWeights: Bool {
        setting.distribute?.isEmpty == false
            || (enableFailover && ((setting.failover?.isEmpty == false) || (setting.failoverPriority?.isEmpty == false)))
    }

    /// Applies distribute weights or failover priorities to `assignment`.
    /// - Parameters:
    ///   - assignment: the load assignment, one `LocalityLbEndpoints` per locality.
    ///   - instances: the instances behind each `LocalityLbEndpoints`, in the same order (used by `failoverPriority`).
    public func apply(to assignment: inout Envoy_Config_Endpoint_V3_ClusterLoadAssignment, instances: [[WorkloadInstance]]) {
        if let distribute = setting.distribute, !distribute.isEmpty {
            applyWeights(distribute, to: &assignment)
        } else if enableFailover {
            if let priorities = setting.failoverPriority, !priorities.isEmpty {
                applyFailoverPriorities(priorities, to: &assignment, instances: instances)
                if let failover = setting.failover, !failover.isEmpty { applyFailover(failover, to: &assignment) }
            } else {
                applyFailover(setting.failover ?? [], to: &assignment)
            }
        }
    }

    // MARK: Distribute

    private func applyWeights(_ distribute: [LocalityLoadBalancerSetting.Distribute], to assignment: inout Envoy_Config_Endpoint_V3_ClusterLoadAssignment) {
        guard let rule = distribute.first(where: { Self.matches(proxyLocality, rule: $0.from ?? "") }) else { return }
        var unmatched = Set(assignment.endpoints.indices)
        // Sorted so that overlapping wildcards resolve the same way on every push.
        for (target, weight) in (rule.to ?? [:]).sorted(by: { $0.key < $1.key }) {
            var original: [Int: UInt32] = [:]
            var total: UInt32 = 0
            for i in assignment.endpoints.indices where unmatched.contains(i) {
                let group = assignment.endpoints[i]
                guard Self.matches(Self.string(group.locality), rule: target) else { continue }
                unmatched.remove(i)
                let w = group.hasLoadBalancingWeight ? group.loadBalancingWeight.value : 1
                original[i] = w
                total += w
            }
            for (i, w) in original {
                let share = Double(w) * Double(weight) / Double(total)
                if share > 0 { assignment.endpoints[i].loadBalancingWeight = .init(UInt32(share.rounded(.up))) }
            }
        }
        // Localities the rule does not send to keep no endpoints.
        for i in unmatched { assignment.endpoints[i].lbEndpoints = [] }
    }

    // MARK: Failover

    private func applyFailover(_ failover: [LocalityLoadBalancerSetting.Failover], to assignment: inout Envoy_Config_Endpoint_V3_ClusterLoadAssignment) {
        let proxy = Self.split(proxyLocality)
        var raw: [Int] = []
        for group in assignment.endpoints {
            let endpoint = Self.split(Self.string(group.locality))
            var priority = Self.priority(proxy: proxy, endpoint: endpoint)
            if priority == 3, let rule = failover.first(where: { $0.from == proxy.region }), endpoint.region != rule.to {
                priority = 4
            }
            // Up to five locality priorities nest inside any failoverPriority level already assigned.
            raw.append(Int(group.priority) * 5 + priority)
        }
        let ranks = Self.ranks(raw)
        for i in assignment.endpoints.indices { assignment.endpoints[i].priority = UInt32(ranks[raw[i]]!) }
    }

    private func applyFailoverPriorities(
        _ priorities: [String], to assignment: inout Envoy_Config_Endpoint_V3_ClusterLoadAssignment, instances: [[WorkloadInstance]]
    ) {
        guard !proxyLabels.isEmpty, instances.count == assignment.endpoints.count else { return }
        // `key=value` entries compare endpoints to the value instead of the proxy's label.
        let keys = priorities.map { String($0.split(separator: "=", maxSplits: 1)[0]) }
        var overrides: [String: String] = [:]
        for entry in priorities {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { overrides[parts[0]] = parts[1] }
        }
        let includesNetwork = keys.first == TopologyLabel.network
        var split: [Envoy_Config_Endpoint_V3_LocalityLbEndpoints] = []
        for (group, members) in zip(assignment.endpoints, instances) {
            var byPriority: [Int: [Int]] = [:]
            for (j, instance) in members.enumerated() {
                let labels = Self.augment(instance.labels, locality: instance.locality, network: instance.network)
                var priority = 0
                var adjust = 0
                for (k, key) in keys.enumerated() where (overrides[key] ?? proxyLabels[key]) != labels[key] {
                    if k == 0 && includesNetwork {
                        // Another network is the last resort, below every other mismatch.
                        adjust = keys.count
                        continue
                    }
                    priority = keys.count - k
                    break
                }
                byPriority[priority + adjust, default: []].append(j)
            }
            for priority in byPriority.keys.sorted() {
                var part = group
                part.lbEndpoints = byPriority[priority]!.map { group.lbEndpoints[$0] }
                part.priority = UInt32(priority)
                part.loadBalancingWeight = .init(part.lbEndpoints.reduce(0) { $0 + $1.loadBalancingWeight.value })
                split.append(part)
            }
        }
        let ranks = Self.ranks(split.map { Int($0.priority) })
        for i in split.indices { split[i].priority = UInt32(ranks[Int(split[i].priority)]!) }
        assignment.endpoints = split
    }

    // MARK: Helpers

    /// Maps each distinct value to its rank (0 for the smallest), so priorities have no gaps.
    private static func ranks(_ values: [Int]) -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: Set(values).sorted().enumerated().map { ($1, $0) })
    }

    /// Istio's `LbPriority`: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere.
    static func priority(proxy: (region: String, zone: String, subzone: String), endpoint: (region: String, zone: String, subzone: String)) -> Int {
        guard proxy.region == endpoint.region else { return 3 }
        guard proxy.zone == endpoint.zone else { return 2 }
        return proxy.subzone == endpoint.subzone ? 0 : 1
    }

    /// Istio's `LocalityMatch`: `*` matches anything, a missing zone or subzone matches any.
    static func matches(_ locality: String, rule: String) -> Bool {
        let l = split(locality), r = split(rule)
        return (r.region == "*" || r.region == l.region)
            && (r.zone == "*" || r.zone.isEmpty || r.zone == l.zone)
            && (r.subzone == "*" || r.subzone.isEmpty || r.subzone == l.subzone)
    }

    static func split(_ locality: String) -> (region: String, zone: String, subzone: String) {
        let parts = locality.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "", parts.count > 2 ? parts[2] : "")
    }

    static func string(_ locality: Envoy_Config_Core_V3_Locality) -> String {
        trimmed([locality.region, locality.zone, locality.subZone])
    }

    private static func trimmed(_ parts: [String]) -> String {
        var parts = parts
        while let last = parts.last, last.isEmpty, parts.count > 1 { parts.removeLast() }
        return parts.joined(separator: "/")
    }
}
