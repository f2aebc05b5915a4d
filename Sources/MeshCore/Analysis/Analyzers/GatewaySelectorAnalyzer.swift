/// The selector check of Istio's `gateway.IngressGatewayPortAnalyzer`: a Gateway whose
/// `selector` matches no known workload in any namespace (IST0101 `selector`).
///
/// Silent when no workloads are known at all, so plain Istio config analyzes clean.
public struct GatewaySelectorAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "gateway.IngressGatewayPortAnalyzer" }

    public var reports: [AnalysisMessageType] { [.referencedResourceNotFound] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let workloads = Support.namedWorkloads(context)
        guard !workloads.isEmpty else { return [] }
        return context.resources(Gateway.self).sorted(by: { $0.key < $1.key }).compactMap { gateway in
            let selector = gateway.spec.selector ?? [:]
            guard !workloads.contains(where: { Support.matches(selector, $0.labels) }) else { return nil }
            return AnalysisMessage(
                .referencedResourceNotFound, resource: gateway.key, location: gateway.source, path: "spec.selector",
                message: "Referenced selector not found: \(Support.quoted(Support.selectorText(selector)))")
        }
    }
}
