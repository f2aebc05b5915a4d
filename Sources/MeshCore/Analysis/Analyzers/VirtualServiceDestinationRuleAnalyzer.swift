/// Istio's `virtualservice.DestinationRuleAnalyzer`: a route or mirror destination that names a
/// subset needs a DestinationRule defining that subset for the host (IST0101).
///
/// As in Istio, hosts are compared as `namespace/name`: a cluster-local name
/// (`name.namespace.svc.<suffix>`) gives its own namespace, any other host is taken to be in the
/// namespace of the resource that names it.
public struct VirtualServiceDestinationRuleAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.DestinationRuleAnalyzer" }

    public var reports: [AnalysisMessageType] { [.referencedResourceNotFound] }

    private struct HostAndSubset: Hashable {
        var namespace: String
        var name: String
        var subset: String
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        let suffix = context.snapshot.domainSuffix
        var defined: Set<HostAndSubset> = []
        for rule in context.resources(DestinationRule.self) {
            let (namespace, name) = Self.resourceName(of: rule.spec.host ?? "", defaultNamespace: rule.meta.namespace, domainSuffix: suffix)
            for subset in rule.spec.subsets ?? [] {
                defined.insert(HostAndSubset(namespace: namespace, name: name, subset: subset.name ?? ""))
            }
        }
        var messages: [AnalysisMessage] = []
        for vs in context.snapshot.virtualServices.all {
            for reference in vs.spec.routeDestinations + vs.spec.mirrorDestinations where !reference.subset.isEmpty {
                let (namespace, name) = Self.resourceName(of: reference.host, defaultNamespace: vs.meta.namespace, domainSuffix: suffix)
                guard !defined.contains(HostAndSubset(namespace: namespace, name: name, subset: reference.subset)) else { continue }
                let what = reference.kind == .route ? "host+subset in destinationrule" : "mirror+subset in destinationrule"
                messages.append(AnalysisMessage(
                    .referencedResourceNotFound, resource: vs.key, location: vs.source, path: reference.path / "subset",
                    message: "Referenced \(what) not found: \(RoutingMessageFormat.quoted("\(reference.host)+\(reference.subset)"))"))
            }
        }
        return messages
    }

    /// Istio's `GetResourceNameFromHost`: `name.namespace.svc.<suffix>` splits into its parts,
    /// anything else is a name in `defaultNamespace`.
    static func resourceName(of host: String, defaultNamespace: String, domainSuffix: String) -> (namespace: String, name: String) {
        let tail = ".svc.\(domainSuffix)"
        if host.hasSuffix(tail) {
            let head = host.dropLast(tail.count)
            if let dot = head.lastIndex(of: "."), dot != head.startIndex, head.index(after: dot) != head.endIndex {
                return (String(head[head.index(after: dot)...]), String(head[..<dot]))
            }
        }
        return (defaultNamespace, host)
    }
}
