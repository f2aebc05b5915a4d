/// Istio's `sidecar.SelectorAnalyzer`: Sidecar workload selectors that match nothing (IST0101),
/// several Sidecars selecting one workload (IST0110) and several selector-less Sidecars in a
/// namespace (IST0111).
///
/// Selectors are matched against the known workloads of the Sidecar's namespace; a namespace
/// with no known workloads is not checked for IST0101.
public struct SidecarSelectorAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "sidecar.SelectorAnalyzer" }

    public var reports: [AnalysisMessageType] {
        [.referencedResourceNotFound, .conflictingSidecarWorkloadSelectors, .multipleSidecarsWithoutWorkloadSelectors]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let workloads = Support.namedWorkloads(context)
        let workloadsByNamespace = Dictionary(grouping: workloads.indices, by: { workloads[$0].namespace })
        var messages: [AnalysisMessage] = []
        var sidecarsByWorkload: [Int: [Resource<Sidecar>]] = [:]
        var namespaceWide: [String: [Resource<Sidecar>]] = [:]

        for sidecar in context.resources(Sidecar.self).sorted(by: { $0.key < $1.key }) {
            let ns = sidecar.meta.namespace
            let selector = sidecar.spec.workloadSelector?.labels ?? [:]
            if selector.isEmpty {
                namespaceWide[ns, default: []].append(sidecar)
                continue
            }
            guard let candidates = workloadsByNamespace[ns] else { continue }
            let selected = candidates.filter { Support.matches(selector, workloads[$0].labels) }
            if selected.isEmpty {
                messages.append(AnalysisMessage(
                    .referencedResourceNotFound, resource: sidecar.key, location: sidecar.source,
                    path: "spec.workloadSelector.labels",
                    message: "Referenced selector not found: \(Support.quoted(Support.selectorText(selector)))"))
            }
            for index in selected { sidecarsByWorkload[index, default: []].append(sidecar) }
        }

        for index in sidecarsByWorkload.keys.sorted() {
            let sidecars = sidecarsByWorkload[index]!
            guard sidecars.count > 1 else { continue }
            let workload = workloads[index]
            let names = Support.list(sidecars.map(\.meta.name).sorted())
            for sidecar in sidecars {
                messages.append(AnalysisMessage(
                    .conflictingSidecarWorkloadSelectors, resource: sidecar.key, location: sidecar.source,
                    path: "metadata.name",
                    message: "The Sidecars \(names) in namespace \(Support.quoted(workload.namespace)) select the same workload pod \(Support.quoted(workload.name)), which can lead to undefined behavior."))
            }
        }

        for ns in namespaceWide.keys.sorted() {
            let sidecars = namespaceWide[ns]!
            guard sidecars.count > 1 else { continue }
            let names = Support.list(sidecars.map(\.meta.name).sorted())
            for sidecar in sidecars {
                messages.append(AnalysisMessage(
                    .multipleSidecarsWithoutWorkloadSelectors, resource: sidecar.key, location: sidecar.source,
                    message: "The Sidecars \(names) in namespace \(Support.quoted(ns)) have no workload selector, which can lead to undefined behavior."))
            }
        }
        return messages
    }
}
