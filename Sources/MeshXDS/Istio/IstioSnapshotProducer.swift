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
/// Proxies that connect over TLS with a client certificate can be served secrets (gateway
/// credentials, ``SecretGenerator``): give a second cache as `verifiedCache`, serve it from the
/// TLS server, and wire that server with ``verifiedCallbacks(identity:)``, which reports each
/// connection's proven identity. Snapshots with secrets only ever go to `verifiedCache`, so a
/// plaintext connection claiming the same node id cannot read them.
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
        case connected(connectionID: String, node: Envoy_Config_Core_V3_Node, channel: Channel)
        case disconnected(connectionID: String)
    }

    /// Which server a proxy reached: the plaintext one, or the TLS one with the identity its
    /// client certificate proved (nil when it showed none).
    enum Channel: Sendable, Hashable {
        case plain
        case verified(VerifiedProxyIdentity?)
    }

    /// A proxy as the producer tracks it: its node id and whether it came through the TLS server
    /// (whose snapshots go to the verified cache).
    struct ProxyKey: Hashable, Comparable {
        var nodeID: String
        var secure: Bool
        static func < (lhs: ProxyKey, rhs: ProxyKey) -> Bool { lhs.nodeID != rhs.nodeID ? lhs.nodeID < rhs.nodeID : !lhs.secure && rhs.secure }
    }

    /// What the producer knows about one connected proxy.
    struct ConnectedProxy {
        var node: Envoy_Config_Core_V3_Node
        var view: ProxyView
        var connections: Set<String>
        /// The gateway translation problems last logged for it, each logged once while it stays.
        var reportedProblems: Set<String> = []
    }

    private let store: any ConfigStore
    private let registry: (any ServiceRegistry)?
    private let mesh: MeshConfig
    private let options: TranslationOptions
    private let generators: GeneratorRegistry
    private let cache: SnapshotCache
    private let verifiedCache: SnapshotCache?
    private let logger: Logger
    private let debouncer: Debouncer<ContinuousClock>
    private let events: AsyncStream<ProxyEvent>
    private let eventSink: AsyncStream<ProxyEvent>.Continuation

    private var proxies: [ProxyKey: ConnectedProxy] = [:]
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
    ///   - verifiedCache: where the snapshots of proxies reported by ``verifiedCallbacks(identity:)``
    ///     go (the TLS server watches it); nil serves them like any other proxy, without secrets.
    public init(
        store: any ConfigStore, registry: (any ServiceRegistry)? = nil, mesh: MeshConfig = MeshConfig(),
        options: TranslationOptions = TranslationOptions(), generators: GeneratorRegistry = .standard, cache: SnapshotCache,
        quietPeriod: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10),
        logger: Logger = Logger(label: "swiftmesh.xds.istio"), verifiedCache: SnapshotCache? = nil
    ) {
        self.verifiedCache = verifiedCache
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
        self.callbacks = ProxyEventCallbacks(sink: sink, identity: nil)
    }

    /// Server hooks for the TLS server whose streams read `verifiedCache`: each connection's
    /// identity comes from `identity` (the SPIFFE ID of the client certificate the transport
    /// verified, nil when none), and only a proxy whose identity's namespace is its node's own is
    /// served secrets of that namespace.
    /// - Parameter identity: looks up the verified identity of a connection, by its peer address.
    ///   Called once per request that names a node; keep it quick.
    public nonisolated func verifiedCallbacks(
        identity: @escaping @Sendable (XDSConnectionInfo) -> VerifiedProxyIdentity?
    ) -> any XDSServerCallbacks {
        ProxyEventCallbacks(sink: eventSink, identity: identity)
    }

    /// The mesh view the last push was computed from (for `/debug/configz`).
    public var currentMeshSnapshot: MeshSnapshot { meshSnapshot }

    /// How many full recomputations have run.
    public var pushes: Int { pushCount }

    /// Node ids of the proxies currently connected.
    public var connectedProxies: [String] { Set(proxies.keys.map(\.nodeID)).sorted() }

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
        case .connected(let connectionID, let node, let channel):
            let secure = channel != .plain && verifiedCache != nil
            let key = ProxyKey(nodeID: node.id, secure: secure)
            if var known = proxies[key] {
                known.connections.insert(connectionID)
                proxies[key] = known
                return
            }
            var view: ProxyView
            do {
                view = try ProxyView(node: node)
            } catch {
                logger.error("proxy rejected, no configuration generated: \(error)", metadata: ["node": "\(node.id)"])
                return
            }
            if secure, case .verified(let identity?) = channel {
                if identity.namespace == view.namespace {
                    view.verifiedIdentity = identity
                } else {
                    // Istio refuses such a connection; here it gets configuration but no secrets.
                    logger.warning("proxy's certificate identity is not in its node's namespace; it gets no secrets",
                                   metadata: ["node": "\(node.id)", "identity": "\(identity)"])
                }
            }
            proxies[key] = ConnectedProxy(node: node, view: view, connections: [connectionID])
            logger.info("proxy connected", metadata: ["node": "\(node.id)", "identity": "\(view.verifiedIdentity.map(\.description) ?? "-")"])
            await update(key, full: true)
        case .disconnected(let connectionID):
            for (key, var proxy) in proxies where proxy.connections.contains(connectionID) {
                proxy.connections.remove(connectionID)
                if proxy.connections.isEmpty {
                    proxies[key] = nil
                    await cache(for: key).clearSnapshot(for: key.nodeID)
                    logger.info("proxy disconnected", metadata: ["node": "\(key.nodeID)"])
                } else {
                    proxies[key] = proxy
                }
            }
        }
    }

    private func push(_ request: PushRequest) async {
        await rebuildMesh()
        pushCount += 1
        logger.debug("push", metadata: ["full": "\(request.full)", "reasons": "\(request.reasons)", "proxies": "\(proxies.count)"])
        for key in proxies.keys.sorted() { await update(key, full: request.full) }
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
    private func update(_ key: ProxyKey, full: Bool) async {
        guard let proxy = proxies[key] else { return }
        let nodeID = key.nodeID
        let cache = cache(for: key)
        let previous = await cache.snapshot(for: nodeID)
        var next = previous ?? Snapshot()
        let types = full || previous == nil ? generators.typeURLs : [EnvoyTypeURL.clusterLoadAssignment]
        let sharingKey = sharing.key(for: proxy.view)
        for typeURL in types {
            guard let generator = generators.generator(for: typeURL) else { continue }
            // A type's version digests its resources' versions, so unchanged content keeps it.
            if let sharingKey, generator.splitsSharedPart {
                let shared = sharedPart(typeURL, key: sharingKey, proxy: proxy.view)
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
        if full, proxy.view.type == .router {
            // Gateway servers translation left out (a secret that needs SDS, a port conflict) and
            // clusters waiting for a secret: each problem once while it stays, and again when its
            // text changes (a hint that a secret of that name exists in another namespace, say),
            // whether or not the proxy's resources changed.
            var problems: [String] = GatewayListenerBuilder.problems(snapshot: meshSnapshot, proxy: proxy.view, options: options)
                .map { "gateway server left out: \($0)" }
            problems += SecurityTranslation.diagnostics(snapshot: meshSnapshot, proxy: proxy.view, options: options)
                .filter { $0.field.hasSuffix("credentialName") }.map { "gateway cluster waits for a secret: \($0)" }
            for problem in problems where !proxy.reportedProblems.contains(problem) {
                logger.warning("\(problem)", metadata: ["node": "\(nodeID)"])
            }
            proxies[key]?.reportedProblems = Set(problems)
        }
        guard next != previous else { return }
        do {
            try await cache.setSnapshot(next, for: nodeID)
        } catch {
            logger.error("generated configuration is inconsistent, proxy keeps its last one: \(error)", metadata: ["node": "\(nodeID)"])
        }
    }

    /// The cache a proxy's snapshots go to: the verified one for proxies of the TLS server.
    private func cache(for key: ProxyKey) -> SnapshotCache {
        key.secure ? verifiedCache ?? cache : cache
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

    /// The configuration held for a proxy as protobuf JSON, by type URL (for `/debug/config_dump`);
    /// private keys of secrets are redacted.
    public func configDump(_ nodeID: String) async -> String? {
        var found = await cache.snapshot(for: nodeID)
        if found == nil, let verifiedCache { found = await verifiedCache.snapshot(for: nodeID) }
        guard let snapshot = found else { return nil }
        EnvoyAnyTypes.register()
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        var sections: [String] = []
        for typeURL in snapshot.resources.keys.sorted() {
            let resources = snapshot.resources[typeURL]!
            let items = resources.sorted { _ in true }.map { item -> String in
                var resource = item.resource
                // Private keys never leave istiod in a dump (Envoy's admin redacts them too).
                if typeURL == EnvoyTypeURL.secret, var secret = try? Envoy_Extensions_TransportSockets_Tls_V3_Secret(unpackingAny: resource) {
                    if case .tlsCertificate? = secret.type { secret.tlsCertificate.privateKey = .with { $0.inlineString = "[redacted]" } }
                    resource = (try? Google_Protobuf_Any(message: secret)) ?? resource
                }
                return (try? resource.jsonString(options: options)) ?? "{\"name\": \"\(item.name)\", \"error\": \"not encodable\"}"
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
    /// Set for the TLS server: the verified identity of a connection.
    let identity: (@Sendable (XDSConnectionInfo) -> VerifiedProxyIdentity?)?

    private func channel(_ connection: XDSConnectionInfo) -> IstioSnapshotProducer.Channel {
        identity.map { .verified($0(connection)) } ?? .plain
    }

    func requestReceived(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest, on connection: XDSConnectionInfo) {
        if let node = connection.node { sink.yield(.connected(connectionID: connection.connectionID, node: node, channel: channel(connection))) }
    }

    func deltaRequestReceived(_ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, on connection: XDSConnectionInfo) {
        if let node = connection.node { sink.yield(.connected(connectionID: connection.connectionID, node: node, channel: channel(connection))) }
    }

    func streamClosed(_ connection: XDSConnectionInfo, error: (any Error)?) {
        sink.yield(.disconnected(connectionID: connection.connectionID))
    }
}
