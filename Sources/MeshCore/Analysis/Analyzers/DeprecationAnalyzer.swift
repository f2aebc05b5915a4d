/// Istio's `deprecation.FieldAnalyzer`: deprecated fields Istio singles out (IST0002).
///
/// - VirtualService: an HTTP fault delay with the integer `percent` (use `percentage`).
/// - Sidecar: `outboundTrafficPolicy.egressProxy`, which Istio ignores.
///
/// Istio also flags removed `rbac.istio.io` CustomResourceDefinitions; CRDs are not read here.
public struct DeprecationAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "deprecation.DeprecationAnalyzer" }

    public var reports: [AnalysisMessageType] { [.deprecated] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for vs in context.resources(VirtualService.self) {
            for (i, route) in (vs.spec.http ?? []).enumerated() {
                guard let percent = route.fault?.delay?.percent, percent > 0 else { continue }
                messages.append(AnalysisMessage(.deprecated, resource: vs.key, location: vs.source,
                                                path: (FieldPath("spec.http") [i]) / "fault" / "delay" / "percent",
                                                message: "Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage"))
            }
        }
        for sidecar in context.resources(Sidecar.self) where sidecar.spec.outboundTrafficPolicy?.egressProxy != nil {
            messages.append(AnalysisMessage(.deprecated, resource: sidecar.key, location: sidecar.source,
                                            path: "spec.outboundTrafficPolicy.egressProxy",
                                            message: "Deprecated: OutboundTrafficPolicy.EgressProxy ignored"))
        }
        return messages
    }
}
