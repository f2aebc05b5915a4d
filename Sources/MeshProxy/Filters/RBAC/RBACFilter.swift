internal import MeshXDS
import NIOHTTP1
public import SwiftProtobuf
import NIOCore
import Synchronization

/// The enforced and shadow rules of one RBAC filter (HTTP or network), compiled once per listener
/// update, with the stat and metadata names Envoy uses.
public struct RBACRules: Sendable {
    /// The enforced engine (`rules`); nil when only shadow rules are configured (everything passes).
    public let enforced: RBACEngine?
    /// The shadow engine (`shadow_rules`): evaluated and counted, never enforced.
    public let shadow: RBACEngine?
    /// Prepended to the enforced counters (`rules_stat_prefix`).
    public let rulesStatPrefix: String
    /// Prepended to the shadow counters and metadata keys (`shadow_rules_stat_prefix`).
    public let shadowRulesStatPrefix: String

    init(rules: Envoy_Config_Rbac_V3_RBAC?, shadow: Envoy_Config_Rbac_V3_RBAC?, rulesStatPrefix: String, shadowRulesStatPrefix: String) throws(FilterConfigurationError) {
        enforced = try rules.map { (r) throws(FilterConfigurationError) in try RBACEngine(r, field: "rules") }
        self.shadow = try shadow.map { (r) throws(FilterConfigurationError) in try RBACEngine(r, field: "shadow_rules") }
        self.rulesStatPrefix = rulesStatPrefix
        self.shadowRulesStatPrefix = shadowRulesStatPrefix
    }

    /// What one evaluation decided and what to record.
    struct Outcome {
        var allowed: Bool
        var enforcedPolicy: String?
        /// Counter names (without the `rbac.` root) to increment.
        var counters: [String]
        /// Dynamic metadata fields to set in the filter's namespace.
        var metadata: Google_Protobuf_Struct
    }

    /// Evaluates shadow rules first (recorded only), then the enforced rules.
    func evaluate(_ attributes: RBACAttributes) -> Outcome {
        var outcome = Outcome(allowed: true, enforcedPolicy: nil, counters: [], metadata: Google_Protobuf_Struct())
        if let shadow {
            let decision = shadow.evaluate(attributes)
            outcome.counters.append(shadowRulesStatPrefix + (decision.allowed ? "shadow_allowed" : "shadow_denied"))
            if let policy = decision.effectivePolicyID {
                outcome.metadata.fields[shadowRulesStatPrefix + "shadow_effective_policy_id"] = Google_Protobuf_Value(stringValue: policy)
            }
            outcome.metadata.fields[shadowRulesStatPrefix + "shadow_engine_result"] = Google_Protobuf_Value(stringValue: decision.allowed ? "allowed" : "denied")
        }
        if let enforced {
            let decision = enforced.evaluate(attributes)
            outcome.enforcedPolicy = decision.effectivePolicyID
            if enforced.action == .log {
                outcome.counters.append(rulesStatPrefix + (decision.effectivePolicyID != nil ? "logged" : "not_logged"))
                outcome.metadata.fields["access_log_hint"] = Google_Protobuf_Value(boolValue: decision.effectivePolicyID != nil)
            } else {
                outcome.allowed = decision.allowed
                outcome.counters.append(rulesStatPrefix + (decision.allowed ? "allowed" : "denied"))
            }
        }
        return outcome
    }
}

/// Envoy's RBAC HTTP filter (`envoy.filters.http.rbac`): evaluates the policies Istio's
/// AuthorizationPolicy becomes against each request's headers, path, connection (addresses, peer
/// certificate principal, SNI) and dynamic metadata (verified JWT claims), and answers
/// `403 RBAC: access denied` when the enforced rules deny it.
///
/// Counts `http.<stat_prefix>.rbac.[<rules_stat_prefix>]allowed|denied` and
/// `rbac.<shadow_rules_stat_prefix>shadow_allowed|shadow_denied`; shadow results are written to
/// the `envoy.filters.http.rbac` dynamic metadata. A route's `RBACPerRoute` replaces the rules
/// (or, without `rbac`, disables the filter for that route).
public struct RBACFilterFactory: HTTPFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
    static let perRouteTypeName = "envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
    /// The dynamic metadata namespace the filter writes.
    public static let metadataNamespace = "envoy.filters.http.rbac"

    /// A route's setting: its own rules, or none (the filter is disabled on the route).
    public struct PerRoute: Sendable {
        /// The route's rules, nil when the route disables the filter.
        public let rules: RBACRules?
    }

    /// The filter-level rules.
    public let rules: RBACRules
    private let perRouteCache = ParsedConfigCache<PerRoute>()

    public init(config: Google_Protobuf_Any) throws {
        rules = try Self.parse(try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(unpackingAny: config))
    }

    static func parse(_ rbac: Envoy_Extensions_Filters_Http_Rbac_V3_RBAC) throws(FilterConfigurationError) -> RBACRules {
        if rbac.trackPerRuleStats { throw FilterConfigurationError.unsupported(field: "track_per_rule_stats", "per-rule stats are not supported by the Swift proxy") }
        return try RBACRules(rules: rbac.hasRules ? rbac.rules : nil, shadow: rbac.hasShadowRules ? rbac.shadowRules : nil,
                             rulesStatPrefix: rbac.rulesStatPrefix, shadowRulesStatPrefix: rbac.shadowRulesStatPrefix)
    }

    public func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
        try perRouteCache.value(for: config) { config in
            guard HTTPFilterRegistry.typeName(config.typeURL) == Self.perRouteTypeName else {
                throw FilterConfigurationError(field: "typed_per_filter_config", "expected \(Self.perRouteTypeName), got \(config.typeURL)")
            }
            let perRoute = try Envoy_Extensions_Filters_Http_Rbac_V3_RBACPerRoute(unpackingAny: config)
            return PerRoute(rules: perRoute.hasRbac ? try Self.parse(perRoute.rbac) : nil)
        }
    }

    public func makeFilter() -> any HTTPFilter { RBACFilter(rules: rules) }
}

/// One request through the RBAC HTTP filter.
final class RBACFilter: HTTPFilter {
    let rules: RBACRules

    init(rules: RBACRules) { self.rules = rules }

    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        var rules = self.rules
        if let perRoute = context.perRouteConfig as? RBACFilterFactory.PerRoute {
            guard let routeRules = perRoute.rules else { return .continue }
            rules = routeRules
        }
        let attributes = context.rbacAttributes(head)
        let outcome = rules.evaluate(attributes)
        for name in outcome.counters { context.counter("rbac." + name).increment() }
        if !outcome.metadata.fields.isEmpty { context.setDynamicMetadata(namespace: RBACFilterFactory.metadataNamespace, outcome.metadata) }
        guard outcome.allowed else {
            context.sendLocalReply(HTTPLocalReply(status: .forbidden, body: "RBAC: access denied",
                                                  details: "rbac_access_denied_matched_policy[\(outcome.enforcedPolicy ?? "none")]",
                                                  flags: .rbacDenied))
            return .stopIteration
        }
        return .continue
    }
}

extension HTTPFilterContext {
    /// The request and connection as RBAC sees them.
    func rbacAttributes(_ head: HTTPRequestHead) -> RBACAttributes {
        let direct = downstreamRemoteAddress?.ipAddress.flatMap(IPAddressBytes.parse) ?? []
        return RBACAttributes(
            request: head,
            scheme: downstreamScheme,
            directRemoteAddress: direct,
            remoteAddress: downstreamEffectiveRemoteAddress(head) ?? direct,
            localAddress: downstreamLocalAddress?.ipAddress.flatMap(IPAddressBytes.parse) ?? [],
            localPort: downstreamLocalAddress?.port ?? 0,
            tls: downstreamTLS,
            dynamicMetadata: allDynamicMetadata)
    }
}
