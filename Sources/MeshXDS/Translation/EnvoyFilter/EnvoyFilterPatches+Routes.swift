public import MeshCore
import SwiftProtobuf

extension EnvoyFilterPatches {
    typealias RouteConfiguration = Envoy_Config_Route_V3_RouteConfiguration
    typealias VirtualHost = Envoy_Config_Route_V3_VirtualHost
    typealias Route = Envoy_Config_Route_V3_Route

    var hasRoutePatches: Bool {
        !patches(.ROUTE_CONFIGURATION).isEmpty || !patches(.VIRTUAL_HOST).isEmpty || !patches(.HTTP_ROUTE).isEmpty
    }

    /// Applies the ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE patches to RDS route
    /// configurations (context SIDECAR_OUTBOUND on a sidecar, GATEWAY on a gateway).
    /// - Parameter configurations: the generated route configurations.
    /// - Returns: the patched configurations, same names and order.
    public func patchRouteConfigurations(_ configurations: [Envoy_Config_Route_V3_RouteConfiguration]) -> [Envoy_Config_Route_V3_RouteConfiguration] {
        guard hasRoutePatches else { return configurations }
        let context: EnvoyFilter.PatchContext = isGateway ? .GATEWAY : .SIDECAR_OUTBOUND
        return configurations.map { configuration in
            var configuration = configuration
            patchRouteConfiguration(&configuration, context: context)
            return configuration
        }
    }

    func patchRouteConfiguration(_ configuration: inout RouteConfiguration, context: EnvoyFilter.PatchContext) {
        for patch in patches(.ROUTE_CONFIGURATION) where patch.operation == .MERGE && patch.applies(in: context)
            && Self.routeConfigurationMatches(configuration, patch, context: context) {
            try? ProtoMerge.merge(patch.value(as: RouteConfiguration.self), into: &configuration)
        }
        guard !patches(.VIRTUAL_HOST).isEmpty || !patches(.HTTP_ROUTE).isEmpty else { return }
        var hosts: [VirtualHost] = []
        for host in configuration.virtualHosts {
            if let patched = patchVirtualHost(host, in: configuration, context: context) { hosts.append(patched) }
        }
        for patch in patches(.VIRTUAL_HOST) where patch.operation == .ADD && patch.applies(in: context)
            && Self.routeConfigurationMatches(configuration, patch, context: context) {
            hosts.append(patch.value(as: VirtualHost.self))
        }
        configuration.virtualHosts = hosts
    }

    /// Patches one virtual host and its routes; nil when a REMOVE matched it.
    private func patchVirtualHost(_ host: VirtualHost, in configuration: RouteConfiguration, context: EnvoyFilter.PatchContext) -> VirtualHost? {
        var host = host
        for patch in patches(.VIRTUAL_HOST) where patch.applies(in: context)
            && Self.routeConfigurationMatches(configuration, patch, context: context) && Self.virtualHostMatches(host, patch) {
            switch patch.operation {
            case .REMOVE: return nil
            case .MERGE: try? ProtoMerge.merge(patch.value(as: VirtualHost.self), into: &host)
            case .REPLACE: host = patch.value(as: VirtualHost.self)
            default: break
            }
        }
        patchRoutes(&host, in: configuration, context: context)
        return host
    }

    private func patchRoutes(_ host: inout VirtualHost, in configuration: RouteConfiguration, context: EnvoyFilter.PatchContext) {
        let relevant = patches(.HTTP_ROUTE).filter {
            $0.applies(in: context) && Self.routeConfigurationMatches(configuration, $0, context: context) && Self.virtualHostMatches(host, $0)
        }
        guard !relevant.isEmpty else { return }
        var routes: [Route] = []
        for route in host.routes {
            var route = route
            var removed = false
            for patch in relevant where Self.routeMatches(route, patch) {
                if patch.operation == .REMOVE { removed = true; break }
                if patch.operation == .MERGE { try? ProtoMerge.merge(patch.value(as: Route.self), into: &route) }
            }
            if !removed { routes.append(route) }
        }
        let inserts: Set<EnvoyFilter.Patch.Operation> = [.ADD, .INSERT_BEFORE, .INSERT_AFTER, .INSERT_FIRST]
        for patch in relevant where inserts.contains(patch.operation) {
            ListPatch.apply(
                patch.operation, value: patch.value(as: Route.self), to: &routes,
                hasMatch: patch.match.routeConfiguration?.vhost?.route != nil, insertFirstNeedsMatch: true) { Self.routeMatches($0, patch) }
        }
        host.routes = routes
    }

    /// Istio's `routeConfigurationMatch`. On a sidecar the port is the configuration's name (`9080`)
    /// or, inbound, the port of `inbound|PORT||...`; on a gateway the port, port name and gateway come
    /// from the name `http.PORT` or `https.PORT.PORTNAME.GATEWAY.NAMESPACE`.
    static func routeConfigurationMatches(_ configuration: RouteConfiguration, _ patch: Patch, context: EnvoyFilter.PatchContext) -> Bool {
        guard let match = patch.match.routeConfiguration else { return true }
        if let name = match.name, !name.isEmpty, name != configuration.name { return false }
        if context != .GATEWAY {
            let port = configuration.name.hasPrefix("inbound")
                ? configuration.name.split(separator: "|", omittingEmptySubsequences: false).dropFirst().first.flatMap { UInt32($0) } ?? 0
                : UInt32(configuration.name) ?? 0
            if let wanted = match.portNumber, wanted != 0, wanted != port { return false }
            return true
        }
        let parts = configuration.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var port: UInt32 = 0
        var portName = ""
        var gateway = ""
        if parts.first == "http", parts.count >= 2 {
            port = UInt32(parts[1]) ?? 0
        } else if parts.first == "https", parts.count >= 5 {
            port = UInt32(parts[1]) ?? 0
            portName = parts[2]
            gateway = "\(parts[4])/\(parts[3])"
        }
        if let wanted = match.portNumber, wanted != 0, wanted != port { return false }
        if let wanted = match.portName, !wanted.isEmpty, wanted != portName { return false }
        if let wanted = match.gateway, !wanted.isEmpty, wanted != gateway { return false }
        return true
    }

    /// Istio's `virtualHostMatch`: by name, and by one of its domains when `domainName` is set.
    static func virtualHostMatches(_ host: VirtualHost, _ patch: Patch) -> Bool {
        guard let match = patch.match.routeConfiguration?.vhost else { return true }
        if let name = match.name, !name.isEmpty, name != host.name { return false }
        if let domain = match.domainName, !domain.isEmpty, !host.domains.contains(domain) { return false }
        return true
    }

    /// Istio's `routeMatch`: by name and by action (ROUTE, REDIRECT, DIRECT_RESPONSE).
    static func routeMatches(_ route: Route, _ patch: Patch) -> Bool {
        guard let match = patch.match.routeConfiguration?.vhost?.route else { return true }
        if let name = match.name, !name.isEmpty, name != route.name { return false }
        switch (match.action ?? .ANY, route.action) {
        case (.ANY, _): return true
        case (.ROUTE, .route?), (.REDIRECT, .redirect?), (.DIRECT_RESPONSE, .directResponse?): return true
        case (_, nil): return true
        default: return false
        }
    }
}
