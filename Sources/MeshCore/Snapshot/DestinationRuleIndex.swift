/// DestinationRules after Istio's merging, looked up with Istio's namespace precedence.
public struct DestinationRuleIndex: Sendable {
    /// DestinationRules for one host in one namespace, merged: the first rule's traffic policy
    /// wins, subsets of later rules are added unless their names are taken.
    public struct Merged: Sendable, Hashable {
        /// The host, resolved to a full name.
        public var host: String
        public var namespace: String
        public var trafficPolicy: DestinationRule.TrafficPolicy?
        public var subsets: [DestinationRule.Subset]
        public var exportTo: ExportScope
        /// Workload labels the rule is limited to (from `workloadSelector`), if any.
        public var workloadLabels: [String: String]?
        /// The rules merged into this one, in precedence order.
        public var sources: [ResourceKey]

        /// The subset called `name`.
        public func subset(_ name: String) -> DestinationRule.Subset? { subsets.first { $0.name == name } }
    }

    private let byNamespace: [String: [Merged]]
    private let rootNamespace: String

    /// - Parameters:
    ///   - rules: every DestinationRule.
    ///   - rootNamespace: the mesh root namespace, whose exported rules apply everywhere.
    ///   - domainSuffix: used to resolve short host names.
    ///   - defaultExportTo: MeshConfig's `defaultDestinationRuleExportTo`.
    public init(_ rules: [Resource<DestinationRule>], rootNamespace: String, domainSuffix: String = "cluster.local", defaultExportTo: [String]? = nil) {
        self.rootNamespace = rootNamespace
        var merged: [String: [Merged]] = [:]
        for rule in rules.sorted(by: { $0.key < $1.key }) {
            let ns = rule.meta.namespace
            let host = HostName.resolve(rule.spec.host ?? "", namespace: ns, domainSuffix: domainSuffix)
            let labels = rule.spec.workloadSelector?.matchLabels
            let scope = ExportScope(exportTo: rule.spec.exportTo, defaults: defaultExportTo)
            if let i = merged[ns]?.firstIndex(where: { $0.host == host && $0.workloadLabels == labels && $0.exportTo == scope }) {
                var existing = merged[ns]![i]
                if existing.trafficPolicy == nil { existing.trafficPolicy = rule.spec.trafficPolicy }
                for subset in rule.spec.subsets ?? [] where existing.subset(subset.name ?? "") == nil {
                    existing.subsets.append(subset)
                }
                existing.sources.append(rule.key)
                merged[ns]![i] = existing
            } else {
                merged[ns, default: []].append(Merged(
                    host: host, namespace: ns, trafficPolicy: rule.spec.trafficPolicy, subsets: rule.spec.subsets ?? [],
                    exportTo: scope, workloadLabels: labels, sources: [rule.key]))
            }
        }
        byNamespace = merged
    }

    /// Every merged rule, by namespace then host.
    public var all: [Merged] {
        byNamespace.keys.sorted().flatMap { ns in byNamespace[ns]!.sorted { $0.host < $1.host } }
    }

    /// The rule that applies to traffic from `workload` to `host` (a service in `serviceNamespace`).
    ///
    /// Istio's order: rules in the workload's own namespace (those with a matching `workloadSelector`
    /// first), then rules the service's namespace exports to it, then the root namespace's.
    /// Within a namespace the most specific host wins: exact, then the longest wildcard.
    public func rule(for host: String, serviceNamespace: String, from workload: WorkloadContext) -> Merged? {
        let local = candidates(in: workload.namespace, host: host, workload: workload, requireExport: false)
        if let best = local.first { return best }
        for ns in [serviceNamespace, rootNamespace] where ns != workload.namespace {
            if let best = candidates(in: ns, host: host, workload: nil, requireExport: true, viewer: workload.namespace).first {
                return best
            }
        }
        return nil
    }

    private func candidates(in namespace: String, host: String, workload: WorkloadContext?, requireExport: Bool, viewer: String? = nil) -> [Merged] {
        let rules = (byNamespace[namespace] ?? []).filter { rule in
            guard HostName.matches(host, rule.host) else { return false }
            if let labels = rule.workloadLabels {
                guard let workload, labels.allSatisfy({ workload.labels[$0.key] == $0.value }) else { return false }
            }
            if requireExport, let viewer { return rule.exportTo.isVisible(from: viewer, owner: namespace) }
            return true
        }
        return rules.sorted { a, b in
            // Selector-scoped rules first, then exact hosts, then longer (more specific) wildcards.
            let sa = a.workloadLabels != nil, sb = b.workloadLabels != nil
            if sa != sb { return sa }
            let ea = !HostName.isWildcard(a.host), eb = !HostName.isWildcard(b.host)
            if ea != eb { return ea }
            return a.host.count > b.host.count
        }
    }
}
