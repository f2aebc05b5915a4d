/// Istio's `auth.AuthorizationPoliciesAnalyzer`: a selector that matches no known workload
/// (IST0127) and a source namespace that does not exist (IST0101 `namespace`).
///
/// A selector in the root namespace may match workloads anywhere, others only in their own
/// namespace; scopes without known workloads are not checked. Namespaces exist when some analyzed
/// resource or platform object lives in them (the mesh root namespace always does); entries may
/// use a leading or trailing `*`.
public struct AuthorizationPolicyAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "auth.AuthorizationPoliciesAnalyzer" }

    public var reports: [AnalysisMessageType] { [.noMatchingWorkloadsFound, .referencedResourceNotFound] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let policies = context.resources(AuthorizationPolicy.self).sorted(by: { $0.key < $1.key })
        var messages = Support.unmatchedSelectors(policies, workloads: Support.namedWorkloads(context), rootNamespace: context.rootNamespace)

        var namespaces = Support.knownNamespaces(context)
        namespaces.insert(context.rootNamespace)
        for policy in policies {
            for (i, rule) in (policy.spec.rules ?? []).enumerated() {
                for (j, from) in (rule.from ?? []).enumerated() {
                    let source = (FieldPath("spec.rules")[i] / "from")[j] / "source"
                    for (field, entries) in [("namespaces", from.source?.namespaces ?? []), ("notNamespaces", from.source?.notNamespaces ?? [])] {
                        for (k, entry) in entries.enumerated() where !namespaces.contains(where: { Self.namespace($0, matches: entry) }) {
                            messages.append(AnalysisMessage(
                                .referencedResourceNotFound, resource: policy.key, location: policy.source,
                                path: (source / field)[k],
                                message: "Referenced namespace not found: \(Support.quoted(entry))"))
                        }
                    }
                }
            }
        }
        return messages
    }

    /// Istio's namespace pattern: `*`, `prefix*`, `*suffix`, or a name (ignoring case).
    static func namespace(_ namespace: String, matches pattern: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasPrefix("*") { return namespace.hasSuffix(pattern.dropFirst()) }
        if pattern.hasSuffix("*") { return namespace.hasPrefix(pattern.dropLast()) }
        return namespace.lowercased() == pattern.lowercased()
    }
}
