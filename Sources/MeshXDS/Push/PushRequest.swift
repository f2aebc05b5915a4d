public import MeshCore

/// Why and what to push to proxies after configuration or registry changes.
///
/// Requests merge: a full push absorbs an endpoint-only one, and the changed sets are united,
/// as Istio's `PushRequest.Merge` does.
public struct PushRequest: Sendable, Hashable {
    /// Whether anything besides endpoints changed (clusters, listeners and routes must be recomputed).
    public var full: Bool
    /// Config resources that changed (empty for registry-only changes).
    public var changedConfigs: Set<ResourceKey>
    /// Service host names whose services or endpoints changed.
    public var changedHosts: Set<String>
    /// Short reasons for operators (`config`, `endpoint`, `service`, ...), with counts.
    public var reasons: [String: Int]

    public init(full: Bool, changedConfigs: Set<ResourceKey> = [], changedHosts: Set<String> = [], reason: String) {
        self.full = full
        self.changedConfigs = changedConfigs
        self.changedHosts = changedHosts
        self.reasons = [reason: 1]
    }

    /// A request for a config change.
    public static func config(_ key: ResourceKey) -> PushRequest {
        PushRequest(full: true, changedConfigs: [key], reason: "config")
    }

    /// A request for changed endpoints only.
    public static func endpoints(_ hosts: Set<String>) -> PushRequest {
        PushRequest(full: false, changedHosts: hosts, reason: "endpoint")
    }

    /// A request for changed services.
    public static func services(_ hosts: Set<String>) -> PushRequest {
        PushRequest(full: true, changedHosts: hosts, reason: "service")
    }

    /// This request combined with `other`.
    public func merging(_ other: PushRequest) -> PushRequest {
        var merged = self
        merged.full = full || other.full
        merged.changedConfigs.formUnion(other.changedConfigs)
        merged.changedHosts.formUnion(other.changedHosts)
        merged.reasons.merge(other.reasons, uniquingKeysWith: +)
        return merged
    }
}
