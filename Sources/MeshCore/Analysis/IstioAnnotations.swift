/// One annotation in Istio's catalogue (istio/api `annotation/annotations.yaml`): its name, maturity,
/// whether it is deprecated and the kinds of resource it applies to.
public struct IstioAnnotation: Sendable, Hashable {
    /// How mature the feature behind an annotation is.
    public enum FeatureStatus: String, Sendable, Hashable {
        case alpha = "Alpha"
        case beta = "Beta"
        case stable = "Stable"
    }

    /// A kind of resource an annotation applies to, as the catalogue names it.
    public enum ResourceType: String, Sendable, Hashable, CaseIterable {
        /// Any resource.
        case any = "Any"
        case authorizationPolicy = "AuthorizationPolicy"
        case gateway = "Gateway"
        case gatewayClass = "GatewayClass"
        case ingress = "Ingress"
        case namespace = "Namespace"
        case pod = "Pod"
        case service = "Service"
        case serviceEntry = "ServiceEntry"
        case workloadEntry = "WorkloadEntry"
    }

    /// The annotation key, e.g. `sidecar.istio.io/inject`.
    public let name: String
    public let featureStatus: FeatureStatus
    /// The catalogue marks it deprecated.
    public let deprecated: Bool
    /// The catalogue leaves it out of the published reference (set by Istio itself, mostly).
    public let hidden: Bool
    /// The kinds it applies to.
    public let resources: [ResourceType]

    public init(_ name: String, _ featureStatus: FeatureStatus, _ resources: [ResourceType], deprecated: Bool = false, hidden: Bool = false) {
        self.name = name
        self.featureStatus = featureStatus
        self.resources = resources
        self.deprecated = deprecated
        self.hidden = hidden
    }

    /// True when the annotation may sit on a resource of kind `kind` (a Kubernetes or Istio kind name).
    public func applies(to kind: String) -> Bool {
        resources.contains { $0 == .any || $0.rawValue == kind }
    }

    /// Looks up an annotation by key.
    public static func lookup(_ name: String) -> IstioAnnotation? { byName[name] }

    /// True for keys in Istio's namespace: a prefix ending in `istio.io`, and the one Kubernetes
    /// annotation Istio documents, `kubernetes.io/ingress.class`.
    public static func isIstioKey(_ key: String) -> Bool {
        if key == "kubernetes.io/ingress.class" { return true }
        let prefix = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return prefix.hasSuffix("istio.io")
    }

    /// Annotations Istio sets itself; analysis never reports them.
    public static let setByIstio: Set<String> = [
        "sidecar.istio.io/status", "gateway.istio.io/controller-version", "istio.io/rev",
    ]

    private static let byName: [String: IstioAnnotation] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The whole catalogue, sorted by name.
    public static let all: [IstioAnnotation] = [
        IstioAnnotation("alpha.istio.io/canonical-serviceaccounts", .alpha, [.service], deprecated: true, hidden: true),
        IstioAnnotation("alpha.istio.io/kubernetes-serviceaccounts", .alpha, [.service], deprecated: true, hidden: true),
        IstioAnnotation("ambient.istio.io/bypass-inbound-capture", .alpha, [.pod]),
        IstioAnnotation("ambient.istio.io/dns-capture", .alpha, [.pod], hidden: true),
        IstioAnnotation("ambient.istio.io/redirection", .beta, [.pod]),
        IstioAnnotation("ambient.istio.io/waypoint-inbound-binding", .alpha, [.gatewayClass, .gateway], hidden: true),
        IstioAnnotation("galley.istio.io/analyze-suppress", .alpha, [.any]),
        IstioAnnotation("gateway.istio.io/controller-version", .alpha, [.any], hidden: true),
        IstioAnnotation("gateway.istio.io/name-override", .alpha, [.gateway], hidden: true),
        IstioAnnotation("gateway.istio.io/service-account", .alpha, [.gateway], hidden: true),
        IstioAnnotation("inject.istio.io/templates", .alpha, [.pod]),
        IstioAnnotation("istio.io/autoRegistrationGroup", .alpha, [.workloadEntry], hidden: true),
        IstioAnnotation("istio.io/connectedAt", .alpha, [.workloadEntry], hidden: true),
        IstioAnnotation("istio.io/disconnectedAt", .alpha, [.workloadEntry], hidden: true),
        IstioAnnotation("istio.io/dry-run", .alpha, [.authorizationPolicy]),
        IstioAnnotation("istio.io/reroute-virtual-interfaces", .alpha, [.pod]),
        IstioAnnotation("istio.io/rev", .alpha, [.pod]),
        IstioAnnotation("istio.io/use-waypoint-canary-weight", .alpha, [.service, .serviceEntry, .namespace]),
        IstioAnnotation("istio.io/workloadController", .alpha, [.workloadEntry], hidden: true),
        IstioAnnotation("kubernetes.io/ingress.class", .stable, [.ingress]),
        IstioAnnotation("networking.istio.io/exportTo", .alpha, [.service]),
        IstioAnnotation("networking.istio.io/service-type", .alpha, [.gateway], hidden: true),
        IstioAnnotation("networking.istio.io/traffic-distribution", .alpha, [.namespace, .service, .serviceEntry]),
        IstioAnnotation("prometheus.istio.io/merge-metrics", .alpha, [.pod]),
        IstioAnnotation("proxy.istio.io/config", .beta, [.pod]),
        IstioAnnotation("proxy.istio.io/overrides", .alpha, [.pod], hidden: true),
        IstioAnnotation("readiness.status.sidecar.istio.io/applicationPorts", .alpha, [.pod]),
        IstioAnnotation("readiness.status.sidecar.istio.io/failureThreshold", .alpha, [.pod]),
        IstioAnnotation("readiness.status.sidecar.istio.io/initialDelaySeconds", .alpha, [.pod]),
        IstioAnnotation("readiness.status.sidecar.istio.io/periodSeconds", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/agentLogLevel", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/bootstrapOverride", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/componentLogLevel", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/discoveryAddress", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/extraStatTags", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/inject", .beta, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/interceptionMode", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/logLevel", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/nativeSidecar", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyCPU", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyCPULimit", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyImage", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyImageType", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyMemory", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/proxyMemoryLimit", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/rewriteAppHTTPProbers", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/statsCompression", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/statsEvictionInterval", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/statsFlushInterval", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/statsHistogramBins", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/statsHistogramBuckets", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/statsInclusionPrefixes", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/statsInclusionRegexps", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/statsInclusionSuffixes", .alpha, [.pod], deprecated: true),
        IstioAnnotation("sidecar.istio.io/status", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/userVolume", .alpha, [.pod]),
        IstioAnnotation("sidecar.istio.io/userVolumeMount", .alpha, [.pod]),
        IstioAnnotation("status.sidecar.istio.io/port", .alpha, [.pod]),
        IstioAnnotation("topology.istio.io/controlPlaneClusters", .alpha, [.namespace]),
        IstioAnnotation("traffic.istio.io/nodeSelector", .stable, [.service]),
        IstioAnnotation("traffic.sidecar.istio.io/excludeInboundPorts", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/excludeInterfaces", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/excludeOutboundIPRanges", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/excludeOutboundPorts", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/includeInboundPorts", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/includeOutboundIPRanges", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/includeOutboundPorts", .alpha, [.pod]),
        IstioAnnotation("traffic.sidecar.istio.io/kubevirtInterfaces", .alpha, [.pod], deprecated: true),
    ]
}
