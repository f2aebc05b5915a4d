extension ConfigAnalysis {
    /// The analyzers `meshctl analyze` runs by default.
    public static let standardAnalyzers: [any ConfigAnalyzer] =
        routingAnalyzers + policyAnalyzers + annotationAnalyzers
}
