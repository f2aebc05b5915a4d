extension ConfigAnalysis {
    /// Annotation analyzers.
    static let annotationAnalyzers: [any ConfigAnalyzer] = []
}
