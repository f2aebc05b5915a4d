/// VirtualServices by gateway and host, with delegates resolved.
public struct VirtualServiceIndex: Sendable {
    /// Every VirtualService, in Istio's precedence order (namespace, name).
    public let all: [Resource<VirtualService>]
    private let byGateway: [String: [Resource<VirtualService>]]
    private let delegates: [String: Resource<VirtualService>]
    private let defaultExportTo: [String]?

    public init(_ services: [Resource<VirtualService>], defaultExportTo: [String]? = nil) {
        all = services.sorted { $0.key < $1.key }
        var byGateway: [String: [Resource<VirtualService>]] = [:]
        var delegates: [String: Resource<VirtualService>] = [:]
        for vs in all {
            if (vs.spec.hosts ?? []).isEmpty {
                delegates["\(vs.meta.namespace)/\(vs.meta.name)"] = vs
                continue
            }
            for gateway in Self.gateways(of: vs) { byGateway[gateway, default: []].append(vs) }
        }
        self.byGateway = byGateway
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

    /// The VirtualServices bound to `gateway` whose hosts cover `host`, most specific host first.
    public func virtualServices(forHost host: String, gateway: String, visibleFrom namespace: String) -> [Resource<VirtualService>] {
        virtualServices(gateway: gateway, visibleFrom: namespace).filter { vs in
            (vs.spec.hosts ?? []).contains { HostName.matches(host, HostName.resolve($0, namespace: vs.meta.namespace)) }
        }
    }

    /// The delegate named by a route's `delegate` in a VirtualService in `namespace`.
    public func delegate(name: String, namespace: String?, from owner: String) -> Resource<VirtualService>? {
        delegates["\(namespace ?? owner)/\(name)"]
    }

    /// Every delegate VirtualService (one with no hosts).
    public var allDelegates: [Resource<VirtualService>] { delegates.values.sorted { $0.key < $1.key } }
}
