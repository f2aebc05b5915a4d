import NIOCore
import NIOSSL

extension ListenerConfiguration {
    /// `listener_filters_timeout` (15 s by default; 0 disables it).
    var listenerFiltersTimeout: TimeAmount? {
        guard source.hasListenerFiltersTimeout else { return .seconds(15) }
        let timeout = source.listenerFiltersTimeout
        let nanoseconds = timeout.seconds * 1_000_000_000 + Int64(timeout.nanos)
        return nanoseconds > 0 ? .nanoseconds(nanoseconds) : nil
    }

    /// `continue_on_listener_filters_timeout`: a connection whose listener filters time out is
    /// matched with what is known (plaintext) instead of being closed.
    var continuesOnListenerFiltersTimeout: Bool { source.continueOnListenerFiltersTimeout }

    /// The SDS secrets the listener's chains need before it can accept connections.
    public var sdsSecretNames: Set<String> {
        var names: Set<String> = []
        for chain in filterChains + (defaultFilterChain.map { [$0] } ?? []) {
            if let tls = chain.tls { names.formUnion(tls.sdsSecretNames) }
        }
        return names
    }
}

extension ListenerRuntime.Chains {
    /// One TLS context per chain that terminates TLS.
    mutating func compileTLS(secrets: SecretStore) {
        let listener = configuration.name
        for (index, chain) in configuration.filterChains.enumerated() {
            guard let tls = chain.tls else { continue }
            let name = chain.name.isEmpty ? "\(listener) filter_chains[\(index)]" : "\(listener) \(chain.name)"
            self.tls[index] = TLSContextSource(downstream: tls, resource: name, secrets: secrets)
        }
        if let tls = configuration.defaultFilterChain?.tls {
            defaultTLS = TLSContextSource(downstream: tls, resource: "\(listener) default_filter_chain", secrets: secrets)
        }
    }
}

extension ListenerRuntime {
    /// Terminates TLS with the chain's context, then installs the terminal filter once the
    /// handshake established the peer (HTTP/2 when ALPN chose `h2`, HTTP/1.1 when it chose
    /// `http/1.1`, else the connection manager's codec). Without the chain's secrets (still
    /// warming) the connection is closed, as Envoy would not have the listener serving yet.
    func installTLS(_ channel: any Channel, source: TLSContextSource, serverName: String?, runtime: ChainRuntime,
                    networkFilters: [NetworkFilterChainHandler.Entry] = [], originalDestination: SocketAddress? = nil) throws {
        let built: TLSContextSource.Built
        do { built = try source.context() } catch {
            stats.sslConnectionError.increment()
            channel.close(promise: nil)
            return
        }
        let stats = self.stats
        let statsStore = self.statsStore
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: built.context))
        try sync.addHandler(DownstreamTLSHandshakeHandler(
            serverName: serverName, localURISANs: built.localURISANs, validation: source.validation,
            established: { context, info in
                stats.sslHandshake.increment()
                let pipeline = context.pipeline.syncOperations
                if !networkFilters.isEmpty {
                    try pipeline.addHandler(NetworkFilterChainHandler(entries: networkFilters, stats: statsStore, tls: info, originalDestination: originalDestination))
                }
                switch runtime {
                case .http(let manager):
                    switch (info.negotiatedProtocol, manager.configuration.codec) {
                    case ("h2"?, _), (_, .http2): try pipeline.configureDownstreamHTTP2(manager: manager, isTLS: true, tls: info, originalDestination: originalDestination)
                    case ("http/1.1"?, _), (_, .http1): try pipeline.configureDownstreamHTTP1(manager: manager, isTLS: true, tls: info, originalDestination: originalDestination)
                    case (_, .auto): try pipeline.addHandler(DownstreamProtocolSniffer(manager: manager, isTLS: true, tls: info, originalDestination: originalDestination))
                    }
                case .tcp(let proxy):
                    try pipeline.addHandler(TCPProxyHandler(runtime: proxy, tls: info, originalDestination: originalDestination))
                }
            },
            failed: { stats.sslConnectionError.increment() }))
    }
}
