/// Helpers shared by the policy analyzers: named workloads, selector text and Go-style formatting.
enum PolicyAnalysisSupport {
    /// A known workload with the name `istioctl analyze` would print for it.
    struct NamedWorkload: Sendable, Hashable {
        var name: String
        var namespace: String
        var labels: [String: String]
    }

    /// Every known workload, in the order ``AnalysisContext/workloads`` lists them: Kubernetes
    /// workloads, WorkloadEntries, then ServiceEntry endpoints that carry labels.
    static func namedWorkloads(_ context: AnalysisContext) -> [NamedWorkload] {
        var out = context.platform.workloads.map { NamedWorkload(name: $0.name, namespace: $0.namespace, labels: $0.labels) }
        for entry in context.resources(WorkloadEntry.self) {
            out.append(NamedWorkload(name: entry.meta.name, namespace: entry.meta.namespace, labels: entry.spec.labels ?? [:]))
        }
        for se in context.resources(ServiceEntry.self) {
            for (i, endpoint) in (se.spec.endpoints ?? []).enumerated() where !(endpoint.labels ?? [:]).isEmpty {
                out.append(NamedWorkload(name: "\(se.meta.name)-\(i)", namespace: se.meta.namespace, labels: endpoint.labels ?? [:]))
            }
        }
        return out
    }

    /// True when `labels` carry every key and value of `selector` (an empty selector matches everything).
    static func matches(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// A label selector as Kubernetes prints it: `key=value` pairs sorted by key, joined by commas.
    static func selectorText(_ selector: [String: String]) -> String {
        selector.keys.sorted().map { "\($0)=\(selector[$0]!)" }.joined(separator: ",")
    }

    /// Go's `%q` of a string.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(ch)
            }
        }
        return out + "\""
    }

    /// Go's `%v` of a string slice: `[a b]`.
    static func list(_ items: [String]) -> String {
        "[" + items.joined(separator: " ") + "]"
    }

    /// Every namespace named by an analyzed resource or a platform object.
    static func knownNamespaces(_ context: AnalysisContext) -> Set<String> {
        var namespaces = Set(context.resources.map(\.meta.namespace))
        namespaces.formUnion(context.platform.services.map(\.namespace))
        namespaces.formUnion(context.platform.workloads.map(\.namespace))
        namespaces.formUnion(context.platform.namespaces)
        return namespaces
    }
}

extension PolicyAnalysisSupport {
    /// IST0127 for each policy whose workload selector matches no known workload.
    ///
    /// A policy in the root namespace may select workloads anywhere; others only in their own
    /// namespace. Policies without selector labels, and scopes with no known workloads, are skipped.
    static func unmatchedSelectors<P: WorkloadPolicy>(_ policies: [Resource<P>], workloads: [NamedWorkload], rootNamespace: String) -> [AnalysisMessage] {
        policies.sorted(by: { $0.key < $1.key }).compactMap { policy in
            guard let selector = policy.spec.selectorLabels, !selector.isEmpty else { return nil }
            let meshWide = policy.meta.namespace == rootNamespace
            let scope = workloads.filter { meshWide || $0.namespace == policy.meta.namespace }
            guard !scope.isEmpty, !scope.contains(where: { matches(selector, $0.labels) }) else { return nil }
            return AnalysisMessage(
                .noMatchingWorkloadsFound, resource: policy.key, location: policy.source, path: "spec.selector.matchLabels",
                message: "No matching workloads for this resource with the following labels: \(selectorText(selector))")
        }
    }
}
