/// Istio's `annotations.K8sAnalyzer`: Istio annotations that are unknown (IST0108), deprecated
/// (IST0135), on a kind they do not apply to (IST0107) or with a value Istio rejects (IST0125).
///
/// Istio checks Namespaces, Services, Pods and Deployments. MeshCore also checks the Istio resources
/// analyzed and the pod templates of workload controllers (as the pods they become), since without a
/// cluster there are no pods to look at.
public struct AnnotationAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "annotations.K8sAnalyzer" }

    public var reports: [AnalysisMessageType] { [.unknownAnnotation, .deprecatedAnnotation, .misplacedAnnotation, .invalidAnnotation] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        AnnotatedObject.all(in: context).flatMap(check)
    }

    private func check(_ object: AnnotatedObject) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for key in object.istioKeys {
            guard let annotation = IstioAnnotation.lookup(key) else {
                messages.append(object.message(.unknownAnnotation, key: key, "Unknown annotation: \(key)"))
                continue
            }
            if annotation.deprecated {
                // Keeping the deprecated annotation next to its replacement label is deliberate.
                let alongsideLabel = key == "sidecar.istio.io/inject" && object.labels["sidecar.istio.io/inject"] != nil
                if !alongsideLabel {
                    let extra = key == "sidecar.istio.io/inject" ? " in favor of the \"sidecar.istio.io/inject\" label" : ""
                    messages.append(object.message(.deprecatedAnnotation, key: key,
                        "Annotation \(IstioAnnotation.goQuote(key)) has been deprecated\(extra) and may not work in future Istio versions."))
                }
            }
            if annotation.resources.contains(.any) { continue }
            guard annotation.applies(to: object.kind) else {
                let kinds = annotation.resources.map(\.rawValue).joined(separator: ", ")
                messages.append(object.message(.misplacedAnnotation, key: key, "Misplaced annotation: \(key) can only be applied to \(kinds)"))
                continue
            }
            if let problem = IstioAnnotation.valueProblem(key, value: object.annotations[key] ?? "") {
                messages.append(object.message(.invalidAnnotation, key: key, "Invalid annotation \(key): \(problem)"))
            }
        }
        return messages
    }
}
