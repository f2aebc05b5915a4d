public import MeshCore

/// Builds listeners and their filter chains: HTTP connection managers (RDS or inline routes),
/// TCP proxies, and the transparent-capture listeners `virtualOutbound` and `virtualInbound`.
public struct ListenerBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    /// A listener at `address:port` named `address_port` with one filter chain.
    /// - Parameters:
    ///   - address: the IP address (or `unix://` path) to listen on.
    ///   - port: the port.
    ///   - direction: outbound (egress) or inbound (ingress).
    ///   - bindToPort: false for listeners that only receive connections handed over by a capture listener.
    ///   - filters: the network filters of the single filter chain.
    public func listener(
        address: String, port: UInt32, direction: Envoy_Config_Core_V3_TrafficDirection, bindToPort: Bool,
        filters: [Envoy_Config_Listener_V3_Filter]
    ) -> Envoy_Config_Listener_V3_Listener {
        .with {
            $0.name = "\(address)_\(port)"
            $0.address = Proto.address(address, port: port)
            $0.trafficDirection = direction
            if !bindToPort { $0.bindToPort = .init(false) }
            $0.filterChains = [.with { $0.filters = filters }]
        }
    }

    /// An HTTP connection manager that fetches route configuration `routeName` over ADS.
    /// - Parameters:
    ///   - statPrefix: the stats prefix (`outbound_0.0.0.0_9080`).
    ///   - routeName: the RDS name.
    public func httpConnectionManager(statPrefix: String, routeName: String) -> Envoy_Config_Listener_V3_Filter {
        httpFilter(HCM.with {
            $0.statPrefix = statPrefix
            $0.rds = .with { $0.configSource = Proto.adsConfigSource; $0.routeConfigName = routeName }
            $0.httpFilters = routeFilters + [router]
            $0.upgradeConfigs = [.with { $0.upgradeType = "websocket" }]
            $0.normalizePath = .init(true)
        })
    }

    /// An HTTP connection manager with an inline route configuration (inbound listeners).
    public func httpConnectionManager(statPrefix: String, routeConfig: Envoy_Config_Route_V3_RouteConfiguration) -> Envoy_Config_Listener_V3_Filter {
        httpFilter(HCM.with {
            $0.statPrefix = statPrefix
            $0.routeConfig = routeConfig
            $0.httpFilters = [router]
            $0.upgradeConfigs = [.with { $0.upgradeType = "websocket" }]
            $0.normalizePath = .init(true)
            $0.forwardClientCertDetails = .appendForward
            $0.serverName = "istio-envoy"
        })
    }

    /// A TCP proxy to `cluster`, with the cluster name as stats prefix (as Istio does).
    public func tcpProxy(cluster: String) -> Envoy_Config_Listener_V3_Filter {
        .with {
            $0.name = "envoy.filters.network.tcp_proxy"
            $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.with {
                $0.statPrefix = cluster
                $0.cluster = cluster
            })
        }
    }

    /// `virtualOutbound` on 0.0.0.0:15001: hands captured connections to the listener for their
    /// original destination; the rest go to `catchAllCluster`. Connections to 15001 itself are dropped.
    public func virtualOutbound(catchAllCluster: String) -> Envoy_Config_Listener_V3_Listener {
        .with {
            $0.name = "virtualOutbound"
            $0.address = Proto.address("0.0.0.0", port: options.outboundListenerPort)
            $0.useOriginalDst = .init(true)
            $0.trafficDirection = .outbound
            $0.filterChains = [
                .with {
                    $0.name = "virtualOutbound-blackhole"
                    $0.filterChainMatch = .with { $0.destinationPort = .init(options.outboundListenerPort) }
                    $0.filters = [tcpProxy(cluster: ClusterName.blackHole)]
                },
                .with {
                    $0.name = "virtualOutbound-catchall-tcp"
                    $0.filters = [tcpProxy(cluster: catchAllCluster)]
                },
            ]
        }
    }

    /// `virtualInbound` on 0.0.0.0:15006: the original destination filter, a chain per workload
    /// port (`chains`), and a passthrough chain to the application for every other port.
    /// - Parameters:
    ///   - chains: destination port and network filters for each port the workload serves.
    public func virtualInbound(chains: [(port: UInt32, filters: [Envoy_Config_Listener_V3_Filter])]) -> Envoy_Config_Listener_V3_Listener {
        .with {
            $0.name = "virtualInbound"
            $0.address = Proto.address("0.0.0.0", port: options.inboundListenerPort)
            $0.trafficDirection = .inbound
            $0.listenerFilters = [.with {
                $0.name = "envoy.filters.listener.original_dst"
                $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst())
            }]
            var filterChains: [Envoy_Config_Listener_V3_FilterChain] = [.with {
                $0.name = "virtualInbound-blackhole"
                $0.filterChainMatch = .with { $0.destinationPort = .init(options.inboundListenerPort) }
                $0.filters = [tcpProxy(cluster: ClusterName.blackHole)]
            }]
            for chain in chains {
                filterChains.append(.with {
                    $0.name = "0.0.0.0_\(chain.port)"
                    $0.filterChainMatch = .with { $0.destinationPort = .init(chain.port) }
                    $0.filters = chain.filters
                })
            }
            filterChains.append(.with {
                $0.name = "virtualInbound"
                $0.filters = [tcpProxy(cluster: ClusterName.inboundPassthrough)]
            })
            $0.filterChains = filterChains
        }
    }

    private var router: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter {
        .with {
            $0.name = "envoy.filters.http.router"
            $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Http_Router_V3_Router())
        }
    }

    private func httpFilter(_ hcm: HCM) -> Envoy_Config_Listener_V3_Filter {
        .with {
            $0.name = "envoy.filters.network.http_connection_manager"
            $0.typedConfig = Proto.any(hcm)
        }
    }
}
