/// VirtualService rules that can never match (IST0130) and matches that an earlier rule already
/// covers (IST0131), found by the same analysis as VirtualService validation.
///
/// Istio reports these from its schema analyzer in place of the validation warning; here the
/// validation warning still surfaces as IST0133 alongside.
public struct VirtualServiceUnreachableRuleAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.UnreachableRuleAnalyzer" }

    public var reports: [AnalysisMessageType] { [.virtualServiceUnreachableRule, .virtualServiceIneffectiveMatch] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        context.snapshot.virtualServices.all.flatMap { vs in
            vs.spec.unreachableRouteFindings().map { finding in
                switch finding.kind {
                case .unusedRule(let rule, let reason):
                    AnalysisMessage(
                        .virtualServiceUnreachableRule, resource: vs.key, location: vs.source, path: finding.path,
                        message: "VirtualService rule \(rule) not used (\(reason)).")
                case .ineffectiveMatch(let rule, let match, let duplicate):
                    AnalysisMessage(
                        .virtualServiceIneffectiveMatch, resource: vs.key, location: vs.source, path: finding.path,
                        message: "VirtualService rule \(rule) match \(match) is not used (duplicate/overlapping match in rule \(duplicate)).")
                }
            }
        }
    }
}
