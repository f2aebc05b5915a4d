/// Istio's `envoyfilter.EnvoyPatchAnalyzer`: patch operations that Istio ignores or applies in
/// an order that depends on other filters.
///
/// - IST0153 / IST0154: ADD or REMOVE on `ROUTE_CONFIGURATION` or `HTTP_ROUTE`.
/// - IST0152: REPLACE on anything but `HTTP_FILTER`, `NETWORK_FILTER` or `VIRTUAL_HOST`.
/// - IST0151: a relative operation (INSERT_BEFORE, INSERT_AFTER, REPLACE, REMOVE) with no `priority`.
/// - IST0155: the same, when an earlier patch (in namespace/name order) with a `proxyVersion`
///   match patches an object of the same name.
///
/// Patches are examined in order and a filter's remaining patches are skipped after one with
/// no `patch`, as Istio does.
public struct EnvoyFilterPatchAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "envoyfilter.EnvoyPatchAnalyzer" }

    public var reports: [AnalysisMessageType] {
        [.envoyFilterUsesRelativeOperation, .envoyFilterUsesRelativeOperationWithProxyVersion,
         .envoyFilterUsesAddOperationIncorrectly, .envoyFilterUsesRemoveOperationIncorrectly,
         .envoyFilterUsesReplaceOperationIncorrectly]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        // Names patched by earlier patches that carry a proxyVersion match.
        var versionedNames: Set<String> = []
        for filter in context.resources(EnvoyFilter.self).sorted(by: { $0.key < $1.key }) {
            for (i, configPatch) in (filter.spec.configPatches ?? []).enumerated() {
                guard let patch = configPatch.patch else { break }
                let name = Self.patchedName(configPatch)
                func report(_ type: AnalysisMessageType, _ text: String) {
                    messages.append(AnalysisMessage(
                        type, resource: filter.key, location: filter.source, path: FieldPath("spec.configPatches")[i], message: text))
                }
                func relative() {
                    guard (filter.spec.priority ?? 0) == 0 else { return }
                    if versionedNames.contains(name) {
                        report(.envoyFilterUsesRelativeOperationWithProxyVersion, Self.relativeWithProxyVersionText)
                    } else {
                        report(.envoyFilterUsesRelativeOperation, Self.relativeText)
                    }
                }
                let routeLevel = configPatch.applyTo == .ROUTE_CONFIGURATION || configPatch.applyTo == .HTTP_ROUTE
                switch patch.operation {
                case .ADD?:
                    if routeLevel {
                        report(.envoyFilterUsesAddOperationIncorrectly,
                               "The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.")
                    }
                case .REMOVE?:
                    if routeLevel {
                        report(.envoyFilterUsesRemoveOperationIncorrectly,
                               "The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.")
                    } else {
                        relative()
                    }
                case .REPLACE?:
                    if ![.HTTP_FILTER, .NETWORK_FILTER, .VIRTUAL_HOST].contains(configPatch.applyTo) {
                        report(.envoyFilterUsesReplaceOperationIncorrectly, "The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.")
                    } else {
                        relative()
                    }
                case .INSERT_BEFORE?, .INSERT_AFTER?:
                    relative()
                default:
                    break
                }
                if let version = configPatch.match?.proxy?.proxyVersion, !version.isEmpty {
                    versionedNames.insert(name)
                }
            }
        }
        return messages
    }

    static let relativeText = "This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly."

    static let relativeWithProxyVersionText = "This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly."

    /// The name of what a patch adds or changes: its value's `name`, else the matched listener filter's.
    private static func patchedName(_ configPatch: EnvoyFilter.EnvoyConfigObjectPatch) -> String {
        guard case .object(let fields)? = configPatch.patch?.value, !fields.isEmpty else { return "" }
        if let name = fields["name"] {
            if case .string(let text) = name { return text }
            return "\(name)"
        }
        return configPatch.match?.listener?.filterChain?.filter?.name ?? ""
    }
}
