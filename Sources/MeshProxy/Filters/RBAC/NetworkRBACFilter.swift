internal import MeshXDS
import NIOCore
public import SwiftProtobuf

/// Envoy's RBAC network filter (`envoy.filters.network.rbac`), which Istio puts before
/// `tcp_proxy` and before the HTTP connection manager: evaluates the policies against the
/// connection (addresses, ports, peer certificate principal, SNI, connection metadata) when the
/// first bytes arrive (`ONE_TIME_ON_FIRST_BYTE`) or on every read (`CONTINUOUS`), and closes a
/// denied connection without flushing. HTTP-only permissions (headers, paths) never match here.
///
/// Counts `<stat_prefix>rbac.allowed|denied` and `…rbac.<shadow_rules_stat_prefix>shadow_allowed|shadow_denied`
/// (Istio: `tcp.rbac.denied`); shadow results go to the `envoy.filters.network.rbac` metadata.
public struct NetworkRBACFilterFactory: NetworkFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
    /// The dynamic metadata namespace the filter writes.
    public static let metadataNamespace = "envoy.filters.network.rbac"

    /// The compiled rules.
    public let rules: RBACRules
    /// The stat prefix, ending in `rbac.`.
    public let statPrefix: String
    /// Whether every read is checked (`CONTINUOUS`) or only the first (`ONE_TIME_ON_FIRST_BYTE`).
    public let continuous: Bool

    public init(config: Google_Protobuf_Any) throws {
        let rbac = try Envoy_Extensions_Filters_Network_Rbac_V3_RBAC(unpackingAny: config)
        guard !rbac.statPrefix.isEmpty else { throw FilterConfigurationError(field: "stat_prefix", "must not be empty") }
        if rbac.hasDelayDeny, rbac.delayDeny.seconds != 0 || rbac.delayDeny.nanos != 0 {
            throw FilterConfigurationError.unsupported(field: "delay_deny", "delayed denial is not supported by the Swift proxy")
        }
        rules = try RBACRules(rules: rbac.hasRules ? rbac.rules : nil, shadow: rbac.hasShadowRules ? rbac.shadowRules : nil,
                              rulesStatPrefix: "", shadowRulesStatPrefix: rbac.shadowRulesStatPrefix)
        // Envoy joins the prefix and `rbac.` with a dot unless the prefix already ends in one.
        statPrefix = (rbac.statPrefix.hasSuffix(".") ? rbac.statPrefix : rbac.statPrefix + ".") + "rbac."
        switch rbac.enforcementType {
        case .oneTimeOnFirstByte: continuous = false
        case .continuous: continuous = true
        case .UNRECOGNIZED(let raw): throw FilterConfigurationError(field: "enforcement_type", "unknown enforcement type \(raw)")
        }
    }

    public func makeFilter() -> any NetworkFilter { NetworkRBACFilter(factory: self) }
}

/// One connection through the RBAC network filter.
final class NetworkRBACFilter: NetworkFilter {
    private let factory: NetworkRBACFilterFactory
    private var decided = false

    init(factory: NetworkRBACFilterFactory) { self.factory = factory }

    func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
        if decided, !factory.continuous { return .continue }
        let attributes = RBACAttributes(
            directRemoteAddress: context.remoteAddress?.ipAddress.flatMap(IPAddressBytes.parse) ?? [],
            localAddress: context.localAddress?.ipAddress.flatMap(IPAddressBytes.parse) ?? [],
            localPort: context.localAddress?.port ?? 0,
            tls: context.downstreamTLS,
            dynamicMetadata: context.allDynamicMetadata)
        let outcome = factory.rules.evaluate(attributes)
        // Shadow results are recorded once per connection, as Envoy does.
        let counters = decided ? outcome.counters.filter { !$0.hasSuffix("shadow_allowed") && !$0.hasSuffix("shadow_denied") } : outcome.counters
        decided = true
        for name in counters { context.counter(factory.statPrefix + name).increment() }
        if !outcome.metadata.fields.isEmpty { context.setDynamicMetadata(namespace: NetworkRBACFilterFactory.metadataNamespace, outcome.metadata) }
        guard outcome.allowed else {
            context.close()
            return .stopIteration
        }
        return .continue
    }
}
