import MeshCore

/// The Gateway servers a router proxy serves, merged into listeners (bind address and port) the
/// way Istio's `MergeGateways` does, with the VirtualServices bound to each server.
///
/// Gateways are taken in `namespace/name` order; a server whose port another server already uses
/// with a protocol that cannot share it (plain HTTP with TLS or TCP, TCP with anything) is left
/// out and reported.
struct GatewayScope: Sendable {
    /// How a server's traffic is handled.
    enum ServerKind: Sendable, Equatable {
        /// Plain-text HTTP (HTTP, HTTP2, GRPC, GRPC-WEB), routed by RDS `http.<port>`.
        case http
        /// HTTPS terminated here (SIMPLE, MUTUAL, OPTIONAL_MUTUAL), routed by its own RDS.
        case https
        /// TLS terminated here, then TCP routes.
        case tlsTerminate
        /// TLS forwarded by SNI to the VirtualService `tls` routes.
        case tlsPassthrough
        /// TLS forwarded by SNI `outbound_.PORT_.SUBSET_.HOST` to that cluster.
        case autoPassthrough
        /// Plain TCP to the VirtualService `tcp` routes.
        case tcp

        /// What may share a port: plain HTTP, TLS (split by SNI) or TCP.
        var portClass: PortClass {
            switch self {
            case .http: .http
            case .tcp: .tcp
            case .https, .tlsTerminate, .tlsPassthrough, .autoPassthrough: .tls
            }
        }
    }

    enum PortClass: Sendable, Equatable { case http, tls, tcp }

    /// One server of one gateway that selects the proxy.
    struct BoundServer: Sendable {
        var gateway: Resource<Gateway>
        var server: Gateway.Server
        /// The server's index in `spec.servers`.
        var index: Int
        var kind: ServerKind
        var port: UInt32
        /// The server's hosts, split into the namespace they admit (`*` for any) and the host.
        var hosts: [(namespace: String, host: String)]

        /// `namespace/name` of the gateway, as VirtualServices name it.
        var gatewayKey: String { "\(gateway.meta.namespace)/\(gateway.meta.name)" }
        var field: String { "spec.servers[\(index)]" }
        var portName: String { server.port?.name ?? "" }

        /// Istio's RDS name for a TLS-terminating HTTPS server: `https.PORT.PORTNAME.GATEWAY.NAMESPACE`.
        var httpsRouteName: String { "https.\(port).\(portName).\(gateway.meta.name).\(gateway.meta.namespace)" }
    }

    /// One listener: the servers that share a bind address and port.
    struct PortListener: Sendable {
        var bind: String
        var port: UInt32
        var portClass: PortClass
        var servers: [BoundServer]
        var name: String { "\(bind)_\(port)" }
        var httpRouteName: String { "http.\(port)" }
    }

    let snapshot: MeshSnapshot
    let proxy: ProxyView
    let options: TranslationOptions
    /// Listeners in order of first appearance.
    let listeners: [PortListener]
    /// Servers left out, and why.
    let problems: [GatewayTranslationError]

    init(snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions) {
        self.snapshot = snapshot
        self.proxy = proxy
        self.options = options
        var listeners: [PortListener] = []
        var problems: [GatewayTranslationError] = []
        for gateway in snapshot.gateways.gateways(selecting: proxy.labels) {
            for (index, server) in (gateway.spec.servers ?? []).enumerated() {
                let key = "\(gateway.meta.namespace)/\(gateway.meta.name)"
                guard let number = server.port?.number, let kind = Self.kind(of: server) else {
                    problems.append(GatewayTranslationError(
                        code: .unsupportedMode, message: "port protocol \"\(server.port?.protocol ?? "")\" is not supported on a gateway",
                        gateway: key, field: "spec.servers[\(index)].port"))
                    continue
                }
                let hosts = (server.hosts ?? []).map { reference in
                    let split = HostName.splitNamespace(reference)
                    return (namespace: split.namespace == "." ? gateway.meta.namespace : split.namespace, host: split.host)
                }
                let bound = BoundServer(gateway: gateway, server: server, index: index, kind: kind, port: number, hosts: hosts)
                let bind = server.bind.flatMap { $0.isEmpty ? nil : $0 } ?? proxy.ipAddress
                if let i = listeners.firstIndex(where: { $0.bind == bind && $0.port == number }) {
                    guard listeners[i].portClass == kind.portClass, kind.portClass != .tcp else {
                        problems.append(GatewayTranslationError(
                            code: .portConflict,
                            message: "port \(number) is already served as \(Self.describe(listeners[i].portClass)) by \(listeners[i].servers[0].gatewayKey) \(listeners[i].servers[0].field); this \(Self.describe(kind.portClass)) server is ignored",
                            gateway: key, field: "spec.servers[\(index)].port"))
                        continue
                    }
                    listeners[i].servers.append(bound)
                } else {
                    listeners.append(PortListener(bind: bind, port: number, portClass: kind.portClass, servers: [bound]))
                }
            }
        }
        self.listeners = listeners
        self.problems = problems
    }

    private static func describe(_ portClass: PortClass) -> String {
        switch portClass {
        case .http: "plain-text HTTP"
        case .tls: "TLS"
        case .tcp: "TCP"
        }
    }

    /// The server's kind from its port protocol and TLS mode, or nil for an unknown protocol.
    static func kind(of server: Gateway.Server) -> ServerKind? {
        let mode = server.tls?.effectiveMode ?? .PASSTHROUGH
        switch ServiceProtocol(name: server.port?.protocol ?? "") {
        case .http, .http2, .grpc, .grpcWeb: return .http
        case .https:
            switch mode {
            case .PASSTHROUGH: return .tlsPassthrough
            case .AUTO_PASSTHROUGH: return .autoPassthrough
            case .SIMPLE, .MUTUAL, .OPTIONAL_MUTUAL, .ISTIO_MUTUAL: return .https
            }
        case .tls:
            switch mode {
            case .PASSTHROUGH: return .tlsPassthrough
            case .AUTO_PASSTHROUGH: return .autoPassthrough
            case .SIMPLE, .MUTUAL, .OPTIONAL_MUTUAL, .ISTIO_MUTUAL: return .tlsTerminate
            }
        case .tcp, .mongo, .redis, .mysql: return .tcp
        case .udp, .unsupported: return nil
        }
    }

    /// True when some listener has an AUTO_PASSTHROUGH server (the proxy needs SNI-DNAT clusters).
    var hasAutoPassthrough: Bool { listeners.contains { $0.servers.contains { $0.kind == .autoPassthrough } } }

    // MARK: Hosts

    /// Istio's `pickMatchingGatewayHosts`: the hosts a VirtualService serves through `server`.
    ///
    /// A server host admits VirtualServices from its namespace part (`*` any, `.` the gateway's);
    /// where a VirtualService host and a server host overlap, the more specific one is used.
    func matchingHosts(_ server: BoundServer, virtualService: Resource<VirtualService>) -> [String] {
        var result: [String] = []
        for raw in virtualService.spec.hosts ?? [] {
            let vsHost = HostName.resolve(raw, namespace: virtualService.meta.namespace, domainSuffix: options.domainSuffix)
            for (namespace, host) in server.hosts where namespace == "*" || namespace == virtualService.meta.namespace {
                guard HostName.overlaps(vsHost, host) else { continue }
                let picked = HostName.matches(vsHost, host) ? vsHost : host
                if !result.contains(picked) { result.append(picked) }
            }
        }
        return result
    }

    /// True when `host` (a service's or an SNI name, in `namespace`) is covered by a server host.
    func serverAdmits(_ server: BoundServer, host: String, namespace: String) -> Bool {
        server.hosts.contains { ($0.namespace == "*" || $0.namespace == namespace) && HostName.matches(host, $0.host) }
    }

    /// The VirtualServices bound to the server's gateway that serve some of its hosts, with those
    /// hosts; as in Istio, only those whose `exportTo` makes them visible in the gateway proxy's namespace.
    func virtualServices(for server: BoundServer) -> [(virtualService: Resource<VirtualService>, hosts: [String])] {
        snapshot.virtualServices.virtualServices(gateway: server.gatewayKey, visibleFrom: proxy.namespace)
            .filter { vs in
                ExportScope(exportTo: vs.spec.exportTo, defaults: snapshot.mesh.defaultVirtualServiceExportTo)
                    .isVisible(from: proxy.namespace, owner: vs.meta.namespace)
            }
            .compactMap { vs in
                let hosts = matchingHosts(server, virtualService: vs)
                return hosts.isEmpty ? nil : (vs, hosts)
            }
    }

    /// True when a match's `gateways` (if any) name the server's gateway.
    func bindsGateway(_ gateways: [String]?, server: BoundServer, namespace: String) -> Bool {
        guard let gateways, !gateways.isEmpty else { return true }
        return gateways.contains { GatewayIndex.qualify($0, namespace: namespace) == server.gatewayKey }
    }

    /// True when `sourceLabels`/`sourceNamespace` of a match admit the gateway proxy.
    func admitsSource(labels: [String: String]?, namespace: String?) -> Bool {
        if let namespace, namespace != proxy.namespace { return false }
        if let labels, !labels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { return false }
        return true
    }

    /// The VirtualService with only the `http` matches that apply to the server's gateway, their
    /// `gateways` cleared so ``RouteBuilder`` keeps them; rules left without a match are dropped.
    func httpRoutesForGateway(_ vs: Resource<VirtualService>, server: BoundServer) -> Resource<VirtualService> {
        var copy = vs
        copy.spec.http = (vs.spec.http ?? []).compactMap { rule in
            guard let matches = rule.match, !matches.isEmpty else { return rule }
            let kept = matches.compactMap { match -> VirtualService.HTTPMatchRequest? in
                guard bindsGateway(match.gateways, server: server, namespace: vs.meta.namespace) else { return nil }
                var m = match
                m.gateways = nil
                return m
            }
            guard !kept.isEmpty else { return nil }
            var r = rule
            r.match = kept
            return r
        }
        return copy
    }

    // MARK: Destinations

    /// The cluster for a TCP/TLS route destination, resolved as HTTP routes resolve theirs.
    func cluster(for destination: Destination?, namespace: String, port: UInt32) -> String {
        let host = destination?.host ?? ""
        let resolved = HostName.resolve(host, namespace: namespace, domainSuffix: options.domainSuffix)
        let service = snapshot.services.service(resolved, visibleFrom: proxy.namespace)
        var number = port
        if let explicit = destination?.port?.number {
            number = explicit
        } else if let service, service.ports.count == 1 {
            number = service.ports[0].port
        }
        return ClusterName.outbound(port: number, subset: destination?.subset, host: service?.hostname ?? resolved)
    }

    /// Weighted clusters of a TCP/TLS route (weight 0 entries dropped unless alone).
    func clusters(for route: [VirtualService.RouteDestination], namespace: String, port: UInt32) -> [(name: String, weight: UInt32)] {
        let kept = route.filter { ($0.weight ?? 0) != 0 || route.count == 1 }
        return kept.map { (name: cluster(for: $0.destination, namespace: namespace, port: port), weight: UInt32(max($0.weight ?? 0, 0))) }
    }
}
