/// What an analyzer reads: the resources, the mesh settings, platform objects and a snapshot over them.
public struct AnalysisContext: Sendable {
    public let resources: [AnyResource]
    public let mesh: MeshConfig
    /// Kubernetes Services and workloads that came with the config.
    public let platform: PlatformObjects
    /// The indexed view translation would see (services include ServiceEntries and Kubernetes Services).
    public let snapshot: MeshSnapshot
    /// Every workload known: Kubernetes workloads, WorkloadEntries and ServiceEntry inline endpoints.
    public let workloads: [WorkloadContext]

    public init(resources: [AnyResource], mesh: MeshConfig = MeshConfig(), platform: PlatformObjects = PlatformObjects()) {
        self.resources = resources
        self.mesh = mesh
        self.platform = platform
        self.snapshot = MeshSnapshot(resources: resources, services: platform.services, mesh: mesh)
        var workloads = platform.workloads.map { WorkloadContext(namespace: $0.namespace, labels: $0.labels, serviceAccount: $0.serviceAccount) }
        for entry in resources.compactMap({ $0.typed(as: WorkloadEntry.self) }) {
            workloads.append(WorkloadContext(namespace: entry.meta.namespace, labels: entry.spec.labels ?? [:], serviceAccount: entry.spec.serviceAccount ?? "default"))
        }
        for se in resources.compactMap({ $0.typed(as: ServiceEntry.self) }) {
            for endpoint in se.spec.endpoints ?? [] where !(endpoint.labels ?? [:]).isEmpty {
                workloads.append(WorkloadContext(namespace: se.meta.namespace, labels: endpoint.labels ?? [:], serviceAccount: endpoint.serviceAccount ?? "default"))
            }
        }
        self.workloads = workloads
    }

    /// The mesh root namespace.
    public var rootNamespace: String { mesh.rootNamespace ?? "istio-system" }

    /// The typed resources of kind `S`.
    public func resources<S: ResourceSpec>(_ type: S.Type) -> [Resource<S>] {
        resources.compactMap { $0.typed(as: S.self) }
    }
}

/// One cross-resource check, like an analyzer of `istioctl analyze`.
public protocol ConfigAnalyzer: Sendable {
    /// A stable name such as `virtualservice.DestinationHostAnalyzer`.
    var name: String { get }
    /// The message types this analyzer can report.
    var reports: [AnalysisMessageType] { get }
    /// Inspects `context` and returns findings; must not have side effects.
    func analyze(_ context: AnalysisContext) -> [AnalysisMessage]
}

/// Runs a set of analyzers.
public struct ConfigAnalysis: Sendable {
    public var analyzers: [any ConfigAnalyzer]

    public init(analyzers: [any ConfigAnalyzer] = ConfigAnalysis.standardAnalyzers) {
        self.analyzers = analyzers
    }

    /// Everything `istioctl analyze` reports for decoded files: their schema findings (IST0106 for
    /// errors, IST0133 for warnings) and the analyzers' messages over the valid resources.
    ///
    /// A schema warning is dropped when an analyzer reports the same finding (same resource and
    /// field) under its own code, as Istio reports unreachable routes as IST0130, not IST0133.
    public func report(_ outputs: [ConfigDecoder.Output], mesh: MeshConfig = MeshConfig()) -> [AnalysisMessage] {
        var platform = PlatformObjects()
        for output in outputs { platform.merge(output.platform) }
        let context = AnalysisContext(resources: outputs.flatMap(\.resources), mesh: mesh, platform: platform)
        let analyzed = analyze(context)
        let covered = Set(analyzed.compactMap { m in m.path.components.isEmpty ? nil : "\(m.resource?.description ?? "")|\(m.path)" })
        let schema = outputs.flatMap(\.diagnostics).map(AnalysisMessage.schemaValidation).filter { m in
            m.type != .schemaWarning || !covered.contains("\(m.resource?.description ?? "")|\(m.path)")
        }
        return (schema + analyzed).sorted(by: AnalysisMessage.displayOrder)
    }

    /// The analyzers' findings, sorted by severity, resource and code.
    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        analyzers.flatMap { $0.analyze(context) }.sorted(by: AnalysisMessage.displayOrder)
    }
}
