/// Istio's `telemetry.SelectorAnalyzer` and `telemetry.DefaultSelectorAnalyzer`: a Telemetry
/// selector that matches no known workload in its namespace (IST0101 `selector`), several
/// Telemetries selecting one workload (IST0159) and several selector-less Telemetries in a
/// namespace (IST0160).
///
/// Namespaces with no known workloads are not checked for IST0101. Telemetries that attach by
/// `targetRefs` are not counted as selector-less.
public struct TelemetrySelectorAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "telemetry.SelectorAnalyzer" }

    public var reports: [AnalysisMessageType] {
        [.referencedResourceNotFound, .conflictingTelemetryWorkloadSelectors, .multipleTelemetriesWithoutWorkloadSelectors]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let workloads = Support.namedWorkloads(context)
        let workloadsByNamespace = Dictionary(grouping: workloads.indices, by: { workloads[$0].namespace })
        var messages: [AnalysisMessage] = []
        var telemetriesByWorkload: [Int: [Resource<Telemetry>]] = [:]
        var namespaceWide: [String: [Resource<Telemetry>]] = [:]

        for telemetry in context.resources(Telemetry.self).sorted(by: { $0.key < $1.key }) {
            let ns = telemetry.meta.namespace
            if telemetry.spec.selector == nil {
                if telemetry.spec.targetReferences.isEmpty { namespaceWide[ns, default: []].append(telemetry) }
                continue
            }
            let selector = telemetry.spec.selector?.matchLabels ?? [:]
            guard !selector.isEmpty, let candidates = workloadsByNamespace[ns] else { continue }
            let selected = candidates.filter { Support.matches(selector, workloads[$0].labels) }
            if selected.isEmpty {
                messages.append(AnalysisMessage(
                    .referencedResourceNotFound, resource: telemetry.key, location: telemetry.source,
                    path: "spec.selector.matchLabels",
                    message: "Referenced selector not found: \(Support.quoted(Support.selectorText(selector)))"))
            }
            for index in selected { telemetriesByWorkload[index, default: []].append(telemetry) }
        }

        for index in telemetriesByWorkload.keys.sorted() {
            let telemetries = telemetriesByWorkload[index]!
            guard telemetries.count > 1 else { continue }
            let workload = workloads[index]
            let names = Support.list(telemetries.map(\.meta.name).sorted())
            for telemetry in telemetries {
                messages.append(AnalysisMessage(
                    .conflictingTelemetryWorkloadSelectors, resource: telemetry.key, location: telemetry.source,
                    path: "metadata.name",
                    message: "The Telemetries \(names) in namespace \(Support.quoted(workload.namespace)) select the same workload pod \(Support.quoted(workload.name)), which can lead to undefined behavior."))
            }
        }

        for ns in namespaceWide.keys.sorted() {
            let telemetries = namespaceWide[ns]!
            guard telemetries.count > 1 else { continue }
            let names = Support.list(telemetries.map(\.meta.name).sorted())
            for telemetry in telemetries {
                messages.append(AnalysisMessage(
                    .multipleTelemetriesWithoutWorkloadSelectors, resource: telemetry.key, location: telemetry.source,
                    message: "The Telemetries \(names) in namespace \(Support.quoted(ns)) have no workload selector, which can lead to undefined behavior."))
            }
        }
        return messages
    }
}
