/// The AuthorizationPolicy selector check applied to PeerAuthentication, RequestAuthentication
/// and WasmPlugin: a `selector` that matches no known workload (IST0127).
///
/// As for AuthorizationPolicy, a policy in the root namespace may select workloads anywhere and
/// others only in their own namespace; scopes without known workloads are not checked.
/// Telemetry selectors are checked by ``TelemetrySelectorAnalyzer`` (IST0101, as Istio does).
public struct PolicySelectorAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "policy.SelectorAnalyzer" }

    public var reports: [AnalysisMessageType] { [.noMatchingWorkloadsFound] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let workloads = Support.namedWorkloads(context)
        let root = context.rootNamespace
        return Support.unmatchedSelectors(context.resources(PeerAuthentication.self), workloads: workloads, rootNamespace: root)
            + Support.unmatchedSelectors(context.resources(RequestAuthentication.self), workloads: workloads, rootNamespace: root)
            + Support.unmatchedSelectors(context.resources(WasmPlugin.self), workloads: workloads, rootNamespace: root)
    }
}
