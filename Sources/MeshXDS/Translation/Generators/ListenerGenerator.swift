import MeshCore

/// LDS: the Sidecar's explicit egress listeners (`bind_port`, HTTP through RDS, HTTP_PROXY, or
/// TCP), its ingress listeners forwarding to `defaultEndpoint`, and, for proxies whose traffic is
/// captured by iptables, `virtualOutbound` (15001), a listener per outbound service port and
/// `virtualInbound` (15006). Router proxies get their Gateway servers' listeners instead
/// (``GatewayListenerBuilder``).
public struct ListenerGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { EnvoyTypeURL.listener }

    public func generate(_ request: GenerationRequest) -> [GeneratedResource] {
        if request.proxy.type == .router {
            // RequestAuthentication and AuthorizationPolicy selecting the gateway apply to its listeners.
            let security = InboundFilterChainBuilder(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
            return decorated(GatewayListenerBuilder(options: request.options)
                .listeners(snapshot: request.snapshot, proxy: request.proxy).map(security.securingGateway), request)
                .map { GeneratedResource(name: $0.name, message: $0) }
        }
        let scope = ProxyScope(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        let builder = ListenerBuilder(options: request.options)
        let routes = RouteBuilder(options: request.options)
        let tcpRoutes = TCPRouteBuilder(options: request.options)
        let lookup: RouteBuilder.ServiceLookup = { host, namespace in scope.service(named: host, namespace: namespace) }
        let inbound = InboundFilterChainBuilder(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        var listeners: [Envoy_Config_Listener_V3_Listener] = []
        var names = Set<String>()
        func add(_ listener: Envoy_Config_Listener_V3_Listener) {
            if names.insert(listener.name).inserted { listeners.append(listener) }
        }

        for egress in scope.egressListeners {
            let filter: Envoy_Config_Listener_V3_Filter
            switch egress.kind {
            case .httpProxy where scope.needsForwardProxy:
                filter = ForwardProxyBuilder(options: request.options)
                    .httpConnectionManager(statPrefix: "outbound_\(egress.bind)_\(egress.port)", routeName: "\(egress.port)")
            case .http, .httpProxy:
                filter = builder.httpConnectionManager(statPrefix: "outbound_\(egress.bind)_\(egress.port)", routeName: "\(egress.port)")
            case .tcp:
                let target = egress.services.first { $0.port(egress.port) != nil }
                filter = builder.tcpProxy(cluster: target.map { ClusterName.outbound(port: egress.port, host: $0.hostname) } ?? scope.catchAllCluster)
            }
            var listener = builder.listener(address: egress.bind, port: egress.port, direction: .outbound, bindToPort: egress.bindToPort, filters: [filter])
            if egress.kind == .tcp, let target = egress.services.first(where: { $0.port(egress.port) != nil }) {
                listener = tcpRoutes.outboundListener(listener, service: target, port: egress.port, proxy: request.proxy,
                                                      virtualServices: scope.virtualServices(for: target), services: lookup)
            }
            add(listener)
        }

        func inboundFilters(port: UInt32, protocol: ServiceProtocol, statPrefix: String) -> [Envoy_Config_Listener_V3_Filter] {
            if `protocol`.isHTTP {
                return [builder.httpConnectionManager(statPrefix: statPrefix, routeConfig: routes.inboundRouteConfiguration(port: port))]
            }
            return [builder.tcpProxy(cluster: ClusterName.inbound(port: port))]
        }
        var capturedInbound: [(port: UInt32, filters: [Envoy_Config_Listener_V3_Filter])] = []
        var inboundPorts = Set<UInt32>()
        for ingress in scope.ingressListeners where inboundPorts.insert(ingress.port).inserted {
            let filters = inboundFilters(port: ingress.port, protocol: ingress.protocol, statPrefix: "inbound_\(ingress.bind)_\(ingress.port)")
            if ingress.bindToPort {
                add(inbound.secure(builder.listener(address: ingress.bind, port: ingress.port, direction: .inbound, bindToPort: true, filters: filters)))
            } else {
                capturedInbound.append((ingress.port, filters))
            }
        }

        if scope.isTransparent {
            add(builder.virtualOutbound(catchAllCluster: scope.catchAllCluster))
            let lockedPorts = Set(scope.egressListeners.map(\.port))
            var perService: [Envoy_Config_Listener_V3_Listener] = []
            for port in ProxyScope.httpPorts(of: scope.catchAllServices ?? []) where !lockedPorts.contains(port) {
                perService.append(builder.listener(
                    address: "0.0.0.0", port: port, direction: .outbound, bindToPort: false,
                    filters: [builder.httpConnectionManager(statPrefix: "outbound_0.0.0.0_\(port)", routeName: "\(port)")]))
            }
            let httpPorts = Set(ProxyScope.httpPorts(of: scope.catchAllServices ?? []))
            for service in scope.catchAllServices ?? [] {
                for port in service.ports where !port.protocol.isHTTP && !httpPorts.contains(port.port) && !lockedPorts.contains(port.port) {
                    let vip = service.addresses.first { !$0.contains("/") } ?? "0.0.0.0"
                    perService.append(tcpRoutes.outboundListener(builder.listener(
                        address: vip, port: port.port, direction: .outbound, bindToPort: false,
                        filters: [builder.tcpProxy(cluster: ClusterName.outbound(port: port.port, host: service.hostname))]),
                        service: service, port: port.port, proxy: request.proxy,
                        virtualServices: scope.virtualServices(for: service), services: lookup))
                }
            }
            for listener in perService.sorted(by: { $0.name < $1.name }) { add(listener) }

            for (service, instance) in scope.ownInstances {
                for port in service.ports {
                    let target = instance.endpointPorts[port.port] ?? port.targetPort ?? port.port
                    guard inboundPorts.insert(target).inserted else { continue }
                    capturedInbound.append((target, inboundFilters(port: target, protocol: port.protocol, statPrefix: "inbound_0.0.0.0_\(target)")))
                }
            }
            add(inbound.secure(builder.virtualInbound(chains: capturedInbound.sorted { $0.port < $1.port })))
        }
        return decorated(listeners, request).map { GeneratedResource(name: $0.name, message: $0) }
    }

    /// `listeners` with the proxy-wide connection-manager settings: access logs and Istio's
    /// telemetry filters, and HTTP/1.0 for a proxy that asked for it (``HTTP10Acceptance``).
    private func decorated(_ listeners: [Envoy_Config_Listener_V3_Listener], _ request: GenerationRequest) -> [Envoy_Config_Listener_V3_Listener] {
        var listeners = HTTP10Acceptance.requested(by: request.proxy) ? HTTP10Acceptance.accepting(listeners) : listeners
        let telemetryLogs = TelemetryAccessLogging(snapshot: request.snapshot, proxy: request.proxy)
        if telemetryLogs.client != nil || telemetryLogs.server != nil {
            // Telemetry access logging replaces MeshConfig's for the directions it configures.
            listeners = AccessLogBuilder.decorate(
                listeners, client: telemetryLogs.client, server: telemetryLogs.server, fallback: request.options.accessLog,
                isRouter: request.proxy.type == .router)
        } else if let accessLog = request.options.accessLog {
            listeners = AccessLogBuilder(settings: accessLog).decorate(listeners)
        }
        if let telemetry = IstioTelemetryBuilder(snapshot: request.snapshot, proxy: request.proxy) {
            listeners = telemetry.decorate(listeners)
        }
        return listeners
    }
}
