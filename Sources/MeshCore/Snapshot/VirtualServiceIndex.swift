/// VirtualServices by gateway and host, with delegates resolved.
public struct VirtualServiceIndex: Sendable {
    /// Every VirtualService, in Istio's precedence order (namespace, name).
    public let all: [Resource<VirtualService>]
    private let byGateway: [String: [Resource<VirtualService>]]
    /// Per gateway: VirtualServices by exact (resolved, lower-cased) host, and wildcard hosts to scan.
    private let exactHosts: [String: [String: [Int]]]
    private let wildcardHosts: [String: [WildcardHost]]
    private let delegates: [String: Resource<VirtualService>]
    private let defaultExportTo: [String]?

    public init(_ services: [Resource<VirtualService>], defaultExportTo: [String]? = nil) {
        all = services.sorted { $0.key < $1.key }
        var byGateway: [String: [Resource<VirtualService>]] = [:]
        var exactHosts: [String: [String: [Int]]] = [:]
        var wildcardHosts: [String: [WildcardHost]] = [:]
        var delegates: [String: Resource<VirtualService>] = [:]
        for (index, vs) in all.enumerated() {
            if (vs.spec.hosts ?? []).isEmpty {
                delegates["\(vs.meta.namespace)/\(vs.meta.name)"] = vs
                continue
            }
            let hosts = (vs.spec.hosts ?? []).map { HostName.resolve($0, namespace: vs.meta.namespace) }
            for gateway in Self.gateways(of: vs) {
                byGateway[gateway, default: []].append(vs)
                for host in Set(hosts) {
                    if HostName.isWildcard(host) {
                        wildcardHosts[gateway, default: []].append(WildcardHost(pattern: host, index: index))
                    } else {
                        exactHosts[gateway, default: [:]][host.lowercased(), default: []].append(index)
                    }
                }
            }
        }
        self.byGateway = byGateway
        self.exactHosts = exactHosts
        self.wildcardHosts = wildcardHosts
        self.delegates = delegates
        self.defaultExportTo = defaultExportTo
    }

    /// The qualified gateways a VirtualService binds to (`mesh` when it names none).
    public static func gateways(of vs: Resource<VirtualService>) -> [String] {
        let names = vs.spec.gateways ?? []
        if names.isEmpty { return ["mesh"] }
        return names.map { GatewayIndex.qualify($0, namespace: vs.meta.namespace) }
    }

    /// VirtualServices bound to `gateway` (`mesh` or `ns/name`) and visible from `namespace`.
    ///
    /// For `mesh`, visibility follows `exportTo`; gateway-bound ones are matched by name only.
    public func virtualServices(gateway: String, visibleFrom namespace: String) -> [Resource<VirtualService>] {
        (byGateway[gateway] ?? []).filter { vs in
            gateway != "mesh" || ExportScope(exportTo: vs.spec.exportTo, defaults: defaultExportTo).isVisible(from: namespace, owner: vs.meta.namespace)
        }
    }

    /// The VirtualServices bound to `gateway` whose hosts cover `host`, in precedence order.
    ///
    /// Looked up by exact host, plus a scan of wildcard hosts only, so translating a large mesh
    /// does not compare every service with every VirtualService.
    public func virtualServices(forHost host: String, gateway: String, visibleFrom namespace: String) -> [Resource<VirtualService>] {
        var indices = Set(exactHosts[gateway]?[host.lowercased()] ?? [])
        for entry in wildcardHosts[gateway] ?? [] where HostName.matches(host, entry.pattern) {
            indices.insert(entry.index)
        }
        return indices.sorted().map { all[$0] }.filter { vs in
            gateway != "mesh" || ExportScope(exportTo: vs.spec.exportTo, defaults: defaultExportTo).isVisible(from: namespace, owner: vs.meta.namespace)
        }
    }

    /// The delegate named by a route's `delegate` in a VirtualService in `namespace`.
    public func delegate(name: String, namespace: String?, from owner: String) -> Resource<VirtualService>? {
        delegates["\(namespace ?? owner)/\(name)"]
    }

    /// Every delegate VirtualService (one with no hosts).
    public var allDelegates: [Resource<VirtualService>] { delegates.values.sorted { $0.key < $1.key } }

    /// A wildcard host of the VirtualService at `index` in ``all``.
    private struct WildcardHost: Sendable {
        var pattern: String
        var index: Int
    }
}
