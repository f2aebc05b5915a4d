/// A ``ConfigStore`` held in memory; the backing store of every other store and of tests.
public actor InMemoryConfigStore: ConfigStore {
    private var resources: [ResourceKey: AnyResource] = [:]
    private let broadcaster = EventBroadcaster<ConfigEvent>()

    public init(_ initial: [AnyResource] = []) {
        for resource in initial { resources[resource.key] = resource }
    }

    public func list(_ kind: ResourceKind) -> [AnyResource] {
        resources.values.filter { $0.kind == kind }.sorted { $0.key < $1.key }
    }

    public func all() -> [AnyResource] {
        resources.values.sorted { $0.key < $1.key }
    }

    public func get(_ key: ResourceKey) -> AnyResource? {
        resources[key]
    }

    public func changes() -> AsyncStream<ConfigEvent> {
        broadcaster.subscribe()
    }

    /// Adds or replaces a resource. Returns the event emitted, or nil when nothing changed.
    @discardableResult
    public func apply(_ resource: AnyResource) async -> ConfigEvent? {
        let event: ConfigEvent
        if let old = resources[resource.key] {
            guard old != resource else { return nil }
            event = .updated(old: old, new: resource)
        } else {
            event = .added(resource)
        }
        resources[resource.key] = resource
        broadcaster.publish(event)
        return event
    }

    /// Adds or replaces a typed resource.
    @discardableResult
    public func apply<S: ResourceSpec>(_ resource: Resource<S>) async -> ConfigEvent? {
        await apply(resource.erased)
    }

    /// Removes a resource. Returns the event emitted, or nil when it was absent.
    @discardableResult
    public func delete(_ key: ResourceKey) async -> ConfigEvent? {
        guard let old = resources.removeValue(forKey: key) else { return nil }
        let event = ConfigEvent.deleted(old)
        broadcaster.publish(event)
        return event
    }

    /// Ends every change sequence.
    public func shutdown() async {
        broadcaster.finish()
    }
}
