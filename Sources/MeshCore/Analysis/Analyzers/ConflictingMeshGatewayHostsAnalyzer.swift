/// Istio's `virtualservice.ConflictingMeshGatewayHostsAnalyzer`: VirtualServices bound to the
/// `mesh` gateway that define the same host for the same namespaces (IST0109).
///
/// Hosts are grouped as `scope/fqdn`, the scope being `*` for VirtualServices exported everywhere
/// (or with no `exportTo`) and each namespace they are exported to otherwise. A namespace-scoped
/// host also conflicts with everywhere-exported hosts that overlap it (wildcards included).
/// Each VirtualService is reported once, for the first conflicting host in sorted order.
public struct ConflictingMeshGatewayHostsAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.ConflictingMeshGatewayHostsAnalyzer" }

    public var reports: [AnalysisMessageType] { [.conflictingMeshGatewayVirtualServiceHosts] }

    private struct ScopedHost: Hashable, Comparable {
        var scope: String
        var host: String

        static func < (a: ScopedHost, b: ScopedHost) -> Bool { "\(a.scope)/\(a.host)" < "\(b.scope)/\(b.host)" }
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        let suffix = context.snapshot.domainSuffix
        var byHost: [ScopedHost: [Resource<VirtualService>]] = [:]
        for vs in context.snapshot.virtualServices.all {
            let gateways = vs.spec.gateways ?? []
            guard gateways.isEmpty || gateways.contains("mesh") else { continue }
            for scope in Self.scopes(of: vs) {
                for host in vs.spec.hosts ?? [] {
                    let fqdn = HostName.resolve(host, namespace: vs.meta.namespace, domainSuffix: suffix)
                    byHost[ScopedHost(scope: scope, host: fqdn), default: []].append(vs)
                }
            }
        }
        let exportedEverywhere = byHost.filter { $0.key.scope == "*" }.sorted { $0.key < $1.key }
        var reported: Set<ResourceKey> = []
        var messages: [AnalysisMessage] = []
        for (scoped, owners) in byHost.sorted(by: { $0.key < $1.key }) {
            var conflicting = owners
            if scoped.scope != "*" {
                for (other, otherOwners) in exportedEverywhere where HostName.overlaps(scoped.host, other.host) {
                    conflicting += otherOwners
                }
            }
            guard conflicting.count > 1 else { continue }
            let names = conflicting.map { "\($0.meta.namespace)/\($0.meta.name)" }.sorted().joined(separator: ",")
            for vs in conflicting where reported.insert(vs.key).inserted {
                messages.append(AnalysisMessage(
                    .conflictingMeshGatewayVirtualServiceHosts, resource: vs.key, location: vs.source, path: "metadata.name",
                    message: "The VirtualServices \(names) associated with mesh gateway define the same host \(scoped.scope)/\(scoped.host) which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource."))
            }
        }
        return messages
    }

    /// `*` when exported everywhere, otherwise the namespaces it is exported to (`.` is its own).
    private static func scopes(of vs: Resource<VirtualService>) -> [String] {
        let exportTo = vs.spec.exportTo ?? []
        if exportTo.isEmpty || exportTo.contains("*") { return ["*"] }
        return Set(exportTo.map { $0 == "." ? vs.meta.namespace : $0 }).sorted()
    }
}
