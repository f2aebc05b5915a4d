/// One Istio configuration kind: its API group, kind name and the versions Istio serves.
///
/// All kinds MeshCore knows are listed in ``ResourceKind/all``, the one table that plays
/// the role of Istio's schema metadata.
public struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    /// The API group, e.g. `networking.istio.io`.
    public let group: String
    /// The kind, e.g. `VirtualService`.
    public let kind: String
    /// Served versions, newest first; the first is the one MeshCore writes.
    public let versions: [String]
    /// The Swift type of the `spec`.
    public let specType: any ResourceSpec.Type

    public init(group: String, kind: String, versions: [String], specType: any ResourceSpec.Type) {
        self.group = group
        self.kind = kind
        self.versions = versions
        self.specType = specType
    }

    /// `group/version` for the preferred version.
    public var apiVersion: String { "\(group)/\(versions[0])" }

    public var description: String { kind }

    public static func == (lhs: ResourceKind, rhs: ResourceKind) -> Bool {
        lhs.group == rhs.group && lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(group)
        hasher.combine(kind)
    }
}

extension ResourceKind {
    private static let networkingVersions = ["v1", "v1beta1", "v1alpha3"]
    private static let securityVersions = ["v1", "v1beta1"]

    public static let virtualService = ResourceKind(group: "networking.istio.io", kind: "VirtualService", versions: networkingVersions, specType: VirtualService.self)
    public static let destinationRule = ResourceKind(group: "networking.istio.io", kind: "DestinationRule", versions: networkingVersions, specType: DestinationRule.self)
    public static let gateway = ResourceKind(group: "networking.istio.io", kind: "Gateway", versions: networkingVersions, specType: Gateway.self)
    public static let serviceEntry = ResourceKind(group: "networking.istio.io", kind: "ServiceEntry", versions: networkingVersions, specType: ServiceEntry.self)
    public static let workloadEntry = ResourceKind(group: "networking.istio.io", kind: "WorkloadEntry", versions: networkingVersions, specType: WorkloadEntry.self)
    public static let workloadGroup = ResourceKind(group: "networking.istio.io", kind: "WorkloadGroup", versions: networkingVersions, specType: WorkloadGroup.self)
    public static let sidecar = ResourceKind(group: "networking.istio.io", kind: "Sidecar", versions: networkingVersions, specType: Sidecar.self)
    public static let envoyFilter = ResourceKind(group: "networking.istio.io", kind: "EnvoyFilter", versions: ["v1alpha3"], specType: EnvoyFilter.self)
    public static let proxyConfig = ResourceKind(group: "networking.istio.io", kind: "ProxyConfig", versions: ["v1beta1"], specType: ProxyConfig.self)
    public static let peerAuthentication = ResourceKind(group: "security.istio.io", kind: "PeerAuthentication", versions: securityVersions, specType: PeerAuthentication.self)
    public static let requestAuthentication = ResourceKind(group: "security.istio.io", kind: "RequestAuthentication", versions: securityVersions, specType: RequestAuthentication.self)
    public static let authorizationPolicy = ResourceKind(group: "security.istio.io", kind: "AuthorizationPolicy", versions: securityVersions, specType: AuthorizationPolicy.self)
    public static let telemetry = ResourceKind(group: "telemetry.istio.io", kind: "Telemetry", versions: ["v1", "v1alpha1"], specType: Telemetry.self)
    public static let wasmPlugin = ResourceKind(group: "extensions.istio.io", kind: "WasmPlugin", versions: ["v1alpha1"], specType: WasmPlugin.self)

    /// Every kind MeshCore decodes, validates and stores.
    public static let all: [ResourceKind] = [
        .virtualService, .destinationRule, .gateway, .serviceEntry, .workloadEntry, .workloadGroup,
        .sidecar, .envoyFilter, .proxyConfig, .peerAuthentication, .requestAuthentication,
        .authorizationPolicy, .telemetry, .wasmPlugin, .secret,
    ]

    /// Istio's API groups; documents in other groups are not Istio config and are skipped
    /// (core kinds MeshCore reads, such as `Secret`, are looked up separately).
    public static let istioGroups: Set<String> = Set(all.filter { !$0.isCoreKind }.map(\.group))

    /// Looks up a kind by API group and kind name.
    public static func lookup(group: String, kind: String) -> ResourceKind? {
        all.first { $0.group == group && $0.kind == kind }
    }
}
