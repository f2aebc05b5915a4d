public import MeshCore

/// Builds a router proxy's route configurations from the Gateway servers that select it and the
/// VirtualServices bound to them (`gateways: [ns/name]`), as Istio's gateway RDS does:
///
/// - `http.<port>` for the plain-text HTTP servers of a port, merged;
/// - `https.<port>.<portName>.<gateway>.<namespace>` for each HTTPS server that terminates TLS.
///
/// Each host a VirtualService serves through a server (Istio's host matching: `ns/host` server
/// hosts admit only that namespace, wildcards either way, the more specific name wins) becomes a
/// virtual host `host:port` with domains `host` and `host:*`, holding the VirtualService's HTTP
/// routes for that gateway (from ``RouteBuilder``). Servers with `tls.httpsRedirect` get
/// `require_tls: ALL` (a 301 to `https`). A configuration with no virtual host answers 404.
public struct GatewayRouteBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    /// Every gateway route configuration of `proxy`, or only those named in `names`.
    /// - Parameters:
    ///   - snapshot: the mesh.
    ///   - proxy: the router proxy.
    ///   - names: the RDS names subscribed to; nil for all.
    public func routeConfigurations(snapshot: MeshSnapshot, proxy: ProxyView, names: Set<String>? = nil) -> [Envoy_Config_Route_V3_RouteConfiguration] {
        let scope = GatewayScope(snapshot: snapshot, proxy: proxy, options: options)
        let proxyScope = ProxyScope(snapshot: snapshot, proxy: proxy, options: options)
        let lookup: RouteBuilder.ServiceLookup = { host, namespace in proxyScope.service(named: host, namespace: namespace) }
        let rules: RouteBuilder.RuleLookup = { service in proxyScope.destinationRule(for: service) }
        // The issuers whose payloads the gateway's jwt_authn keeps, for JWT claim routes.
        let issuers = JWTAuthenticationBuilder().build(InboundFilterChainBuilder.requestAuthentications(snapshot: snapshot, proxy: proxy)).issuers
        // Only the configurations a generated listener refers to: a server left out (a secret that
        // needs SDS, SNI names all taken by earlier servers) has no route configuration either.
        let referenced = Set(GatewayListenerBuilder(options: options).listeners(snapshot: snapshot, proxy: proxy).flatMap { listener in
            listener.filterChains.flatMap { chain in
                chain.filters.compactMap { filter in
                    (try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(unpackingAny: filter.typedConfig))?
                        .rds.routeConfigName
                }
            }
        })
        var out: [Envoy_Config_Route_V3_RouteConfiguration] = []
        var seen = Set<String>()
        func emit(_ name: String, _ servers: [GatewayScope.BoundServer], port: UInt32) {
            guard referenced.contains(name), seen.insert(name).inserted, names?.contains(name) ?? true else { return }
            out.append(routeConfiguration(name: name, servers: servers, port: port, scope: scope, jwtIssuers: issuers, services: lookup, rules: rules))
        }
        for listener in scope.listeners {
            switch listener.portClass {
            case .http:
                emit(listener.httpRouteName, listener.servers, port: listener.port)
            case .tls:
                for server in listener.servers where server.kind == .https {
                    emit(server.httpsRouteName, [server], port: listener.port)
                }
            case .tcp:
                continue
            }
        }
        return out
    }

    func routeConfiguration(
        name: String, servers: [GatewayScope.BoundServer], port: UInt32, scope: GatewayScope, jwtIssuers: [String] = [],
        services: RouteBuilder.ServiceLookup, rules: RouteBuilder.RuleLookup
    ) -> Envoy_Config_Route_V3_RouteConfiguration {
        let routes = RouteBuilder(options: options)
        var hosts: [String: Envoy_Config_Route_V3_VirtualHost] = [:]
        for server in servers {
            let redirect = server.server.tls?.httpsRedirect == true
            for (vs, matched) in scope.virtualServices(for: server) {
                let filtered = scope.httpRoutesForGateway(vs, server: server)
                let vsRoutes = routes.routes(filtered, port: port, proxy: scope.proxy, jwtIssuers: jwtIssuers, services: services, rules: rules)
                for host in matched {
                    let key = "\(host):\(port)"
                    var vhost = hosts[key] ?? .with {
                        $0.name = key
                        $0.domains = host == "*" ? ["*"] : [host, "\(host):*"]
                        $0.includeRequestAttemptCount = true
                    }
                    // Istio merges the routes of several VirtualServices for one host, in order.
                    vhost.routes += vsRoutes
                    if redirect { vhost.requireTls = .all }
                    hosts[key] = vhost
                }
            }
            // An httpsRedirect server redirects its hosts even where no VirtualService routes them.
            if redirect {
                for (_, host) in server.hosts where hosts["\(host):\(port)"] == nil {
                    hosts["\(host):\(port)"] = .with {
                        $0.name = "\(host):\(port)"
                        $0.domains = host == "*" ? ["*"] : [host, "\(host):*"]
                        $0.includeRequestAttemptCount = true
                        $0.requireTls = .all
                    }
                }
            }
        }
        var virtualHosts = hosts.values.sorted { $0.name < $1.name }
        if virtualHosts.isEmpty {
            virtualHosts = [.with {
                $0.name = "blackhole:\(port)"
                $0.domains = ["*"]
                $0.routes = [.with {
                    $0.name = "default"
                    $0.match = RouteMatchConverter.convert(nil)
                    $0.directResponse = .with { $0.status = 404 }
                }]
            }]
        }
        return .with {
            $0.name = name
            $0.virtualHosts = virtualHosts
            $0.validateClusters = .init(false)
            $0.maxDirectResponseBodySizeBytes = .init(1_048_576)
        }
    }
}
