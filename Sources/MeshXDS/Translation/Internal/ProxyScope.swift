import MeshCore

/// What one proxy sees of the mesh: its Sidecar, the services each egress listener exposes, its
/// ingress listeners and its own instances. Computed per generation from the snapshot.
struct ProxyScope: Sendable {
    /// A Sidecar egress listener with a port: a listener the proxy binds (or captures) itself.
    struct EgressListener: Sendable {
        enum Kind: Sendable { case http, httpProxy, tcp }
        var port: UInt32
        var kind: Kind
        var bind: String
        var bindToPort: Bool
        /// Services the listener's `hosts` admit, by host name.
        var services: [MeshService]
        var name: String { "\(bind)_\(port)" }
    }

    /// A Sidecar ingress listener forwarding to the application.
    struct IngressListener: Sendable {
        var port: UInt32
        var `protocol`: ServiceProtocol
        var bind: String
        var bindToPort: Bool
        /// Host and port the application listens on.
        var endpointHost: String
        var endpointPort: UInt32
        var clusterName: String { ClusterName.inbound(port: port) }
        var name: String { "\(bind)_\(port)" }
    }

    let snapshot: MeshSnapshot
    let proxy: ProxyView
    let options: TranslationOptions
    let sidecar: Resource<Sidecar>?
    let outboundMode: TranslationOptions.OutboundTrafficMode
    /// Every service the proxy can reach, sorted by host.
    let services: [MeshService]
    /// Sidecar egress listeners with a port, in Sidecar order.
    let egressListeners: [EgressListener]
    /// Services of the catch-all egress listener (no port); nil when the Sidecar has none.
    let catchAllServices: [MeshService]?
    let ingressListeners: [IngressListener]
    /// The proxy's own instances: those whose address is one of its IPs.
    let ownInstances: [(service: MeshService, instance: WorkloadInstance)]

    init(snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions) {
        self.snapshot = snapshot
        self.proxy = proxy
        self.options = options
        let workload = proxy.workload
        // Sidecar resources do not apply to gateways (router proxies), as in Istio.
        let sidecar = proxy.type == .router ? nil : snapshot.sidecars.sidecar(for: workload)
        self.sidecar = sidecar
        switch sidecar?.spec.outboundTrafficPolicy?.mode {
        case .ALLOW_ANY?: outboundMode = .allowAny
        case .REGISTRY_ONLY?: outboundMode = .registryOnly
        case nil: outboundMode = options.outboundTrafficMode
        }
        let visible = snapshot.services.services(visibleFrom: workload.namespace)
        func admitted(by listener: Sidecar.IstioEgressListener) -> [MeshService] {
            let single = Sidecar(egress: [listener])
            return visible.filter { SidecarIndex.admits(single, owner: workload.namespace, service: $0) }
        }
        let egress = sidecar?.spec.egress ?? []
        var listeners: [EgressListener] = []
        var catchAll: [MeshService]? = egress.isEmpty ? visible : nil
        for entry in egress {
            guard let number = entry.port?.number else {
                catchAll = (catchAll ?? []) + admitted(by: entry)
                continue
            }
            let protocolName = (entry.port?.protocol ?? "").uppercased()
            let kind: EgressListener.Kind = protocolName == "HTTP_PROXY"
                ? .httpProxy : (ServiceProtocol(name: protocolName).isHTTP ? .http : .tcp)
            let bindToPort = Self.bindToPort(entry.captureMode, proxy: proxy)
            listeners.append(EgressListener(
                port: number, kind: kind, bind: entry.bind ?? (bindToPort ? "127.0.0.1" : "0.0.0.0"),
                bindToPort: bindToPort, services: admitted(by: entry)))
        }
        egressListeners = listeners
        catchAllServices = catchAll.map { Self.unique($0) }
        services = Self.unique(listeners.flatMap(\.services) + (catchAll ?? []))

        ingressListeners = (sidecar?.spec.ingress ?? []).compactMap { entry in
            guard let number = entry.port?.number else { return nil }
            let bind = entry.bind ?? proxy.ipAddress
            var host = proxy.ipAddress
            var port = number
            if let endpoint = entry.defaultEndpoint {
                if endpoint.hasPrefix("unix://") {
                    host = endpoint
                    port = 0
                } else if let colon = endpoint.lastIndex(of: ":"), let parsed = UInt32(endpoint[endpoint.index(after: colon)...]) {
                    var h = String(endpoint[..<colon])
                    if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
                    // 0.0.0.0 and :: mean "the instance IP", as in Istio.
                    host = (h == "0.0.0.0" || h == "::") ? proxy.ipAddress : h
                    port = parsed
                }
            }
            return IngressListener(
                port: number, protocol: ServiceProtocol(name: entry.port?.protocol ?? ""), bind: bind,
                bindToPort: Self.bindToPort(entry.captureMode, proxy: proxy), endpointHost: host, endpointPort: port)
        }

        let ips = Set(proxy.ipAddresses)
        ownInstances = snapshot.services.all.flatMap { service in
            snapshot.services.instances(of: service)
                .filter { ips.contains($0.address) && $0.namespace == proxy.namespace }
                .map { (service, $0) }
        }
    }

    /// Istio's getBindToPort: an explicit capture mode wins, else the proxy's interception mode.
    static func bindToPort(_ mode: Sidecar.CaptureMode?, proxy: ProxyView) -> Bool {
        switch mode {
        case .NONE?: true
        case .IPTABLES?: false
        case .DEFAULT?, nil: proxy.interceptionMode == .none
        }
    }

    private static func unique(_ services: [MeshService]) -> [MeshService] {
        var seen = Set<String>()
        return services.sorted { $0.hostname < $1.hostname }.filter { seen.insert($0.hostname).inserted }
    }

    /// True when the proxy captures traffic with iptables and so gets 15001/15006 (never a gateway).
    var isTransparent: Bool { proxy.interceptionMode != .none && proxy.type != .router }

    /// The catch-all cluster for unknown destinations. Without capture there is no original
    /// destination, so `PassthroughCluster` would loop back into the listener: block instead.
    var catchAllCluster: String {
        outboundMode == .allowAny && isTransparent ? ClusterName.passthrough : ClusterName.blackHole
    }

    /// The catch-all cluster of an HTTP_PROXY listener's routes: under ALLOW_ANY the dynamic
    /// forward proxy (the authority names the target; there is no original destination).
    var httpProxyCatchAllCluster: String {
        outboundMode == .allowAny ? ClusterName.forwardProxy : ClusterName.blackHole
    }

    /// True when some HTTP_PROXY egress listener forwards unknown hosts (ALLOW_ANY).
    var needsForwardProxy: Bool {
        outboundMode == .allowAny && egressListeners.contains { $0.kind == .httpProxy }
    }

    func destinationRule(for service: MeshService) -> DestinationRuleIndex.Merged? {
        snapshot.destinationRule(for: service, from: proxy.workload)
    }

    func virtualService(for service: MeshService) -> Resource<VirtualService>? {
        snapshot.virtualServices(forHost: service.hostname, from: proxy.workload).first
    }

    /// The service a route destination names, resolved in `namespace` (the VirtualService's).
    func service(named host: String, namespace: String) -> MeshService? {
        let resolved = HostName.resolve(host, namespace: namespace, domainSuffix: options.domainSuffix)
        return snapshot.services.service(resolved, visibleFrom: proxy.namespace)
    }

    /// HTTP route configuration names the proxy's listeners refer to, with the services and
    /// whether host matching includes the port (HTTP_PROXY listeners).
    var routeNames: [(name: String, port: UInt32, services: [MeshService], httpProxy: Bool)] {
        var result: [(name: String, port: UInt32, services: [MeshService], httpProxy: Bool)] = []
        var seen = Set<String>()
        for listener in egressListeners where listener.kind != .tcp {
            let name = "\(listener.port)"
            guard seen.insert(name).inserted else { continue }
            result.append((name, listener.port, listener.services, listener.kind == .httpProxy))
        }
        if isTransparent, let catchAll = catchAllServices {
            for port in Self.httpPorts(of: catchAll) where seen.insert("\(port)").inserted {
                result.append(("\(port)", port, catchAll, false))
            }
        }
        return result
    }

    /// Ports on which some service speaks HTTP, sorted.
    static func httpPorts(of services: [MeshService]) -> [UInt32] {
        Array(Set(services.flatMap { $0.ports.filter { $0.protocol.isHTTP }.map(\.port) })).sorted()
    }
}
