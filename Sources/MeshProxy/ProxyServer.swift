import GRPCCore
public import GRPCNIOTransportHTTP2
public import Logging
public import MeshXDS
import NIOCore
import NIOPosix
public import ServiceLifecycle
import SwiftProtobuf
import Synchronization

/// The Swift proxy: an xDS-driven data plane. It connects to a control plane over ADS, serves the
/// listeners, routes and clusters it receives, and answers Envoy's admin paths on the admin port.
///
/// ```swift
/// let proxy = ProxyServer(configuration: .init(node: node, xdsHost: "127.0.0.1", xdsPort: 15010,
///                                              adminHost: "127.0.0.5", adminPort: 15000), logger: logger)
/// try await proxy.run()   // until the task is cancelled or /quitquitquit
/// ```
public final class ProxyServer: Service, Sendable {
    /// How to run the proxy.
    public struct Configuration: Sendable {
        /// The node the proxy identifies as (id, cluster, metadata).
        public var node: Envoy_Config_Core_V3_Node
        /// The control plane's ADS address.
        public var xdsHost: String
        /// The control plane's ADS port.
        public var xdsPort: Int
        /// TLS towards the control plane, if any.
        public var xdsTransportSecurity: HTTP2ClientTransport.Posix.TransportSecurity
        /// State of the world or delta.
        public var xdsMode: XDSProtocolMode
        /// Where the admin endpoint listens.
        public var adminHost: String
        /// The admin port (0 picks a free one).
        public var adminPort: Int
        /// Worker event loops (Envoy's `--concurrency`).
        public var workerThreads: Int
        /// The HTTP filters HTTP connection managers may use.
        public var httpFilters: HTTPFilterRegistry
        /// The network filters listener chains may use before their terminal filter.
        public var networkFilters: NetworkFilterRegistry = .standard
        /// Secrets provided in-process (the agent's workload certificate and trust bundle); the
        /// other secrets listeners and clusters name are requested over ADS.
        public var secrets: (any ProxySecretProvider)? = nil

        /// - Parameters: see the properties.
        public init(node: Envoy_Config_Core_V3_Node, xdsHost: String, xdsPort: Int, xdsTransportSecurity: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext,
                    xdsMode: XDSProtocolMode = .stateOfTheWorld, adminHost: String, adminPort: Int,
                    workerThreads: Int = 2, httpFilters: HTTPFilterRegistry = .standard) {
            self.node = node
            self.xdsHost = xdsHost
            self.xdsPort = xdsPort
            self.xdsTransportSecurity = xdsTransportSecurity
            self.xdsMode = xdsMode
            self.adminHost = adminHost
            self.adminPort = adminPort
            self.workerThreads = workerThreads
            self.httpFilters = httpFilters
        }
    }

    let configuration: Configuration
    let logger: Logger
    let state: ProxyStateStore
    let stats = StatsStore()
    let resources = ProxyResources()
    private let listeners = Mutex<[String: ListenerRuntime]>([:])
    /// The same listeners by address, for the connections `use_original_dst` hands over.
    private let listenerDirectory = ListenerDirectory()
    private let shutdownRequested = Mutex<Bool>(false)
    private let shutdownSignal: AsyncStream<Void>.Continuation
    private let shutdownStream: AsyncStream<Void>
    private let adminPortBox = Mutex<Int?>(nil)
    /// When the proxy was created (`server.uptime`).
    let startTime = ContinuousClock.now
    /// The listeners of the last accepted LDS update, kept so a secret arriving later can start
    /// the listeners that were waiting for it.
    private let lastListeners = Mutex<[String: ListenerConfiguration]>([:])
    /// Wakes the one task that applies listeners (LDS updates and secret arrivals), so
    /// applications never run concurrently.
    private let listenerSignal = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// Accepted listeners that could not start, by name: their chains did not compile or their
    /// address did not bind (taken after the update was checked). Like Envoy's listener create
    /// failures they are dropped, so readiness does not wait for them. One that did not bind is
    /// tried again when its address looks free; a changed resource is a new listener.
    private let failedListeners = Mutex<[String: FailedListener]>([:])

    private struct FailedListener {
        var source: Envoy_Config_Listener_V3_Listener
        var bindFailed: Bool
    }
    /// SDS names referenced by listeners and by clusters.
    private let referencedSecrets = Mutex<(listeners: Set<String>, clusters: Set<String>)>(([], []))

    /// - Parameters:
    ///   - configuration: How to run.
    ///   - logger: Where the proxy logs (access log lines at debug level).
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        state = ProxyStateStore(node: configuration.node)
        (shutdownStream, shutdownSignal) = AsyncStream.makeStream(of: Void.self)
    }

    /// The admin port actually bound, once running.
    public var adminPort: Int? { adminPortBox.withLock { $0 } }

    /// Runs until the task is cancelled, graceful shutdown is triggered, or `/quitquitquit`.
    public func run() async throws {
        EnvoyAnyTypes.register()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.workerThreads))
        let admin = AdminServer(source: AdminSource(server: self), logger: logger)
        let adminChannel = try await admin.bind(host: configuration.adminHost, port: configuration.adminPort, group: group)
        adminPortBox.withLock { $0 = adminChannel.localAddress?.port }
        logger.info("admin on \(configuration.adminHost):\(adminChannel.localAddress?.port ?? 0)")

        let transport = try HTTP2ClientTransport.Posix(
            target: Self.xdsTarget(host: configuration.xdsHost, port: configuration.xdsPort),
            transportSecurity: configuration.xdsTransportSecurity,
            config: {
                var config = HTTP2ClientTransport.Posix.Config.defaults
                config.http2.targetWindowSize = 8 * 1024 * 1024
                config.http2.maxFrameSize = 1 << 20
                return config
            }())
        let grpc = GRPCClient(transport: transport)
        let resources = self.resources
        let registry = configuration.httpFilters
        let networkRegistry = configuration.networkFilters
        let updateStats = XDSUpdateStats(stats)
        let xds = XDSClient(client: grpc, node: configuration.advertisedNode, mode: configuration.xdsMode,
                            backoff: .init(initial: .milliseconds(200), maximum: .seconds(10)),
                            validate: { typeURL, items in
                                do {
                                    try resources.validate(typeURL: typeURL, items: items, registry: registry, networkRegistry: networkRegistry,
                                                           checkListener: { try self.checkBindable($0) })
                                    updateStats.accepted(typeURL)
                                } catch {
                                    updateStats.rejected(typeURL)
                                    throw error
                                }
                            })
        await xds.subscribe(EnvoyTypeURL.cluster, .wildcard)
        await xds.subscribe(EnvoyTypeURL.listener, .wildcard)

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { tasks in
                tasks.addTask { try await grpc.runConnections() }
                tasks.addTask { await xds.run() }
                tasks.addTask { await self.follow(EnvoyTypeURL.cluster, xds: xds, group: group) }
                tasks.addTask { await self.follow(EnvoyTypeURL.clusterLoadAssignment, xds: xds, group: group) }
                tasks.addTask { await self.follow(EnvoyTypeURL.listener, xds: xds, group: group) }
                tasks.addTask { await self.follow(EnvoyTypeURL.routeConfiguration, xds: xds, group: group) }
                tasks.addTask { await self.follow(EnvoyTypeURL.secret, xds: xds, group: group) }
                if let provider = self.configuration.secrets {
                    let secrets = self.state.secrets
                    tasks.addTask {
                        for await snapshot in provider.updates() { secrets.replace(owned: provider.secretNames, with: snapshot) }
                    }
                }
                tasks.addTask {
                    // A secret that arrives (or changes) may let waiting listeners start.
                    for await _ in self.state.secrets.changes() { self.listenerSignal.continuation.yield(()) }
                }
                tasks.addTask {
                    for await _ in self.listenerSignal.stream {
                        await self.apply(listeners: self.lastListeners.withLock { $0 }, xds: xds, group: group)
                    }
                }
                for await _ in self.shutdownStream { break }
                tasks.cancelAll()
                grpc.beginGracefulShutdown()
            }
        } onGracefulShutdown: {
            self.requestShutdown()
        }
        for listener in listeners.withLock({ Array($0.values) }) { await listener.stop() }
        for cluster in state.current.clusters.values { cluster.shutdown() }
        try? await adminChannel.close()
        try? await group.shutdownGracefully()
        logger.info("proxy stopped")
    }

    /// An IP literal as an IP target (over TLS, a DNS target would send the address as SNI, which
    /// TLS forbids), anything else as a DNS name.
    static func xdsTarget(host: String, port: Int) -> any ResolvableTarget {
        if IPAddressBytes.parse(host)?.count == 16 { return .ipv6(address: host, port: port) }
        if IPAddressBytes.parse(host)?.count == 4 { return .ipv4(address: host, port: port) }
        return .dns(host: host, port: port)
    }

    /// Stops the proxy (what `/quitquitquit` does).
    public func requestShutdown() {
        let first = shutdownRequested.withLock { requested -> Bool in
            defer { requested = true }
            return !requested
        }
        if first { shutdownSignal.yield(()) }
    }

    private func follow(_ typeURL: String, xds: XDSClient, group: any EventLoopGroup) async {
        for await update in await xds.updates(typeURL) {
            guard let compiled = resources.accepted(typeURL: typeURL, version: update.version, resources: update.resources, registry: configuration.httpFilters, networkRegistry: configuration.networkFilters) else { continue }
            switch compiled {
            case .clusters(let clusters): await apply(clusters: clusters, xds: xds)
            case .endpoints(let endpoints): apply(endpoints: endpoints)
            case .listeners(let compiled):
                let previous = lastListeners.withLock { last in
                    defer { last = compiled }
                    return last
                }
                // Envoy's listener manager stats: accepted LDS updates, and listeners whose
                // resource changed (a secret rotation changes none).
                stats.counter("listener_manager.lds.update_success", prometheus: .init(name: "envoy_listener_manager_lds_update_success", labels: [])).increment()
                let modified = compiled.filter { name, listener in previous[name].map { $0.source != listener.source } ?? false }.count
                stats.counter("listener_manager.listener_modified", prometheus: .init(name: "envoy_listener_manager_listener_modified", labels: [])).increment(by: modified)
                listenerSignal.continuation.yield(())
            case .routes(let routes): state.update { $0.routeTables = routes }
            case .secrets(let secrets):
                // SDS over ADS: the names not provided in-process.
                let provided = configuration.secrets?.secretNames ?? []
                let subscribed = referencedSecrets.withLock { $0.listeners.union($0.clusters) }.subtracting(provided)
                state.secrets.replace(owned: subscribed, with: secrets.filter { !provided.contains($0.key) })
            }
        }
    }

    private func apply(clusters: [String: ClusterConfiguration], xds: XDSClient) async {
        var removed: [ClusterRuntime] = []
        let secrets = state.secrets
        state.update { state in
            var next: [String: ClusterRuntime] = [:]
            for (name, configuration) in clusters {
                if let existing = state.clusters[name] {
                    if existing.configuration != configuration { existing.update(configuration: configuration) }
                    next[name] = existing
                } else {
                    next[name] = ClusterRuntime(configuration: configuration, endpoints: resources.endpoints(for: configuration), secrets: secrets)
                }
            }
            removed = state.clusters.filter { next[$0.key] == nil }.map(\.value)
            state.clusters = next
        }
        for cluster in removed {
            cluster.shutdown()
            stats.remove(prefix: "cluster.\(cluster.name).")
        }
        let names = Set(clusters.values.compactMap(\.edsServiceName))
        await xds.subscribe(EnvoyTypeURL.clusterLoadAssignment, .names(names))
        let secretNames = state.current.clusters.values.reduce(into: Set<String>()) { $0.formUnion($1.sdsSecretNames) }
        await subscribeSecrets(clusters: secretNames, xds: xds)
    }

    /// Asks the control plane for the secrets listeners and clusters name that the in-process
    /// provider does not serve (SDS over ADS).
    private func subscribeSecrets(listeners: Set<String>? = nil, clusters: Set<String>? = nil, xds: XDSClient) async {
        let all = referencedSecrets.withLock { current -> Set<String> in
            if let listeners { current.listeners = listeners }
            if let clusters { current.clusters = clusters }
            return current.listeners.union(current.clusters)
        }
        let remote = all.subtracting(configuration.secrets?.secretNames ?? [])
        await xds.subscribe(EnvoyTypeURL.secret, .names(remote))
    }

    private func apply(endpoints: [String: EndpointSet]) {
        let clusters = state.current.clusters
        for cluster in clusters.values {
            guard let service = cluster.configuration.edsServiceName, let set = endpoints[service] else { continue }
            cluster.update(endpoints: set)
        }
    }

    private func apply(listeners compiled: [String: ListenerConfiguration], xds: XDSClient, group: any EventLoopGroup) async {
        var routeNames: Set<String> = []
        for listener in compiled.values {
            for chain in listener.filterChains + (listener.defaultFilterChain.map { [$0] } ?? []) {
                if case .http(let manager) = chain.terminal, case .rds(let name) = manager.routes { routeNames.insert(name) }
            }
        }
        await xds.subscribe(EnvoyTypeURL.routeConfiguration, .names(routeNames))
        await subscribeSecrets(listeners: compiled.values.reduce(into: Set<String>()) { $0.formUnion($1.sdsSecretNames) }, xds: xds)
        let running = listeners.withLock { $0 }
        // Stop listeners that went away or moved.
        for (name, runtime) in running
        where compiled[name] == nil || compiled[name]?.address != runtime.address || compiled[name]?.bindsToPort != runtime.bindsToPort {
            await runtime.stop()
            listeners.withLock { _ = $0.removeValue(forKey: name) }
        }
        failedListeners.withLock { failed in failed = failed.filter { compiled[$0.key]?.source == $0.value.source } }
        // Every listener gets a runtime: the `bind_to_port: false` ones serve the connections a
        // `use_original_dst` listener hands over, so they are in the directory, not bound.
        defer { listenerDirectory.replace(with: listeners.withLock { Array($0.values) }) }
        for (name, configuration) in compiled.sorted(by: { $0.key < $1.key }) {
            // An unchanged listener keeps its chains and connections (a secret rotation needs no
            // new chains: TLS contexts follow the secret store).
            if let existing = listeners.withLock({ $0[name] }), existing.source == configuration.source { continue }
            // An unchanged listener that failed stays dropped, unless its address has come free.
            if let failed = failedListeners.withLock({ $0[name] }) {
                guard failed.bindFailed, BindProbe.failure(host: configuration.address.host, port: configuration.address.port,
                                                           ipv4Compat: configuration.address.ipv4Compat) == nil else { continue }
                failedListeners.withLock { _ = $0.removeValue(forKey: name) }
            }
            let chains: ListenerRuntime.Chains
            do {
                chains = try ListenerRuntime.compile(configuration, state: state, stats: stats, logger: logger)
            } catch {
                logger.error("listener \(name) not applied: \(error)")
                // A running listener keeps serving its previous chains.
                if listeners.withLock({ $0[name] == nil }) { recordCreateFailure(configuration, bindFailed: false) }
                continue
            }
            // Envoy's listener warming also waits for jwt_authn's first `async_fetch` of remote keys.
            await chains.startRemoteJWKSFetches(state: state, group: group)
            // Envoy's listener warming: a listener whose TLS secrets have not arrived is not
            // bound yet, and an updated one keeps serving its previous chains until they arrive;
            // the secret store's change signal re-applies.
            guard state.secrets.hasAll(configuration.sdsSecretNames) else {
                logger.debug("listener \(name) waits for secrets \(configuration.sdsSecretNames.sorted())")
                continue
            }
            if let existing = listeners.withLock({ $0[name] }) {
                existing.replace(chains)
                continue
            }
            let runtime = ListenerRuntime(chains: chains, directory: listenerDirectory, stats: stats, logger: logger)
            do {
                try await runtime.start(group: group)
                listeners.withLock { $0[name] = runtime }
            } catch {
                logger.error("listener \(name) cannot bind \(configuration.address): \(error)")
                recordCreateFailure(configuration, bindFailed: true)
            }
        }
    }

    /// Envoy's `listener_manager.listener_create_failure`: an accepted listener that did not start.
    private func recordCreateFailure(_ listener: ListenerConfiguration, bindFailed: Bool) {
        stats.counter("listener_manager.listener_create_failure",
                      prometheus: .init(name: "envoy_listener_manager_listener_create_failure", labels: [])).increment()
        failedListeners.withLock { $0[listener.name] = FailedListener(source: listener.source, bindFailed: bindFailed) }
    }

    /// Envoy rejects an LDS update whose new listener cannot bind its address (held by another
    /// socket without `SO_REUSEPORT`, or not on this host): the same NACK here, before anything is
    /// applied, by binding a probe socket. An address one of this proxy's listeners holds is fine.
    /// A listener resent unchanged was checked when first accepted: probing again would NACK the
    /// whole update once another socket took the address of a listener still waiting for its
    /// secrets, where Envoy, which holds the socket while warming, ACKs. Its start fails instead
    /// (``recordCreateFailure(_:bindFailed:)``), and it is tried again when the address is free.
    /// (Envoy, which drops it, would NACK each resend while the address stays taken, holding back
    /// every other listener change.)
    func checkBindable(_ listener: ListenerConfiguration) throws(ProxyConfigurationError) {
        guard listener.bindsToPort, listener.address.port != 0 else { return }
        if lastListeners.withLock({ $0[listener.name]?.source == listener.source }) { return }
        // Host and port: a listener changing only `ipv4_compat` rebinds the address it holds.
        let held = listeners.withLock { running in
            running.values.contains { $0.bindsToPort && $0.address.host == listener.address.host && $0.address.port == listener.address.port }
        }
        guard !held else { return }
        if let failure = BindProbe.failure(host: listener.address.host, port: listener.address.port, ipv4Compat: listener.address.ipv4Compat) {
            throw ProxyConfigurationError(.invalid, resourceType: "Listener", resourceName: listener.name, field: "address",
                                          "cannot bind \(listener.address): \(failure)")
        }
    }

    /// Whether the initial configuration has arrived: clusters, listeners, and every route table
    /// and endpoint set they name.
    var isReady: Bool {
        guard resources.hasReceived(EnvoyTypeURL.cluster), resources.hasReceived(EnvoyTypeURL.listener) else { return false }
        let current = state.current
        // Every accepted listener running or failed (one that could not start is not waited for:
        // Envoy drops it), by name, so a stale failure does not stand in for another listener.
        let accepted = lastListeners.withLock { Set($0.keys) }
        guard accepted.count >= resources.listenerCount else { return false }
        let started = listeners.withLock { Set($0.keys) }.union(failedListeners.withLock { $0.keys })
        guard accepted.isSubset(of: started) else { return false }
        for name in resources.referencedRouteNames where current.routeTables[name] == nil { return false }
        for cluster in current.clusters.values {
            if let service = cluster.configuration.edsServiceName, !resources.hasEndpoints(service) { return false }
            if !state.secrets.hasAll(cluster.sdsSecretNames) { return false }
        }
        return true
    }
}

/// The admin endpoint's view of a ``ProxyServer``.
struct AdminSource: AdminDataSource {
    let server: ProxyServer

    func configDump() -> String { server.resources.configDump() }
    func clustersText() -> String {
        var out = ""
        for (_, cluster) in server.state.current.clusters.sorted(by: { $0.key < $1.key }) {
            out += cluster.upstream.adminText()
        }
        return out
    }
    var isReady: Bool { server.isReady }
    func serverInfo() -> String {
        let state = server.isReady ? "LIVE" : "PRE_INITIALIZING"
        return "{\n \"version\": \"swiftmesh-proxy/0.1\",\n \"state\": \"\(state)\",\n \"command_line_options\": {\"concurrency\": \(server.configuration.workerThreads)},\n \"node\": {\"id\": \"\(server.configuration.node.id)\", \"cluster\": \"\(server.configuration.node.cluster)\"}\n}\n"
    }
    func statsText() -> String {
        var lines = server.stats.text().split(separator: "\n").map(String.init)
        for cluster in server.state.current.clusters.values {
            for entry in cluster.upstream.stats.entries() { lines.append("\(entry.name): \(entry.value)") }
        }
        lines.append("server.uptime: \((ContinuousClock.now - server.startTime).components.seconds)")
        return lines.sorted().joined(separator: "\n") + "\n"
    }

    func prometheusText() -> String {
        var out = server.stats.prometheusText()
        var byName: [String: (kind: String, lines: [String])] = [:]
        for cluster in server.state.current.clusters.values {
            for sample in cluster.upstream.stats.prometheusSamples() {
                byName[sample.name, default: (sample.kind == .gauge ? "gauge" : "counter", [])].lines.append(sample.line)
            }
        }
        for (name, metric) in byName.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) \(metric.kind)\n" + metric.lines.sorted().joined(separator: "\n") + "\n"
        }
        return out
    }
    func requestShutdown() { server.requestShutdown() }
    func certsJSON() -> String { server.state.secrets.certsJSON() }
}

/// Envoy's subscription counters for the wildcard resource types:
/// `listener_manager.lds.update_{attempt,success,rejected}` and `cluster_manager.cds.update_*`.
struct XDSUpdateStats: Sendable {
    private struct Counters: Sendable {
        var attempt: StatCounter
        var success: StatCounter
        var rejected: StatCounter
    }

    private let byType: [String: Counters]

    init(_ stats: StatsStore) {
        func counters(_ prefix: String) -> Counters {
            func counter(_ name: String) -> StatCounter {
                stats.counter("\(prefix).\(name)", prometheus: .init(name: "envoy_" + String(prefix.map { $0 == "." ? "_" : $0 }) + "_\(name)", labels: []))
            }
            return Counters(attempt: counter("update_attempt"), success: counter("update_success"), rejected: counter("update_rejected"))
        }
        byType = [EnvoyTypeURL.listener: counters("listener_manager.lds"), EnvoyTypeURL.cluster: counters("cluster_manager.cds")]
    }

    func accepted(_ typeURL: String) {
        guard let counters = byType[typeURL] else { return }
        counters.attempt.increment()
        counters.success.increment()
    }

    func rejected(_ typeURL: String) {
        guard let counters = byType[typeURL] else { return }
        counters.attempt.increment()
        counters.rejected.increment()
    }
}

extension ProxyServer.Configuration {
    /// The node sent to the control plane: ``node`` plus the filters this proxy runs in
    /// `node.extensions` (as Envoy lists the extensions it was built with), so a control plane
    /// sends a filter not every proxy has, such as Istio's stats filter, only to proxies that have it.
    public var advertisedNode: Envoy_Config_Core_V3_Node {
        var node = self.node
        var listed = Set(node.extensions.flatMap(\.typeUrls).map { String(HTTPFilterRegistry.typeName($0)) })
        func add(_ category: String, _ typeURL: String, name: String? = nil) {
            // Envoy lists full proto names, without the `type.googleapis.com/` prefix.
            let protoName = String(HTTPFilterRegistry.typeName(typeURL))
            guard listed.insert(protoName).inserted else { return }
            node.extensions.append(.with {
                $0.name = name ?? protoName
                $0.category = category
                $0.typeUrls = [protoName]
            })
        }
        add("envoy.filters.http", "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", name: "envoy.filters.http.router")
        add("envoy.filters.http", IstioStatsConfiguration.typeURL, name: "istio.stats")
        add("envoy.filters.http", PeerMetadataConfiguration.typeURL, name: "istio.metadata_exchange")
        for typeURL in httpFilters.typeURLs { add("envoy.filters.http", typeURL) }
        add("envoy.filters.network", "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            name: "envoy.filters.network.http_connection_manager")
        add("envoy.filters.network", "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", name: "envoy.filters.network.tcp_proxy")
        for typeURL in networkFilters.typeURLs { add("envoy.filters.network", typeURL) }
        return node
    }
}
