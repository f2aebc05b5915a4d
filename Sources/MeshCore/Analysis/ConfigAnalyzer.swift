/// What an analyzer reads: the resources, the mesh settings and an index over both.
public struct AnalysisContext: Sendable {
    public let resources: [AnyResource]
    public let mesh: MeshConfig

    public init(resources: [AnyResource], mesh: MeshConfig = MeshConfig()) {
        self.resources = resources
        self.mesh = mesh
    }

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

    /// Every finding, sorted by severity, resource and code.
    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        analyzers.flatMap { $0.analyze(context) }.sorted(by: AnalysisMessage.displayOrder)
    }
}
