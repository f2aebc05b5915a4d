extension ConfigAnalysis {
    /// Annotation analyzers.
    static let annotationAnalyzers: [any ConfigAnalyzer] = [AnnotationAnalyzer(), DeprecationAnalyzer()]

    /// Annotation analyzers that, as in Istio, are not run by default: ``AlphaAnnotationAnalyzer``.
    public static let optionalAnnotationAnalyzers: [any ConfigAnalyzer] = [AlphaAnnotationAnalyzer()]
}
