import Synchronization

/// A change in a service registry.
public enum RegistryEvent: Sendable, Hashable {
    /// Services were added, changed or removed (a full push is needed).
    case servicesChanged(hostnames: Set<String>)
    /// Only endpoints of these hosts changed (an endpoint-only push suffices).
    case endpointsChanged(hostnames: Set<String>)
}

/// A source of services and their workload instances (ServiceEntry, Kubernetes, ...).
///
/// Implementations are safe to call from any task; `changes()` returns a new sequence per call
/// that sees every later event and finishes on shutdown.
public protocol ServiceRegistry: Sendable {
    /// A short name for diagnostics, e.g. `ServiceEntry`.
    var name: String { get }

    /// All services, sorted by hostname then namespace.
    func services() async -> [MeshService]

    /// The instances of `hostname` (in `namespace` when several namespaces define it).
    func instances(of hostname: String, namespace: String?) async -> [WorkloadInstance]

    /// Events for later changes.
    func changes() async -> AsyncStream<RegistryEvent>
}

/// A registry held in memory, for platform adapters and tests.
public actor InMemoryServiceRegistry: ServiceRegistry {
    public nonisolated let name: String
    private var servicesByKey: [String: MeshService] = [:]
    private var instancesByHost: [String: [WorkloadInstance]] = [:]
    private let broadcaster = EventBroadcaster<RegistryEvent>()

    public init(name: String = "Memory") { self.name = name }

    public func services() -> [MeshService] {
        servicesByKey.values.sorted { ($0.hostname, $0.namespace) < ($1.hostname, $1.namespace) }
    }

    public func instances(of hostname: String, namespace: String?) -> [WorkloadInstance] {
        (instancesByHost[hostname] ?? []).filter { namespace == nil || $0.serviceNamespace == namespace }
    }

    public func changes() -> AsyncStream<RegistryEvent> { broadcaster.subscribe() }

    /// Adds or replaces a service.
    public func upsert(_ service: MeshService) async {
        servicesByKey["\(service.namespace)/\(service.hostname)"] = service
        broadcaster.publish(.servicesChanged(hostnames: [service.hostname]))
    }

    /// Removes a service and its instances.
    public func remove(hostname: String, namespace: String) async {
        servicesByKey["\(namespace)/\(hostname)"] = nil
        instancesByHost[hostname]?.removeAll { $0.serviceNamespace == namespace }
        broadcaster.publish(.servicesChanged(hostnames: [hostname]))
    }

    /// Replaces the instances of a service.
    public func setInstances(_ instances: [WorkloadInstance], hostname: String, namespace: String) async {
        instancesByHost[hostname, default: []].removeAll { $0.serviceNamespace == namespace }
        instancesByHost[hostname, default: []] += instances
        broadcaster.publish(.endpointsChanged(hostnames: [hostname]))
    }
}

/// Combines several registries; services from earlier registries win a hostname+namespace clash.
public struct AggregateServiceRegistry: ServiceRegistry {
    public let registries: [any ServiceRegistry]
    public var name: String { "Aggregate(" + registries.map(\.name).joined(separator: ",") + ")" }

    public init(_ registries: [any ServiceRegistry]) { self.registries = registries }

    public func services() async -> [MeshService] {
        var seen: Set<String> = []
        var result: [MeshService] = []
        for registry in registries {
            for service in await registry.services() where seen.insert("\(service.namespace)/\(service.hostname)").inserted {
                result.append(service)
            }
        }
        return result.sorted { ($0.hostname, $0.namespace) < ($1.hostname, $1.namespace) }
    }

    public func instances(of hostname: String, namespace: String?) async -> [WorkloadInstance] {
        var result: [WorkloadInstance] = []
        for registry in registries { result += await registry.instances(of: hostname, namespace: namespace) }
        return result
    }

    public func changes() async -> AsyncStream<RegistryEvent> {
        var streams: [AsyncStream<RegistryEvent>] = []
        for registry in registries { streams.append(await registry.changes()) }
        let sources = streams
        return AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    for stream in sources {
                        group.addTask {
                            for await event in stream { continuation.yield(event) }
                        }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Fans events out to any number of `AsyncStream` subscribers, synchronously and in order.
final class EventBroadcaster<Event: Sendable>: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var next = 0
        var finished = false
    }
    private let state = Mutex(State())

    init() {}

    func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        let id: Int? = state.withLock { state in
            if state.finished { return nil }
            let id = state.next
            state.next += 1
            state.subscribers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: Event) {
        state.withLock { state in
            for c in state.subscribers.values { c.yield(event) }
        }
    }

    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return state.subscribers
        }
        for c in subscribers.values { c.finish() }
    }
}
