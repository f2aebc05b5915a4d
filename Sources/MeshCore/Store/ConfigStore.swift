/// A change to the configuration held by a ``ConfigStore``.
public enum ConfigEvent: Sendable, Hashable {
    case added(AnyResource)
    case updated(old: AnyResource, new: AnyResource)
    case deleted(AnyResource)

    /// The resource the event is about (the new version for updates).
    public var resource: AnyResource {
        switch self {
        case .added(let r), .deleted(let r): r
        case .updated(_, let r): r
        }
    }
}

/// Holds Istio configuration and tells subscribers when it changes.
///
/// Implementations are safe to use from any task. `changes()` may be called any number of
/// times; each call returns an independent sequence that sees every event after the call.
/// The sequence finishes when the store is shut down.
public protocol ConfigStore: Sendable {
    /// All resources of `kind`, sorted by namespace and name.
    func list(_ kind: ResourceKind) async -> [AnyResource]

    /// Every resource in the store, sorted by kind, namespace and name.
    func all() async -> [AnyResource]

    /// The resource with `key`, if present.
    func get(_ key: ResourceKey) async -> AnyResource?

    /// Events for every later change.
    func changes() async -> AsyncStream<ConfigEvent>
}

extension ConfigStore {
    /// All resources of spec type `S`, typed.
    public func list<S: ResourceSpec>(_ type: S.Type) async -> [Resource<S>] {
        await list(S.kind).compactMap { $0.typed(as: S.self) }
    }
}
