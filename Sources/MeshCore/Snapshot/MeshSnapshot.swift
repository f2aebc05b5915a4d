/// An immutable, indexed view of configuration and services for translation to read.
///
/// Built once per push from small indices, each answering one kind of question with Istio's
/// precedence rules. Nothing in it changes after construction, so it can be shared freely.
public struct MeshSnapshot: Sendable {
    public let mesh: MeshConfig
    /// The DNS suffix short names resolve under (`cluster.local`).
    public let domainSuffix: String
    public let services: ServiceIndex
    public let virtualServices: VirtualServiceIndex
    public let destinationRules: DestinationRuleIndex
    public let gateways: GatewayIndex
    public let sidecars: SidecarIndex
    public let peerAuthentications: PolicyIndex<PeerAuthentication>
    public let requestAuthentications: PolicyIndex<RequestAuthentication>
    public let authorizationPolicies: PolicyIndex<AuthorizationPolicy>
    public let telemetries: PolicyIndex<Telemetry>
    public let wasmPlugins: PolicyIndex<WasmPlugin>
    public let envoyFilters: PolicyIndex<EnvoyFilter>
    public let proxyConfigs: PolicyIndex<ProxyConfig>
    /// `Secret`s gateways read by `credentialName`.
    public let secrets: SecretIndex
    /// Every resource the snapshot was built from.
    public let resources: [AnyResource]

    /// The mesh root namespace.
    public var rootNamespace: String { mesh.rootNamespace ?? "istio-system" }

    /// Builds a snapshot from config resources and the services of any registries.
    ///
    /// - Parameters:
    ///   - resources: validated Istio config.
    ///   - services: services from registries; those from ServiceEntries in `resources` are added.
    ///   - instances: workload instances from registries; those from ServiceEntries are added.
    ///   - mesh: mesh-wide settings.
    ///   - domainSuffix: the cluster DNS suffix.
    public init(
        resources: [AnyResource], services: [MeshService] = [], instances: [WorkloadInstance] = [],
        mesh: MeshConfig = MeshConfig(), domainSuffix: String = "cluster.local"
    ) {
        self.mesh = mesh
        self.domainSuffix = domainSuffix
        self.resources = resources
        let root = mesh.rootNamespace ?? "istio-system"
        func typed<S: ResourceSpec>(_ type: S.Type) -> [Resource<S>] { resources.compactMap { $0.typed(as: S.self) } }
        let fromEntries = ServiceEntryConversion.convert(
            serviceEntries: typed(ServiceEntry.self), workloadEntries: typed(WorkloadEntry.self), mesh: mesh)
        self.services = ServiceIndex(services: services + fromEntries.services, instances: instances + fromEntries.instances)
        self.virtualServices = VirtualServiceIndex(typed(VirtualService.self), defaultExportTo: mesh.defaultVirtualServiceExportTo)
        self.destinationRules = DestinationRuleIndex(
            typed(DestinationRule.self), rootNamespace: root, domainSuffix: domainSuffix, defaultExportTo: mesh.defaultDestinationRuleExportTo)
        self.gateways = GatewayIndex(typed(Gateway.self))
        self.sidecars = SidecarIndex(typed(Sidecar.self), rootNamespace: root)
        self.peerAuthentications = PolicyIndex(typed(PeerAuthentication.self), rootNamespace: root)
        self.requestAuthentications = PolicyIndex(typed(RequestAuthentication.self), rootNamespace: root)
        self.authorizationPolicies = PolicyIndex(typed(AuthorizationPolicy.self), rootNamespace: root)
        self.telemetries = PolicyIndex(typed(Telemetry.self), rootNamespace: root)
        self.wasmPlugins = PolicyIndex(typed(WasmPlugin.self), rootNamespace: root)
        self.envoyFilters = PolicyIndex(typed(EnvoyFilter.self), rootNamespace: root)
        self.proxyConfigs = PolicyIndex(typed(ProxyConfig.self), rootNamespace: root)
        self.secrets = SecretIndex(typed(KubernetesSecret.self))
    }

    /// Builds a snapshot from the current content of a store and a registry.
    public static func build(store: any ConfigStore, registry: (any ServiceRegistry)? = nil, mesh: MeshConfig = MeshConfig(), domainSuffix: String = "cluster.local") async -> MeshSnapshot {
        let resources = await store.all()
        var services: [MeshService] = []
        var instances: [WorkloadInstance] = []
        if let registry {
            services = await registry.services()
            for service in services { instances += await registry.instances(of: service.hostname, namespace: service.namespace) }
        }
        return MeshSnapshot(resources: resources, services: services, instances: instances, mesh: mesh, domainSuffix: domainSuffix)
    }

    /// Services `workload` can reach: visible by `exportTo` and admitted by its Sidecar's egress hosts.
    public func reachableServices(from workload: WorkloadContext) -> [MeshService] {
        let visible = services.services(visibleFrom: workload.namespace)
        guard let sidecar = sidecars.sidecar(for: workload) else { return visible }
        return visible.filter { SidecarIndex.admits(sidecar.spec, owner: workload.namespace, service: $0) }
    }

    /// The merged DestinationRule for traffic from `workload` to `service`.
    public func destinationRule(for service: MeshService, from workload: WorkloadContext) -> DestinationRuleIndex.Merged? {
        destinationRules.rule(for: service.hostname, serviceNamespace: service.namespace, from: workload)
    }

    /// The mesh-bound VirtualServices that apply to `host` for `workload`.
    public func virtualServices(forHost host: String, from workload: WorkloadContext) -> [Resource<VirtualService>] {
        virtualServices.virtualServices(forHost: host, gateway: "mesh", visibleFrom: workload.namespace)
    }
}
