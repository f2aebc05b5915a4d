/// Annotations on one object, with what annotation analyzers need to judge and report them.
struct AnnotatedObject {
    /// The object messages are reported on.
    var resource: ResourceKey
    var location: SourceLocation?
    /// The kind the annotations are judged against: the object's own kind, or `Pod` for a pod template.
    var kind: String
    var labels: [String: String]
    var annotations: [String: String]
    /// Where the annotations sit, e.g. `metadata.annotations`.
    var path: FieldPath
    /// A pod (or pod template) without an `istio-init` init container: Istio's CNI plugin sets some
    /// annotations on it, so those are not worth an alpha warning.
    var cniManagedPod: Bool

    /// The Istio-namespaced annotation keys, sorted, without those Istio sets itself.
    var istioKeys: [String] {
        annotations.keys.filter { IstioAnnotation.isIstioKey($0) && !IstioAnnotation.setByIstio.contains($0) }.sorted()
    }

    func message(_ type: AnalysisMessageType, key: String, _ text: String) -> AnalysisMessage {
        AnalysisMessage(type, resource: resource, location: location, path: path.key(key), message: text)
    }

    /// Kubernetes kinds whose own metadata Istio's annotation analyzers check.
    static let checkedPlatformKinds: Set<String> = ["Namespace", "Service", "Pod", "Deployment"]

    /// Everything annotation analyzers look at in `context`.
    ///
    /// Istio resources (except the `internal.istio.io/` keys and a misplaced `istio.io/dry-run`,
    /// which schema validation already rejects), Namespaces, Services, Pods and Deployments as Istio
    /// checks them, and the pod templates of workload controllers, judged as the pods they create.
    static func all(in context: AnalysisContext) -> [AnnotatedObject] {
        var objects: [AnnotatedObject] = []
        for resource in context.resources where !resource.meta.annotations.isEmpty {
            let kind = resource.kind.kind
            let annotations = resource.meta.annotations.filter { key, _ in
                !key.hasPrefix("internal.istio.io/") && !(key == Validators.dryRunAnnotationName && resource.kind != .authorizationPolicy)
            }
            objects.append(AnnotatedObject(resource: resource.key, location: resource.source, kind: kind, labels: resource.meta.labels,
                                           annotations: annotations, path: "metadata.annotations", cniManagedPod: false))
        }
        for object in context.platform.objects {
            if checkedPlatformKinds.contains(object.kind), !object.annotations.isEmpty {
                objects.append(AnnotatedObject(resource: object.key, location: nil, kind: object.kind, labels: object.labels,
                                               annotations: object.annotations, path: "metadata.annotations",
                                               cniManagedPod: object.kind == "Pod" && !object.initContainerNames.contains("istio-init")))
            }
            if let template = object.podTemplateAnnotations, !template.isEmpty {
                objects.append(AnnotatedObject(resource: object.key, location: nil, kind: "Pod", labels: object.podTemplateLabels ?? [:],
                                               annotations: template, path: "spec.template.metadata.annotations",
                                               cniManagedPod: !object.initContainerNames.contains("istio-init")))
            }
        }
        return objects
    }
}
