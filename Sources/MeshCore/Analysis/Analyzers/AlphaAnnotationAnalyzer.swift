/// Istio's `annotations.AlphaAnalyzer`: Istio annotations of alpha-phase features (IST0136).
///
/// Like Istio, this analyzer is not among the standard ones (too many annotations are set by
/// default); run it explicitly. It looks at the same objects as ``AnnotationAnalyzer`` and never
/// reports the annotations Istio sets itself, nor, on pods without an `istio-init` init container,
/// those Istio's CNI plugin sets.
public struct AlphaAnnotationAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "annotations.AlphaAnalyzer" }

    public var reports: [AnalysisMessageType] { [.alphaAnnotation] }

    /// Set on pods by Istio's CNI plugin rather than by users.
    static let setByCNI: Set<String> = [
        "sidecar.istio.io/interceptionMode", "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/includeOutboundIPRanges",
    ]

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for object in AnnotatedObject.all(in: context) {
            for key in object.istioKeys {
                guard let annotation = IstioAnnotation.lookup(key), annotation.featureStatus == .alpha else { continue }
                if object.cniManagedPod, Self.setByCNI.contains(key) { continue }
                messages.append(object.message(.alphaAnnotation, key: key,
                    "Annotation \(IstioAnnotation.goQuote(key)) is part of an alpha-phase feature and may be incompletely supported."))
            }
        }
        return messages
    }
}
