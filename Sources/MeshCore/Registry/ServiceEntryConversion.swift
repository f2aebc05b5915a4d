/// Turns ServiceEntry and WorkloadEntry resources into services and workload instances, as
/// Istio's ServiceEntry registry does.
///
/// One service per ServiceEntry host. Instances come from inline `endpoints`, from WorkloadEntries
/// in the ServiceEntry's namespace that its `workloadSelector` matches, or, for DNS resolution
/// without endpoints, from the host name itself.
public enum ServiceEntryConversion {
    /// The registry content derived from the given config.
    public struct Output: Sendable, Hashable {
        public var services: [MeshService] = []
        public var instances: [WorkloadInstance] = []
    }

    public static func convert(
        serviceEntries: [Resource<ServiceEntry>], workloadEntries: [Resource<WorkloadEntry>], mesh: MeshConfig = MeshConfig()
    ) -> Output {
        var output = Output()
        let entriesByNamespace = Dictionary(grouping: workloadEntries.sorted { $0.key < $1.key }, by: \.meta.namespace)
        for se in serviceEntries.sorted(by: { $0.key < $1.key }) {
            let spec = se.spec
            let ns = se.meta.namespace
            let ports = (spec.ports ?? []).map { port in
                ServicePortInfo(
                    name: port.name ?? "",
                    port: port.number ?? 0,
                    protocol: port.protocol.map(ServiceProtocol.init(name:)) ?? ServiceProtocol.infer(portName: port.name),
                    targetPort: port.targetPort)
            }
            let resolution: ServiceResolution = switch spec.resolution ?? .NONE {
            case .NONE: .passthrough
            case .STATIC: .clientSideLB
            case .DNS: .dnsLB
            case .DNS_ROUND_ROBIN: .dnsRoundRobin
            case .DYNAMIC_DNS: .dynamicDNS
            }
            let location: ServiceLocation = spec.location == .MESH_INTERNAL ? .meshInternal : .meshExternal
            let exportScope = ExportScope(exportTo: spec.exportTo, defaults: mesh.defaultServiceExportTo)

            // Endpoints: inline, selected WorkloadEntries, or the host itself for DNS.
            var endpoints: [(name: String, namespace: String, entry: WorkloadEntry)] = []
            for (i, endpoint) in (spec.endpoints ?? []).enumerated() {
                endpoints.append(("\(se.meta.name)-\(i)", ns, endpoint))
            }
            if let selector = spec.workloadSelector?.labels {
                for we in entriesByNamespace[ns] ?? [] where selector.allSatisfy({ we.spec.labels?[$0.key] == $0.value }) {
                    endpoints.append((we.meta.name, ns, we.spec))
                }
            }

            for host in spec.hosts ?? [] {
                output.services.append(MeshService(
                    hostname: host, namespace: ns, ports: ports, resolution: resolution, location: location,
                    exportTo: exportScope, addresses: spec.addresses ?? [], subjectAltNames: spec.subjectAltNames ?? [],
                    origin: se.key))
                var hostEndpoints = endpoints
                if hostEndpoints.isEmpty, spec.workloadSelector == nil,
                   resolution == .dnsLB || resolution == .dnsRoundRobin, !HostName.isWildcard(host) {
                    hostEndpoints = [("\(se.meta.name)-dns", ns, WorkloadEntry(address: host))]
                }
                for (name, workloadNamespace, entry) in hostEndpoints {
                    var endpointPorts: [UInt32: UInt32] = [:]
                    for port in ports {
                        endpointPorts[port.port] = entry.ports?[port.name] ?? port.targetPort ?? port.port
                    }
                    output.instances.append(WorkloadInstance(
                        serviceHostname: host, serviceNamespace: ns, name: name, namespace: workloadNamespace,
                        address: entry.address ?? "", endpointPorts: endpointPorts, labels: entry.labels ?? [:],
                        serviceAccount: entry.serviceAccount ?? "default", locality: entry.locality ?? "",
                        weight: entry.weight.flatMap { $0 == 0 ? nil : $0 } ?? 1, network: entry.network ?? ""))
                }
            }
        }
        return output
    }
}

/// A ``ServiceRegistry`` over the ServiceEntries and WorkloadEntries of a ``ConfigStore``.
///
/// ``run()`` follows the store: a change that alters only endpoints is reported as
/// ``RegistryEvent/endpointsChanged(hostnames:)``, anything else as ``RegistryEvent/servicesChanged(hostnames:)``.
public actor ServiceEntryRegistry: ServiceRegistry {
    public nonisolated let name = "ServiceEntry"
    private let store: any ConfigStore
    private let mesh: MeshConfig
    private var current = ServiceEntryConversion.Output()
    private let broadcaster = EventBroadcaster<RegistryEvent>()

    public init(store: any ConfigStore, mesh: MeshConfig = MeshConfig()) {
        self.store = store
        self.mesh = mesh
    }

    public func services() -> [MeshService] { current.services }

    public func instances(of hostname: String, namespace: String?) -> [WorkloadInstance] {
        current.instances.filter { $0.serviceHostname == hostname && (namespace == nil || $0.serviceNamespace == namespace) }
    }

    public func changes() -> AsyncStream<RegistryEvent> { broadcaster.subscribe() }

    /// Recomputes from the store and publishes what changed; returns the event, if any.
    @discardableResult
    public func refresh() async -> RegistryEvent? {
        let next = ServiceEntryConversion.convert(
            serviceEntries: await store.list(ServiceEntry.self), workloadEntries: await store.list(WorkloadEntry.self), mesh: mesh)
        let previous = current
        current = next
        guard next != previous else { return nil }
        let event: RegistryEvent
        if Set(next.services) == Set(previous.services) {
            let changed = Set(next.instances).symmetricDifference(Set(previous.instances)).map(\.serviceHostname)
            event = .endpointsChanged(hostnames: Set(changed))
        } else {
            let changed = Set(next.services).symmetricDifference(Set(previous.services)).map(\.hostname)
            event = .servicesChanged(hostnames: Set(changed))
        }
        broadcaster.publish(event)
        return event
    }

    /// Loads the current content, then follows the store's changes until they end or the task is cancelled.
    public func run() async {
        let events = await store.changes()
        await refresh()
        for await event in events where event.resource.kind == .serviceEntry || event.resource.kind == .workloadEntry {
            await refresh()
        }
        broadcaster.finish()
    }
}
