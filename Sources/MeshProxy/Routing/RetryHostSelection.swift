internal import MeshXDS
import SwiftProtobuf

/// A route's `retry_host_predicate`: hosts that host selection skips while the request has a
/// retry policy (on its first attempt too), for up to `host_selection_retry_max_attempts` picks.
enum RetryHostPredicate: Sendable, Equatable {
    /// `envoy.retry_host_predicates.previous_hosts`: the hosts earlier attempts used.
    case previousHosts
    /// `envoy.retry_host_predicates.omit_canary_hosts`: hosts whose `envoy.lb` metadata has `canary: true`.
    case omitCanaryHosts
    /// `envoy.retry_host_predicates.omit_host_metadata`: hosts whose `envoy.lb` metadata holds every
    /// one of these values.
    case omitHostMetadata([String: Google_Protobuf_Value])

    static let previousHostsName = "envoy.retry_host_predicates.previous_hosts"
    static let omitCanaryHostsName = "envoy.retry_host_predicates.omit_canary_hosts"
    static let omitHostMetadataName = "envoy.retry_host_predicates.omit_host_metadata"

    /// The extension name.
    var name: String {
        switch self {
        case .previousHosts: Self.previousHostsName
        case .omitCanaryHosts: Self.omitCanaryHostsName
        case .omitHostMetadata: Self.omitHostMetadataName
        }
    }

    /// The filter-metadata namespace load balancing reads (`canary`, the metadata to omit).
    static let loadBalancingNamespace = "envoy.lb"

    init(_ proto: Envoy_Config_Route_V3_RetryPolicy.RetryHostPredicate, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        let typeName = proto.configType == nil ? "" : String(HTTPFilterRegistry.typeName(proto.typedConfig.typeURL))
        switch (proto.name, typeName) {
        case (_, "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"), (Self.previousHostsName, ""):
            self = .previousHosts
        case (_, "envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate"), (Self.omitCanaryHostsName, ""):
            self = .omitCanaryHosts
        case (_, "envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig"):
            let config: Envoy_Extensions_Retry_Host_OmitHostMetadata_V3_OmitHostMetadataConfig
            do {
                config = try Envoy_Extensions_Retry_Host_OmitHostMetadata_V3_OmitHostMetadataConfig(unpackingAny: proto.typedConfig)
            } catch {
                throw context.invalid(field + ".typed_config", "not a valid OmitHostMetadataConfig: \(error)")
            }
            self = .omitHostMetadata(config.metadataMatch.filterMetadata[Self.loadBalancingNamespace]?.fields ?? [:])
        case (Self.omitHostMetadataName, ""):
            self = .omitHostMetadata([:])
        case ("", ""):
            throw context.invalid(field, "a host predicate needs a name or typed_config")
        default:
            let what = typeName.isEmpty ? proto.name : typeName
            throw context.unsupported(field, "retry host predicate '\(what)' is not supported (supported: previous_hosts, omit_canary_hosts, omit_host_metadata)")
        }
    }

    /// Whether host selection should pick again instead of `host`.
    func rejects(_ host: UpstreamHost, previousHosts: [UpstreamHost]) -> Bool {
        switch self {
        case .previousHosts:
            return previousHosts.contains { $0 === host }
        case .omitCanaryHosts:
            return host.isCanary
        case .omitHostMetadata(let match):
            // Envoy's label match: an empty match omits nothing.
            guard !match.isEmpty, let labels = host.metadata[Self.loadBalancingNamespace] else { return false }
            return match.allSatisfy { key, wanted in
                guard let value = labels.fields[key] else { return false }
                // A list on the host matches when any element does (Envoy's `list_as_any`).
                if case .listValue(let list) = value.kind { return list.values.contains(wanted) }
                return value == wanted
            }
        }
    }
}

/// A route's `retry_priority`.
enum RetryPriority: Sendable, Equatable {
    /// `envoy.retry_priorities.previous_priorities`: every `updateFrequency` attempts, the next
    /// attempts leave out the priorities the attempts so far went to, and the load is spread over
    /// the rest by their health; when none is left, every priority is eligible again.
    case previousPriorities(updateFrequency: Int)

    static let previousPrioritiesName = "envoy.retry_priorities.previous_priorities"

    var name: String {
        switch self {
        case .previousPriorities: Self.previousPrioritiesName
        }
    }

    init(_ proto: Envoy_Config_Route_V3_RetryPolicy.RetryPriority, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        let typeName = proto.configType == nil ? "" : String(HTTPFilterRegistry.typeName(proto.typedConfig.typeURL))
        guard typeName == "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig"
            || (typeName.isEmpty && proto.name == Self.previousPrioritiesName)
        else {
            let what = typeName.isEmpty ? proto.name : typeName
            if what.isEmpty { throw context.invalid(field, "a retry priority needs a name or typed_config") }
            throw context.unsupported(field, "retry priority '\(what)' is not supported (supported: previous_priorities)")
        }
        guard proto.configType != nil else {
            throw context.invalid(field + ".typed_config", "previous_priorities needs its PreviousPrioritiesConfig (update_frequency)")
        }
        let config: Envoy_Extensions_Retry_Priority_PreviousPriorities_V3_PreviousPrioritiesConfig
        do {
            config = try Envoy_Extensions_Retry_Priority_PreviousPriorities_V3_PreviousPrioritiesConfig(unpackingAny: proto.typedConfig)
        } catch {
            throw context.invalid(field + ".typed_config", "not a valid PreviousPrioritiesConfig: \(error)")
        }
        guard config.updateFrequency > 0 else {
            throw context.invalid(field + ".typed_config.update_frequency", "must be greater than 0")
        }
        self = .previousPriorities(updateFrequency: Int(config.updateFrequency))
    }

    /// The priorities the next attempt must leave out, given the priorities of the attempts so
    /// far (in order), or nil to use the cluster's own priority load.
    func excludedPriorities(attempted: [UInt32]) -> Set<UInt32>? {
        switch self {
        case .previousPriorities(let frequency):
            guard attempted.count >= frequency else { return nil }
            // Recomputed every `frequency` attempts from the attempts up to that point.
            let counted = attempted.count - attempted.count % frequency
            return Set(attempted.prefix(counted))
        }
    }
}
