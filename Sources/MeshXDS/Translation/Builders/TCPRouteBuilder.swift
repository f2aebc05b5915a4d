public import MeshCore

/// Builds the filter chains of a sidecar's outbound TCP and TLS listeners from VirtualService
/// `tcp` and `tls` rules, as Istio's sidecar TCP/TLS filter-chain options do.
///
/// TCP rules become `tcp_proxy` chains (one or weighted clusters), matched by destination subnet;
/// a rule matching every connection ends the list, otherwise a default chain to the service
/// follows. TLS rules become chains matched by SNI (`server_names`), with a `tls_inspector`
/// listener filter to read it; when some TLS rule applies, connections for other names have no
/// chain and are closed, as in Istio.
public struct TCPRouteBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    /// The outbound listener for `service` on `port` with its VirtualService rules applied, or
    /// `listener` unchanged when no TCP or TLS rule applies to this proxy and port.
    /// - Parameters:
    ///   - listener: the listener with its default chain (a TCP proxy to the service).
    ///   - service: the service the listener carries.
    ///   - port: the listener (service) port.
    ///   - proxy: the proxy (its labels and namespace select `sourceLabels`/`sourceNamespace`).
    ///   - virtualServices: the mesh VirtualServices for the service's host, oldest first.
    ///   - services: resolves route destinations.
    public func outboundListener(
        _ listener: Envoy_Config_Listener_V3_Listener, service: MeshService, port: UInt32, proxy: ProxyView,
        virtualServices: [Resource<VirtualService>], services: RouteBuilder.ServiceLookup
    ) -> Envoy_Config_Listener_V3_Listener {
        guard let defaultChain = listener.filterChains.first else { return listener }
        let isTLS = service.port(port)?.protocol.isTLS ?? false
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        var seen = Set<String>()
        func add(_ chain: Envoy_Config_Listener_V3_FilterChain) {
            // Envoy refuses two chains with the same match; the first one wins, as in Istio.
            let match = chain.filterChainMatch
            let key = match.serverNames.joined(separator: ",") + "|"
                + match.prefixRanges.map { "\($0.addressPrefix)/\($0.prefixLen.value)" }.joined(separator: ",")
            if seen.insert(key).inserted {
                chains.append(chain)
            }
        }
        if isTLS {
            for vs in virtualServices {
                for rule in vs.spec.tls ?? [] {
                    guard let destinations = rule.route, !destinations.isEmpty else { continue }
                    for match in rule.match ?? [] where Self.applies(match, port: port, proxy: proxy) {
                        add(.with {
                            $0.filterChainMatch = .with {
                                $0.serverNames = match.sniHosts ?? []
                                $0.prefixRanges = Self.cidrRanges(match.destinationSubnets ?? [])
                            }
                            $0.filters = [tcpProxy(destinations, port: port, virtualService: vs, services: services)]
                            $0.metadata = Proto.configMetadata(kind: "virtual-service", namespace: vs.meta.namespace, name: vs.meta.name)
                        })
                    }
                }
            }
            guard !chains.isEmpty else { return listener }
            var out = listener
            out.filterChains = chains
            if !out.listenerFilters.contains(where: { $0.name == Self.tlsInspector }) {
                out.listenerFilters.append(.with {
                    $0.name = Self.tlsInspector
                    $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
                })
            }
            return out
        }

        var defaultCovered = false
        rules: for vs in virtualServices {
            for rule in vs.spec.tcp ?? [] {
                guard let destinations = rule.route, !destinations.isEmpty else { continue }
                let metadata = Proto.configMetadata(kind: "virtual-service", namespace: vs.meta.namespace, name: vs.meta.name)
                let filter = tcpProxy(destinations, port: port, virtualService: vs, services: services)
                let matches = rule.match ?? []
                if matches.isEmpty {
                    add(.with { $0.filters = [filter]; $0.metadata = metadata })
                    defaultCovered = true
                    break rules
                }
                var subnets: [String] = []
                for match in matches where Self.applies(match, port: port, proxy: proxy) {
                    let matchSubnets = match.destinationSubnets ?? []
                    if matchSubnets.isEmpty {
                        add(.with { $0.filters = [filter]; $0.metadata = metadata })
                        defaultCovered = true
                        break rules
                    }
                    subnets += matchSubnets
                }
                if !subnets.isEmpty {
                    add(.with {
                        $0.filterChainMatch = .with { $0.prefixRanges = Self.cidrRanges(subnets) }
                        $0.filters = [filter]
                        $0.metadata = metadata
                    })
                }
            }
        }
        guard !chains.isEmpty else { return listener }
        if !defaultCovered { add(defaultChain) }
        var out = listener
        out.filterChains = chains
        return out
    }

    static let tlsInspector = "envoy.filters.listener.tls_inspector"

    /// Istio's `matchTCP`/`matchTLS` for a sidecar: the port, the `mesh` gateway, source labels and namespace.
    static func applies(_ match: VirtualService.L4MatchAttributes, port: UInt32, proxy: ProxyView) -> Bool {
        applies(port: match.port, gateways: match.gateways, sourceLabels: match.sourceLabels,
                sourceNamespace: match.sourceNamespace, listenerPort: port, proxy: proxy)
    }

    static func applies(_ match: VirtualService.TLSMatchAttributes, port: UInt32, proxy: ProxyView) -> Bool {
        applies(port: match.port, gateways: match.gateways, sourceLabels: match.sourceLabels,
                sourceNamespace: match.sourceNamespace, listenerPort: port, proxy: proxy)
    }

    private static func applies(
        port: UInt32?, gateways: [String]?, sourceLabels: [String: String]?, sourceNamespace: String?,
        listenerPort: UInt32, proxy: ProxyView
    ) -> Bool {
        if let port, port != 0, port != listenerPort { return false }
        if let gateways, !gateways.isEmpty, !gateways.contains("mesh") { return false }
        if let sourceLabels, !sourceLabels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { return false }
        if let sourceNamespace, !sourceNamespace.isEmpty, sourceNamespace != proxy.namespace { return false }
        return true
    }

    /// A TCP proxy to one destination (stats under the cluster name) or to weighted clusters
    /// (stats under `name.namespace` of the VirtualService); weights of 0 are left out.
    func tcpProxy(
        _ destinations: [VirtualService.RouteDestination], port: UInt32, virtualService: Resource<VirtualService>,
        services: RouteBuilder.ServiceLookup
    ) -> Envoy_Config_Listener_V3_Filter {
        let namespace = virtualService.meta.namespace
        func clusterName(_ destination: Destination?) -> String {
            let host = destination?.host ?? ""
            let service = services(host, namespace)
            let resolved = service?.hostname ?? HostName.resolve(host, namespace: namespace, domainSuffix: options.domainSuffix)
            var destinationPort = port
            if let number = destination?.port?.number {
                destinationPort = number
            } else if let service, service.ports.count == 1 {
                destinationPort = service.ports[0].port
            }
            return ClusterName.outbound(port: destinationPort, subset: destination?.subset, host: resolved)
        }
        let proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.with { proxy in
            if destinations.count == 1 {
                let cluster = clusterName(destinations[0].destination)
                proxy.statPrefix = cluster
                proxy.cluster = cluster
            } else {
                proxy.statPrefix = "\(virtualService.meta.name).\(namespace)"
                proxy.weightedClusters = .with {
                    $0.clusters = destinations.filter { ($0.weight ?? 0) > 0 }.map { destination in
                        .with {
                            $0.name = clusterName(destination.destination)
                            $0.weight = UInt32(destination.weight ?? 0)
                        }
                    }
                }
            }
        }
        return .with {
            $0.name = "envoy.filters.network.tcp_proxy"
            $0.typedConfig = Proto.any(proxy)
        }
    }

    /// `a.b.c.d/len` (or a bare address, as a host route) to Envoy CIDR ranges; unparsable entries are skipped.
    static func cidrRanges(_ subnets: [String]) -> [Envoy_Config_Core_V3_CidrRange] {
        subnets.compactMap { subnet in
            let parts = subnet.split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = parts.first, !address.isEmpty else { return nil }
            let full: UInt32 = address.contains(":") ? 128 : 32
            let length = parts.count == 2 ? UInt32(parts[1]) : Optional(full)
            guard let length, length <= full else { return nil }
            return .with {
                $0.addressPrefix = address
                $0.prefixLen = .init(length)
            }
        }
    }
}
