import MeshCore

/// RDS: one outbound route configuration per HTTP port the proxy's listeners use, named by the
/// port (`9080`), with a virtual host per service port and the catch-all host.
///
/// For an HTTP_PROXY egress listener the configuration covers every port of every service the
/// listener exposes and matches `host:port` authorities.
public struct RouteGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { EnvoyTypeURL.routeConfiguration }

    /// Outbound route configurations are shared (inbound routes are inline in listeners).
    public var splitsSharedPart: Bool { true }

    public func generate(_ request: GenerationRequest) -> [GeneratedResource] {
        guard request.includesShared else { return [] }
        let scope = ProxyScope(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        let builder = RouteBuilder(options: request.options)
        let lookup: RouteBuilder.ServiceLookup = { host, namespace in scope.service(named: host, namespace: namespace) }
        let rules: RouteBuilder.RuleLookup = { service in scope.destinationRule(for: service) }
        var out: [GeneratedResource] = []
        for route in scope.routeNames where request.wants(route.name) {
            var virtualHosts: [Envoy_Config_Route_V3_VirtualHost] = []
            for service in route.services {
                let httpRoutes = scope.httpRoutes(for: service)
                for port in service.ports where port.protocol.isHTTP || port.protocol == .unsupported {
                    guard route.httpProxy || port.port == route.port else { continue }
                    virtualHosts.append(builder.virtualHost(
                        service: service, port: port, proxy: request.proxy, httpRoutes: httpRoutes,
                        includePort: route.httpProxy, services: lookup, rules: rules))
                }
            }
            let config = builder.outboundRouteConfiguration(
                name: route.name, virtualHosts: virtualHosts, catchAllCluster: scope.catchAllCluster)
            out.append(GeneratedResource(name: route.name, message: config))
        }
        return out
    }
}
