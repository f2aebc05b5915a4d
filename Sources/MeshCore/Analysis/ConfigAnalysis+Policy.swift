extension ConfigAnalysis {
    /// Policy analyzers.
    static let policyAnalyzers: [any ConfigAnalyzer] = []
}
