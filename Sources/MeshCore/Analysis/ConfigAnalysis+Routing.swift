extension ConfigAnalysis {
    /// Routing analyzers.
    static let routingAnalyzers: [any ConfigAnalyzer] = []
}
