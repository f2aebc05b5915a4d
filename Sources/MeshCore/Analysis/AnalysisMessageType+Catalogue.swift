/// Istio's analysis message catalogue: the codes, names and levels `istioctl analyze` uses.
///
/// Only messages whose check exists in MeshCore are listed; codes Istio retired are not reused.
extension AnalysisMessageType {
    /// IST0002: the configuration depends on a deprecated feature.
    public static let deprecated = AnalysisMessageType(code: "IST0002", name: "Deprecated", severity: .warning)
    /// IST0101: a referenced resource does not exist.
    public static let referencedResourceNotFound = AnalysisMessageType(code: "IST0101", name: "ReferencedResourceNotFound", severity: .error)
    /// IST0107: an Istio annotation is on the wrong kind of resource.
    public static let misplacedAnnotation = AnalysisMessageType(code: "IST0107", name: "MisplacedAnnotation", severity: .warning)
    /// IST0108: an Istio annotation is not known.
    public static let unknownAnnotation = AnalysisMessageType(code: "IST0108", name: "UnknownAnnotation", severity: .warning)
    /// IST0109: VirtualServices bound to the mesh gateway define the same host.
    public static let conflictingMeshGatewayVirtualServiceHosts = AnalysisMessageType(code: "IST0109", name: "ConflictingMeshGatewayVirtualServiceHosts", severity: .error)
    /// IST0110: Sidecars select the same workload.
    public static let conflictingSidecarWorkloadSelectors = AnalysisMessageType(code: "IST0110", name: "ConflictingSidecarWorkloadSelectors", severity: .error)
    /// IST0111: more than one Sidecar in a namespace has no workload selector.
    public static let multipleSidecarsWithoutWorkloadSelectors = AnalysisMessageType(code: "IST0111", name: "MultipleSidecarsWithoutWorkloadSelectors", severity: .error)
    /// IST0112: a route to a multi-port service does not name the port.
    public static let virtualServiceDestinationPortSelectorRequired = AnalysisMessageType(code: "IST0112", name: "VirtualServiceDestinationPortSelectorRequired", severity: .error)
    /// IST0113: a DestinationRule and a PeerAuthentication disagree about mTLS.
    public static let mtlsPolicyConflict = AnalysisMessageType(code: "IST0113", name: "MTLSPolicyConflict", severity: .error)
    /// IST0125: an Istio annotation has an invalid value.
    public static let invalidAnnotation = AnalysisMessageType(code: "IST0125", name: "InvalidAnnotation", severity: .warning)
    /// IST0127: no workload matches a resource's selector.
    public static let noMatchingWorkloadsFound = AnalysisMessageType(code: "IST0127", name: "NoMatchingWorkloadsFound", severity: .warning)
    /// IST0128: a DestinationRule's TLS does not verify the server (host level).
    public static let noServerCertificateVerificationDestinationLevel = AnalysisMessageType(code: "IST0128", name: "NoServerCertificateVerificationDestinationLevel", severity: .warning)
    /// IST0129: a DestinationRule's TLS does not verify the server (port level).
    public static let noServerCertificateVerificationPortLevel = AnalysisMessageType(code: "IST0129", name: "NoServerCertificateVerificationPortLevel", severity: .warning)
    /// IST0130: a VirtualService rule can never match.
    public static let virtualServiceUnreachableRule = AnalysisMessageType(code: "IST0130", name: "VirtualServiceUnreachableRule", severity: .warning)
    /// IST0131: a VirtualService match duplicates an earlier one.
    public static let virtualServiceIneffectiveMatch = AnalysisMessageType(code: "IST0131", name: "VirtualServiceIneffectiveMatch", severity: .info)
    /// IST0132: a VirtualService host is not served by its Gateway.
    public static let virtualServiceHostNotFoundInGateway = AnalysisMessageType(code: "IST0132", name: "VirtualServiceHostNotFoundInGateway", severity: .warning)
    /// IST0135: a deprecated Istio annotation.
    public static let deprecatedAnnotation = AnalysisMessageType(code: "IST0135", name: "DeprecatedAnnotation", severity: .info)
    /// IST0136: an alpha-phase Istio annotation.
    public static let alphaAnnotation = AnalysisMessageType(code: "IST0136", name: "AlphaAnnotation", severity: .info)
    /// IST0138: the same certificate in several gateways.
    public static let gatewayDuplicateCertificate = AnalysisMessageType(code: "IST0138", name: "GatewayDuplicateCertificate", severity: .warning)
    /// IST0140: subset routing has no effect for an ingress gateway.
    public static let ingressRouteRulesNotAffected = AnalysisMessageType(code: "IST0140", name: "IngressRouteRulesNotAffected", severity: .warning)
    /// IST0145: gateways with the same selector, port and hosts.
    public static let conflictingGateways = AnalysisMessageType(code: "IST0145", name: "ConflictingGateways", severity: .error)
    /// IST0149: JWT claim routing without a RequestAuthentication on the gateway.
    public static let jwtClaimBasedRoutingWithoutRequestAuthN = AnalysisMessageType(code: "IST0149", name: "JwtClaimBasedRoutingWithoutRequestAuthN", severity: .error)
    /// IST0151: an EnvoyFilter uses a relative operation without a priority.
    public static let envoyFilterUsesRelativeOperation = AnalysisMessageType(code: "IST0151", name: "EnvoyFilterUsesRelativeOperation", severity: .warning)
    /// IST0152: REPLACE outside HTTP_FILTER and NETWORK_FILTER.
    public static let envoyFilterUsesReplaceOperationIncorrectly = AnalysisMessageType(code: "IST0152", name: "EnvoyFilterUsesReplaceOperationIncorrectly", severity: .error)
    /// IST0153: ADD on ROUTE_CONFIGURATION or HTTP_ROUTE.
    public static let envoyFilterUsesAddOperationIncorrectly = AnalysisMessageType(code: "IST0153", name: "EnvoyFilterUsesAddOperationIncorrectly", severity: .error)
    /// IST0154: REMOVE on ROUTE_CONFIGURATION or HTTP_ROUTE.
    public static let envoyFilterUsesRemoveOperationIncorrectly = AnalysisMessageType(code: "IST0154", name: "EnvoyFilterUsesRemoveOperationIncorrectly", severity: .error)
    /// IST0155: a relative operation and proxyVersion without a priority.
    public static let envoyFilterUsesRelativeOperationWithProxyVersion = AnalysisMessageType(code: "IST0155", name: "EnvoyFilterUsesRelativeOperationWithProxyVersion", severity: .warning)
    /// IST0157: a Telemetry with empty providers is ignored.
    public static let invalidTelemetryProvider = AnalysisMessageType(code: "IST0157", name: "InvalidTelemetryProvider", severity: .warning)
    /// IST0159: Telemetries select the same workload.
    public static let conflictingTelemetryWorkloadSelectors = AnalysisMessageType(code: "IST0159", name: "ConflictingTelemetryWorkloadSelectors", severity: .error)
    /// IST0160: more than one Telemetry in a namespace has no workload selector.
    public static let multipleTelemetriesWithoutWorkloadSelectors = AnalysisMessageType(code: "IST0160", name: "MultipleTelemetriesWithoutWorkloadSelectors", severity: .error)
}
