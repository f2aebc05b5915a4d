/// Services by `scope/fqdn`, the way Istio's routing analyzers find a destination host.
///
/// The scope is `*` for services exported everywhere, or the namespace they are exported to.
/// A destination is found by exact name in scope `*`, then in the namespaces the VirtualService
/// itself is exported to (its own when it has no `exportTo`), then by a visible wildcard host whose
/// suffix covers it.
struct ServiceHostLookup: Sendable {
    private struct ScopedHost: Hashable {
        var scope: String
        var host: String
    }

    private var exact: [ScopedHost: MeshService] = [:]
    private var wildcards: [(scoped: ScopedHost, service: MeshService)] = []
    private let domainSuffix: String

    init(services: [MeshService], domainSuffix: String) {
        self.domainSuffix = domainSuffix
        for service in services {
            let host = HostName.resolve(service.hostname, namespace: service.namespace, domainSuffix: domainSuffix)
            for scope in Self.scopes(of: service) {
                let key = ScopedHost(scope: scope, host: host)
                if exact[key] == nil { exact[key] = service }
                if host.hasPrefix("*") { wildcards.append((key, service)) }
            }
        }
    }

    /// The service a VirtualService in `namespace` with `exportTo` reaches as `host`, if any.
    func service(for host: String, namespace: String, exportTo: [String]?) -> MeshService? {
        let fqdn = HostName.resolve(host, namespace: namespace, domainSuffix: domainSuffix)
        if let found = exact[ScopedHost(scope: "*", host: fqdn)] { return found }
        let scopes = (exportTo ?? []).isEmpty ? [namespace] : (exportTo ?? []).map { $0 == "." ? namespace : $0 }
        for scope in scopes {
            if let found = exact[ScopedHost(scope: scope, host: fqdn)] { return found }
        }
        let bare = host.hasPrefix("*") ? String(host.dropFirst()) : host
        for (scoped, service) in wildcards where scoped.scope == "*" || scoped.scope == namespace {
            if bare.hasSuffix(scoped.host.dropFirst()) { return service }
        }
        return nil
    }

    private static func scopes(of service: MeshService) -> [String] {
        if service.exportTo.entries.contains(.public) { return ["*"] }
        return service.exportTo.entries.map { entry in
            switch entry {
            case .public: "*"
            case .private: service.namespace
            case .none: "~"
            case .namespace(let ns): ns
            }
        }.sorted()
    }
}
