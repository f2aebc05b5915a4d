internal import MeshXDS

/// One `request_mirror_policies` entry: a copy of the request sent to another cluster, whose response
/// is ignored.
public struct RequestMirrorPolicy: Sendable {
    /// The mirror cluster; empty when ``clusterHeader`` names it.
    public let cluster: String
    /// A request header whose value names the mirror cluster.
    public let clusterHeader: String?
    /// The share of requests mirrored (`runtime_fraction.default_value`; everything when unset).
    public let fraction: RuntimeFraction
    /// Whether the mirrored request's trace is sampled; nil keeps the original's decision.
    public let traceSampled: Bool?
    /// Whether the mirrored request keeps the authority as is instead of appending `-shadow`.
    public let disableShadowHostSuffixAppend: Bool
    /// The authority for the mirrored request, if rewritten.
    public let hostRewriteLiteral: String?

    init(_ proto: Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        if proto.cluster.isEmpty == proto.clusterHeader.isEmpty {
            throw context.invalid(field, "exactly one of cluster and cluster_header must be set")
        }
        cluster = proto.cluster
        clusterHeader = proto.clusterHeader.isEmpty ? nil : ASCII.lowercased(proto.clusterHeader)
        if proto.hasRuntimeFraction {
            guard proto.runtimeFraction.hasDefaultValue else {
                throw context.invalid(field + ".runtime_fraction.default_value", "default_value is required")
            }
            fraction = try context.fraction(proto.runtimeFraction.defaultValue, field + ".runtime_fraction.default_value")
        } else {
            fraction = .all
        }
        traceSampled = proto.hasTraceSampled ? proto.traceSampled.value : nil
        disableShadowHostSuffixAppend = proto.disableShadowHostSuffixAppend
        hostRewriteLiteral = proto.hostRewriteLiteral.isEmpty ? nil : proto.hostRewriteLiteral
    }

    /// Whether to mirror a request, given a random value drawn for this decision.
    public func shouldMirror(random: UInt64) -> Bool {
        fraction.admits(random)
    }

    /// The mirror cluster for a request, or nil when the naming header is absent.
    public func cluster(for request: RouteRequest) -> String? {
        guard let header = clusterHeader else { return cluster }
        guard let value = request.headers.first(name: header), !value.isEmpty else { return nil }
        return value
    }
}
