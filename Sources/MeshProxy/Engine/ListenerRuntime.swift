import Logging
import MeshXDS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A bound listener: accepts connections, picks each one's filter chain and sets up its pipeline.
///
/// Its compiled chains can be replaced without rebinding (an LDS update that keeps the address):
/// new connections use the new chains, existing connections finish on the ones they started with.
final class ListenerRuntime: Sendable {
    /// A listener's chains, compiled against the proxy state, as connections pick them.
    struct Chains: Sendable {
        var configuration: ListenerConfiguration
        var runtimes: [Int: ChainRuntime]
        var defaultRuntime: ChainRuntime?
        /// The TLS contexts of chains that terminate TLS (by chain index), and of the default chain.
        var tls: [Int: TLSContextSource] = [:]
        var defaultTLS: TLSContextSource?
    }

    /// A chain's terminal filter, ready to serve.
    enum ChainRuntime: Sendable {
        case http(HTTPConnectionManagerRuntime)
        case tcp(TCPProxyRuntime)
    }

    let name: String
    let address: ListenerAddress
    /// False for a listener that only receives connections another listener hands over.
    let bindsToPort: Bool
    /// Where a `use_original_dst` listener finds the listener a redirected connection belongs to.
    private let directory: ListenerDirectory
    private let chains: NIOLockedValueBox<Chains>
    private let channel: NIOLockedValueBox<(any Channel)?>
    /// Accepted connections still open, to drain on an update.
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    let stats: ListenerStats
    private let logger: Logger
    /// The root stats scope network filters count in (`tcp.rbac.denied`).
    let statsStore: StatsStore

    init(chains: Chains, directory: ListenerDirectory, stats: StatsStore, logger: Logger) {
        self.name = chains.configuration.name
        self.address = chains.configuration.address
        self.bindsToPort = chains.configuration.bindsToPort
        self.directory = directory
        self.chains = NIOLockedValueBox(chains)
        self.channel = NIOLockedValueBox(nil)
        self.stats = ListenerStats(store: stats, address: chains.configuration.address)
        self.statsStore = stats
        self.logger = logger
    }

    /// Compiles a listener's chains against the proxy state.
    static func compile(_ configuration: ListenerConfiguration, state: ProxyStateStore, stats: StatsStore, logger: Logger) throws(ProxyConfigurationError) -> Chains {
        let inbound = configuration.trafficDirection == .inbound
        func runtime(_ chain: FilterChainConfiguration) throws(ProxyConfigurationError) -> ChainRuntime {
            switch chain.terminal {
            case .http(let manager):
                return .http(try HTTPConnectionManagerRuntime(
                    configuration: manager, state: state, stats: stats, bufferLimit: configuration.perConnectionBufferLimitBytes,
                    trafficDirection: configuration.trafficDirection, logger: logger))
            case .tcp(let proxy):
                let istio = chain.istioStats.map { IstioStatsRuntime(configuration: $0, inbound: inbound, local: state.local, store: stats.istio) }
                return .tcp(TCPProxyRuntime(configuration: proxy, state: state, stats: stats, istioStats: istio, logger: logger))
            }
        }
        var runtimes: [Int: ChainRuntime] = [:]
        for (index, chain) in configuration.filterChains.enumerated() { runtimes[index] = try runtime(chain) }
        let fallback = try configuration.defaultFilterChain.map { (chain) throws(ProxyConfigurationError) in try runtime(chain) }
        var chains = Chains(configuration: configuration, runtimes: runtimes, defaultRuntime: fallback)
        chains.compileTLS(secrets: state.secrets)
        return chains
    }

    /// Replaces the chains for new connections.
    ///
    /// Connections accepted with the previous chains drain, as Envoy drains a listener's
    /// connections on an update: HTTP/1.1 ones close when idle (at once, or after the response in
    /// flight, which carries `connection: close`), HTTP/2 ones get a GOAWAY and finish their
    /// streams; the next requests arrive on new connections and the new chains. TCP proxy
    /// connections run to their end.
    func replace(_ chains: Chains) {
        self.chains.withLockedValue { $0 = chains }
        let open = connections.withLockedValue { $0.values }
        for channel in open {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ListenerDrainEvent()) }
        }
    }

    /// The xDS resource the current chains were compiled from.
    var source: Envoy_Config_Listener_V3_Listener { chains.withLockedValue { $0.configuration.source } }

    /// Binds and starts accepting (a `bind_to_port: false` listener binds nothing: it serves the
    /// connections handed to it).
    func start(group: any EventLoopGroup) async throws {
        guard bindsToPort else {
            logger.info("listener \(name) for \(address) (not bound: receives redirected connections)")
            return
        }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(BindProbe.reusePort, value: BindProbe.reusePortValue)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in self.setUp(channel) }
        if address.isIPv6 {
            // As Envoy: an IPv6 listener takes IPv4 connections only with `ipv4_compat`.
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: address.ipv4Compat ? 0 : 1)
        }
        let bound = try await bootstrap.bind(host: address.host, port: address.port).get()
        channel.withLockedValue { $0 = bound }
        logger.info("listener \(name) on \(address)")
    }

    /// Stops accepting; connections in progress finish on their own.
    func stop() async {
        let bound = channel.withLockedValue { value -> (any Channel)? in
            let current = value
            value = nil
            return current
        }
        try? await bound?.close()
    }

    /// The bound port (useful with port 0).
    var boundPort: Int? { channel.withLockedValue { $0?.localAddress?.port } }

    /// A new connection: the `original_dst` listener filter (also implied by `use_original_dst`)
    /// restores its original destination, a `use_original_dst` listener hands it to the listener
    /// for that destination, and the listener that keeps it serves it.
    private func setUp(_ channel: any Channel) -> EventLoopFuture<Void> {
        let current = chains.withLockedValue { $0 }
        let configuration = current.configuration
        guard configuration.usesOriginalDestination || configuration.listenerFilters.contains(.originalDestination) else {
            return channel.eventLoop.makeCompletedFuture { try self.serve(channel, chains: current, originalDestination: nil) }
        }
        return OriginalDestination.read(from: channel).flatMapThrowing { [self] original in
            // Envoy hands over only connections whose destination was restored; one that reached
            // this listener directly (or whose destination is this listener's) stays here.
            if let original, configuration.usesOriginalDestination,
               let target = directory.listener(for: original), target !== self {
                try target.serve(channel, chains: target.currentChains, originalDestination: original)
                return
            }
            try self.serve(channel, chains: current, originalDestination: original)
        }
    }

    /// The chains new connections use.
    private var currentChains: Chains { chains.withLockedValue { $0 } }

    /// Counts and tracks a connection as this listener's, runs the TLS inspector when the chains
    /// need it, and installs the chain it selects.
    /// - Parameter originalDestination: The destination the `original_dst` listener filter
    ///   restored, which stands for the socket's local address from here on (filter-chain
    ///   matching, `ORIGINAL_DST` clusters, RBAC, logs); nil when none was restored.
    private func serve(_ channel: any Channel, chains current: Chains, originalDestination: SocketAddress?) throws {
        stats.connectionsTotal.increment()
        stats.connectionsActive.add(1)
        let gauge = stats.connectionsActive
        let id = ObjectIdentifier(channel)
        connections.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [connections] _ in
            gauge.subtract(1)
            connections.withLockedValue { _ = $0.removeValue(forKey: id) }
        }
        let local = originalDestination ?? channel.localAddress
        let remote = channel.remoteAddress
        let input = FilterChainMatchInput(
            destinationPort: local?.port ?? address.port,
            destinationAddress: local?.ipAddress.flatMap(IPAddressBytes.parse) ?? [],
            sourceAddress: remote?.ipAddress.flatMap(IPAddressBytes.parse) ?? [],
            sourcePort: remote?.port ?? 0)
        let inspectsHTTP = current.configuration.listenerFilters.contains(.httpInspector)
        if current.configuration.needsTLSInspection || inspectsHTTP {
            try channel.pipeline.syncOperations.addHandler(ListenerInspectorHandler(
                inspectsTLS: current.configuration.needsTLSInspection, inspectsHTTP: inspectsHTTP,
                timeout: current.configuration.listenerFiltersTimeout, continueOnTimeout: current.configuration.continuesOnListenerFiltersTimeout
            ) { [self] context, inspection in
                var inspected = input
                if let hello = inspection.tls {
                    inspected.transportProtocol = "tls"
                    inspected.serverName = hello.serverName
                    inspected.applicationProtocols = hello.applicationProtocols
                } else if let httpProtocol = inspection.httpProtocol {
                    inspected.applicationProtocols = [httpProtocol]
                }
                try self.install(context.channel, chains: current, input: inspected, originalDestination: originalDestination)
            })
            return
        }
        try install(channel, chains: current, input: input, originalDestination: originalDestination)
    }

    /// Picks the connection's filter chain and sets up its pipeline: TLS termination when the
    /// chain has a `DownstreamTlsContext`, then the terminal filter.
    private func install(_ channel: any Channel, chains current: Chains, input: FilterChainMatchInput, originalDestination: SocketAddress?) throws {
        let runtime: ChainRuntime?
        let tls: TLSContextSource?
        let selected = FilterChainSelector.select(current.configuration.filterChainMatches, input)
        if let index = selected {
            runtime = current.runtimes[index]
            tls = current.tls[index]
        } else {
            runtime = current.defaultRuntime
            tls = current.defaultTLS
        }
        guard let runtime else {
            stats.noFilterChainMatch.increment()
            let accessLogs = current.configuration.accessLogs
            if !accessLogs.isEmpty {
                // Envoy's listener access log: the connection ends with `NR` before any filter runs.
                var entry = AccessLogEntry(startTime: .now(), durationNanoseconds: 0)
                entry.responseFlags = .noRouteFound
                entry.downstreamLocalAddress = originalDestination ?? channel.localAddress
                entry.downstreamRemoteAddress = channel.remoteAddress
                entry.requestedServerName = input.serverName
                for log in accessLogs { log.log(entry) }
            }
            channel.close(promise: nil)
            return
        }
        // Network filters (RBAC ...) sit between the transport (after the TLS handshake, which
        // gives them the peer's identity) and the terminal filter.
        let chain = selected.map { current.configuration.filterChains[$0] } ?? current.configuration.defaultFilterChain
        let networkFilters = (chain?.networkFilters ?? []).map { NetworkFilterChainHandler.Entry(name: $0.name, factory: $0.factory) }
        if let tls {
            try installTLS(channel, source: tls, serverName: input.serverName, runtime: runtime, networkFilters: networkFilters,
                           originalDestination: originalDestination)
            return
        }
        let sync = channel.pipeline.syncOperations
        if !networkFilters.isEmpty {
            try sync.addHandler(NetworkFilterChainHandler(entries: networkFilters, stats: statsStore, originalDestination: originalDestination))
        }
        switch runtime {
        case .http(let manager):
            switch manager.configuration.codec {
            case .http1: try sync.configureDownstreamHTTP1(manager: manager, isTLS: false, originalDestination: originalDestination)
            case .http2: try sync.configureDownstreamHTTP2(manager: manager, isTLS: false, originalDestination: originalDestination)
            case .auto: try sync.addHandler(DownstreamProtocolSniffer(manager: manager, isTLS: false, originalDestination: originalDestination))
            }
        case .tcp(let proxy):
            try sync.addHandler(TCPProxyHandler(runtime: proxy, originalDestination: originalDestination))
        }
    }
}

/// Per-listener stats with Envoy's names (`listener.<address>.downstream_cx_total`).
final class ListenerStats: Sendable {
    let connectionsTotal: StatCounter
    let connectionsActive: StatGauge
    let noFilterChainMatch: StatCounter
    /// `ssl.handshake` and `ssl.connection_error`, as Envoy's TLS transport socket counts them.
    let sslHandshake: StatCounter
    let sslConnectionError: StatCounter

    init(store: StatsStore, address: ListenerAddress) {
        let prefix = "listener.\(address.host)_\(address.port)"
        let label = StatsStore.PrometheusName.Label(name: "envoy_listener_address", value: "\(address.host)_\(address.port)")
        connectionsTotal = store.counter("\(prefix).downstream_cx_total", prometheus: .init(name: "envoy_listener_downstream_cx_total", labels: [label]))
        connectionsActive = store.gauge("\(prefix).downstream_cx_active", prometheus: .init(name: "envoy_listener_downstream_cx_active", labels: [label]))
        noFilterChainMatch = store.counter("\(prefix).no_filter_chain_match", prometheus: .init(name: "envoy_listener_no_filter_chain_match", labels: [label]))
        sslHandshake = store.counter("\(prefix).ssl.handshake", prometheus: .init(name: "envoy_listener_ssl_handshake", labels: [label]))
        sslConnectionError = store.counter("\(prefix).ssl.connection_error", prometheus: .init(name: "envoy_listener_ssl_connection_error", labels: [label]))
    }
}

/// Sent through a downstream connection's pipeline when its listener was updated: the HTTP
/// connection manager stops reusing the connection (see ``ListenerRuntime/replace(_:)``).
struct ListenerDrainEvent: Sendable {}
