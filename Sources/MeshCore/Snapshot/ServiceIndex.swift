/// Services by host name, with namespace visibility.
public struct ServiceIndex: Sendable {
    /// Every service, sorted by host then namespace.
    public let all: [MeshService]
    private let byHost: [String: [MeshService]]
    private let instancesByHost: [String: [WorkloadInstance]]

    public init(services: [MeshService], instances: [WorkloadInstance]) {
        all = services.sorted { ($0.hostname, $0.namespace) < ($1.hostname, $1.namespace) }
        byHost = Dictionary(grouping: all, by: \.hostname)
        instancesByHost = Dictionary(grouping: instances, by: \.serviceHostname)
    }

    /// Services named exactly `host`, in any namespace.
    public func services(named host: String) -> [MeshService] { byHost[host] ?? [] }

    /// The service `host` as seen from `namespace`: its own namespace's definition first, then
    /// the first visible one in namespace order (Istio picks one definition per host).
    public func service(_ host: String, visibleFrom namespace: String) -> MeshService? {
        let candidates = services(named: host).filter { $0.isVisible(from: namespace) }
        return candidates.first { $0.namespace == namespace } ?? candidates.first
    }

    /// Every service visible from `namespace`, one per host.
    public func services(visibleFrom namespace: String) -> [MeshService] {
        byHost.keys.sorted().compactMap { service($0, visibleFrom: namespace) }
    }

    /// Services whose host is named by `pattern` (exact or wildcard).
    public func services(matching pattern: String) -> [MeshService] {
        if !HostName.isWildcard(pattern) { return services(named: pattern) }
        return all.filter { HostName.matches($0.hostname, pattern) }
    }

    /// Instances of `service`.
    public func instances(of service: MeshService) -> [WorkloadInstance] {
        (instancesByHost[service.hostname] ?? []).filter { $0.serviceNamespace == service.namespace }
    }
}
