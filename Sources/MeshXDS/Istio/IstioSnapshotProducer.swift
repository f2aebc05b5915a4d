public import Logging
public import MeshCore
import SwiftProtobuf

/// Keeps a ``SnapshotCache`` filled with Istio translation for every connected proxy.
///
/// The producer follows a ``ConfigStore`` and a ``ServiceRegistry``; their changes are debounced
/// (Istio's 100 ms quiet period, 10 s at most), a new ``MeshSnapshot`` is built, and each
/// connected proxy's resources are generated again. A proxy's snapshot is replaced only when its
/// resources changed, and each type keeps its version while its content is unchanged, so only
/// proxies whose resources changed get a push and an endpoint-only change sends only EDS.
///
/// Wire it to the server with ``callbacks``: the server reports proxies as their first request
/// names the node, and their streams closing.
///
/// ```swift
/// let cache = SnapshotCache()
/// let producer = IstioSnapshotProducer(store: store, registry: registry, cache: cache)
/// let server = AggregatedDiscoveryServer(watcher: cache, callbacks: producer.callbacks)
/// try await producer.run()
/// ```
public actor IstioSnapshotProducer {
    /// Lifecycle of a proxy as the server reports it.
    enum ProxyEvent: Sendable {
        case connected(connectionID: String, node: Envoy_Config_Core_V3_Node)
        case disconnected(connectionID: String)
    }

    /// What the producer knows about one connected proxy.
    struct ConnectedProxy {
        var node: Envoy_Config_Core_V3_Node
        var view: ProxyView
        var connections: Set<String>
    }

    private let store: any ConfigStore
    private let registry: (any ServiceRegistry)?
    private let mesh: MeshConfig
    private let options: TranslationOptions
    private let generators: GeneratorRegistry
    private let cache: SnapshotCache
    private let logger: Logger
    private let debouncer: Debouncer<ContinuousClock>
    private let events: AsyncStream<ProxyEvent>
    private let eventSink: AsyncStream<ProxyEvent>.Continuation

    private var proxies: [String: ConnectedProxy] = [:]
    private var meshSnapshot: MeshSnapshot
    private var sharing: OutboundSharing
    /// Shared parts generated from the current mesh snapshot, by type URL and sharing key.
    private var sharedParts: [String: [OutboundSharingKey: SharedPart]] = [:]
    /// The previous mesh snapshot's shared parts: an unchanged part is reused from there, so
    /// snapshots keep sharing one storage and compare equal without looking at every resource.
    private var previousSharedParts: [String: [OutboundSharingKey: SharedPart]] = [:]
    private var generation = 0
    private var pushCount = 0
    private var envoyFilterProblems: Set<EnvoyFilterDiagnostic> = []

    /// Server hooks that report connecting and disconnecting proxies to this producer.
    public nonisolated let callbacks: any XDSServerCallbacks

    /// - Parameters:
    ///   - store: the Istio configuration.
    ///   - registry: services and endpoints from platform registries, if any. ServiceEntries and
    ///     WorkloadEntries in `store` are converted by the snapshot itself; do not pass a
    ///     ``ServiceEntryRegistry`` over the same store.
    ///   - mesh: mesh-wide settings.
    ///   - options: translation options.
    ///   - generators: the resource generators per type URL.
    ///   - cache: where proxies' snapshots go; the ADS server watches it.
    ///   - quietPeriod / maximumDelay: debounce settings.
    public init(
        store: any ConfigStore, registry: (any ServiceRegistry)? = nil, mesh: MeshConfig = MeshConfig(),
        options: TranslationOptions = TranslationOptions(), generators: GeneratorRegistry = .standard, cache: SnapshotCache,
        quietPeriod: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10),
        logger: Logger = Logger(label: "swiftmesh.xds.istio")
    ) {
        self.store = store
        self.registry = registry
        self.mesh = mesh
        self.options = options
        self.generators = generators
        self.cache = cache
        self.logger = logger
        self.debouncer = Debouncer(clock: ContinuousClock(), quietPeriod: quietPeriod, maximumDelay: maximumDelay)
        self.meshSnapshot = MeshSnapshot(resources: [], mesh: mesh, domainSuffix: options.domainSuffix)
        self.sharing = OutboundSharing(snapshot: meshSnapshot)
        let (events, sink) = AsyncStream.makeStream(of: ProxyEvent.self)
        self.events = events
        self.eventSink = sink
        self.callbacks = ProxyEventCallbacks(sink: sink)
    }

    /// The mesh view the last push was computed from (for `/debug/configz`).
    public var currentMeshSnapshot: MeshSnapshot { meshSnapshot }

    /// How many full recomputations have run.
    public var pushes: Int { pushCount }

    /// Node ids of the proxies currently connected.
    public var connectedProxies: [String] { proxies.keys.sorted() }

    /// Builds the first mesh view, then follows config, registry and proxy events until cancelled.
    public func run() async {
        await rebuildMesh()
        let configChanges = await store.changes()
        let registryChanges = await registry?.changes()
        let debouncer = self.debouncer
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in configChanges {
                    // WorkloadEntries only change endpoints (Istio pushes EDS for them).
                    if event.resource.kind == .workloadEntry {
                        var request = PushRequest.endpoints([])
                        request.changedConfigs = [event.resource.key]
                        await debouncer.submit(request)
                    } else {
                        await debouncer.submit(.config(event.resource.key))
                    }
                }
            }
            if let registryChanges {
                group.addTask {
                    for await event in registryChanges {
                        switch event {
                        case .endpointsChanged(let hosts): await debouncer.submit(.endpoints(hosts))
                        case .servicesChanged(let hosts): await debouncer.submit(.services(hosts))
                        }
                    }
                }
            }
            group.addTask { [events] in
                for await event in events { await self.handle(event) }
            }
            group.addTask {
                for await request in debouncer.pushes { await self.push(request) }
            }
            // Cancelling run() cancels every child; their `for await` loops then end.
            await group.waitForAll()
        }
    }

    /// Stops following events (ends ``run()``'s sequences that this producer owns).
    public func finish() async {
        eventSink.finish()
        await debouncer.finish()
    }

    private func handle(_ event: ProxyEvent) async {
        switch event {
        case .connected(let connectionID, let node):
            if var known = proxies[node.id] {
                known.connections.insert(connectionID)
                proxies[node.id] = known
                return
            }
            let view: ProxyView
            do {
                view = try ProxyView(node: node)
            } catch {
                logger.error("proxy rejected, no configuration generated: \(error)", metadata: ["node": "\(node.id)"])
                return
            }
            proxies[node.id] = ConnectedProxy(node: node, view: view, connections: [connectionID])
            logger.info("proxy connected", metadata: ["node": "\(node.id)"])
            await update(node.id, full: true)
        case .disconnected(let connectionID):
            for (id, var proxy) in proxies where proxy.connections.contains(connectionID) {
                proxy.connections.remove(connectionID)
                if proxy.connections.isEmpty {
                    proxies[id] = nil
                    await cache.clearSnapshot(for: id)
                    logger.info("proxy disconnected", metadata: ["node": "\(id)"])
                } else {
                    proxies[id] = proxy
                }
            }
        }
    }

    private func push(_ request: PushRequest) async {
        await rebuildMesh()
        pushCount += 1
        logger.debug("push", metadata: ["full": "\(request.full)", "reasons": "\(request.reasons)", "proxies": "\(proxies.count)"])
        for id in proxies.keys.sorted() { await update(id, full: request.full) }
    }

    private func rebuildMesh() async {
        meshSnapshot = await MeshSnapshot.build(store: store, registry: registry, mesh: mesh, domainSuffix: options.domainSuffix)
        sharing = OutboundSharing(snapshot: meshSnapshot)
        previousSharedParts = sharedParts
        sharedParts = [:]
        generation += 1
        reportEnvoyFilterProblems()
    }

    /// Logs each EnvoyFilter patch that is skipped (undecodable or unsupported), once while it stays.
    private func reportEnvoyFilterProblems() {
        let problems = EnvoyFilterPatches.diagnostics(in: meshSnapshot)
        for problem in problems where !envoyFilterProblems.contains(problem) { logger.warning("\(problem)") }
        envoyFilterProblems = Set(problems)
    }

    /// Regenerates one proxy's resources and stores them when they changed.
    ///
    /// An endpoint-only update regenerates EDS and keeps the other types from the stored snapshot.
    private func update(_ nodeID: String, full: Bool) async {
        guard let proxy = proxies[nodeID] else { return }
        let previous = await cache.snapshot(for: nodeID)
        var next = previous ?? Snapshot()
        let types = full || previous == nil ? generators.typeURLs : [EnvoyTypeURL.clusterLoadAssignment]
        let key = sharing.key(for: proxy.view)
        for typeURL in types {
            guard let generator = generators.generator(for: typeURL) else { continue }
            // A type's version digests its resources' versions, so unchanged content keeps it.
            if let key, generator.splitsSharedPart {
                let shared = sharedPart(typeURL, key: key, proxy: proxy.view)
                let own = Snapshot.ResourceSet(Self.pack(generators.generate(
                    typeURL, GenerationRequest(snapshot: meshSnapshot, proxy: proxy.view, options: options, part: .own)) ?? []))
                let version = own.isEmpty ? shared.digest : Self.digest(shared.digest + "|" + Self.versions(of: own))
                next.resources[typeURL] = Snapshot.Resources(version: version, shared: shared.set, own: own)
            } else {
                // Whole, through the registry, which applies EnvoyFilters last.
                let own = Snapshot.ResourceSet(Self.pack(generators.generate(
                    typeURL, GenerationRequest(snapshot: meshSnapshot, proxy: proxy.view, options: options)) ?? []))
                next.resources[typeURL] = Snapshot.Resources(version: Self.digest(Self.versions(of: own)), shared: Snapshot.ResourceSet(), own: own)
            }
        }
        guard next != previous else { return }
        if full, proxy.view.type == .router {
            // Gateway servers translation left out (a secret that needs SDS, a port conflict), once per change.
            for problem in GatewayListenerBuilder.problems(snapshot: meshSnapshot, proxy: proxy.view, options: options) {
                logger.warning("gateway server left out: \(problem)", metadata: ["node": "\(nodeID)"])
            }
        }
        do {
            try await cache.setSnapshot(next, for: nodeID)
        } catch {
            logger.error("generated configuration is inconsistent, proxy keeps its last one: \(error)", metadata: ["node": "\(nodeID)"])
        }
    }

    /// A type's resources shared by proxies with the same key, generated and packed once per mesh snapshot.
    struct SharedPart {
        var set: Snapshot.ResourceSet
        var digest: String
    }

    private func sharedPart(_ typeURL: String, key: OutboundSharingKey, proxy: ProxyView) -> SharedPart {
        if let part = sharedParts[typeURL]?[key] { return part }
        let request = GenerationRequest(snapshot: meshSnapshot, proxy: proxy, options: options, part: .shared)
        let set = Snapshot.ResourceSet(Self.pack(generators.generate(typeURL, request) ?? []))
        var part = SharedPart(set: set, digest: Self.digest(Self.versions(of: set)))
        if let earlier = previousSharedParts[typeURL]?[key], earlier.digest == part.digest, earlier.set == part.set { part = earlier }
        sharedParts[typeURL, default: [:]][key] = part
        return part
    }

    /// Serializes each resource once (deterministically, so unchanged content keeps its version);
    /// every stream then sends these bytes as they are.
    private static func pack(_ generated: [GeneratedResource]) -> [XDSResource] {
        generated.map { (try? XDSResource($0.message, name: $0.name)) ?? XDSResource(name: $0.name, resource: $0.packed) }
    }

    /// `name=version` of every resource, in name order.
    private static func versions(of set: Snapshot.ResourceSet) -> String {
        set.sorted.map { "\($0.name)=\($0.version)" }.joined(separator: ",")
    }

    /// The configuration held for a proxy as protobuf JSON, by type URL (for `/debug/config_dump`).
    public func configDump(_ nodeID: String) async -> String? {
        guard let snapshot = await cache.snapshot(for: nodeID) else { return nil }
        EnvoyAnyTypes.register()
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        var sections: [String] = []
        for typeURL in snapshot.resources.keys.sorted() {
            let resources = snapshot.resources[typeURL]!
            let items = resources.sorted { _ in true }.map { item -> String in
                (try? item.resource.jsonString(options: options)) ?? "{\"name\": \"\(item.name)\", \"error\": \"not encodable\"}"
            }
            sections.append("  \"\(typeURL)\": {\"version\": \"\(resources.version)\", \"resources\": [\n    \(items.joined(separator: ",\n    "))\n  ]}")
        }
        return "{\n\"node\": \"\(nodeID)\",\n\(sections.joined(separator: ",\n"))\n}\n"
    }

    /// A short stable digest (FNV-1a, 64 bit) of `text`.
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Forwards the server's stream events to the producer.
struct ProxyEventCallbacks: XDSServerCallbacks {
    let sink: AsyncStream<IstioSnapshotProducer.ProxyEvent>.Continuation

    func requestReceived(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest, on connection: XDSConnectionInfo) {
        if let node = connection.node { sink.yield(.connected(connectionID: connection.connectionID, node: node)) }
    }

    func deltaRequestReceived(_ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, on connection: XDSConnectionInfo) {
        if let node = connection.node { sink.yield(.connected(connectionID: connection.connectionID, node: node)) }
    }

    func streamClosed(_ connection: XDSConnectionInfo, error: (any Error)?) {
        sink.yield(.disconnected(connectionID: connection.connectionID))
    }
}
