import MeshCore

/// CDS: outbound clusters for every service port (and subset) the proxy can reach, inbound
/// clusters for its own ports, and the catch-all clusters.
public struct ClusterGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { EnvoyTypeURL.cluster }

    /// Outbound clusters are shared; inbound and catch-all clusters are the proxy's own.
    public var splitsSharedPart: Bool { true }

    public func generate(_ request: GenerationRequest) -> [GeneratedResource] {
        let scope = ProxyScope(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        let builder = ClusterBuilder(options: request.options)
        var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
        for service in scope.services where request.includesShared {
            let instances = request.snapshot.services.instances(of: service)
            let rule = scope.destinationRule(for: service)
            for port in service.ports {
                clusters += builder.withUpstreamTLS(
                    builder.outboundClusters(service: service, port: port, instances: instances, rule: rule, proxy: request.proxy),
                    service: service, port: port, instances: instances, rule: rule, mesh: request.snapshot.mesh,
                    proxyType: request.proxy.type)
            }
        }
        guard request.includesOwn else {
            return clusters.filter { request.wants($0.name) }.map { GeneratedResource(name: $0.name, message: $0) }
        }
        var inboundPorts = Set<UInt32>()
        // The proxy's services by the workload port they reach (inbound clusters' `istio.services`).
        var servicesByTarget: [UInt32: [MeshService]] = [:]
        for (service, instance) in scope.ownInstances {
            for port in service.ports {
                let target = instance.endpointPorts[port.port] ?? port.targetPort ?? port.port
                if !(servicesByTarget[target] ?? []).contains(where: { $0.hostname == service.hostname }) {
                    servicesByTarget[target, default: []].append(service)
                }
            }
        }
        for ingress in scope.ingressListeners where inboundPorts.insert(ingress.port).inserted {
            clusters.append(builder.inboundCluster(
                port: ingress.port, host: ingress.endpointHost, endpointPort: ingress.endpointPort,
                services: servicesByTarget[ingress.port] ?? []))
        }
        if scope.isTransparent {
            for (service, instance) in scope.ownInstances {
                for port in service.ports {
                    let target = instance.endpointPorts[port.port] ?? port.targetPort ?? port.port
                    if inboundPorts.insert(target).inserted {
                        clusters.append(builder.inboundPassthroughCluster(port: target, services: servicesByTarget[target] ?? []))
                    }
                }
            }
            clusters.append(builder.inboundPassthroughCluster(port: nil))
        }
        if request.proxy.type == .router {
            clusters += GatewayClusters.sniDNATClusters(scope: scope, builder: builder)
        }
        clusters += InboundFilterChainBuilder(snapshot: request.snapshot, proxy: request.proxy, options: request.options).jwksEndpoints
            .map { JWTAuthenticationBuilder.jwksCluster($0, connectTimeout: request.options.connectTimeout) }
        clusters.append(builder.blackHoleCluster())
        clusters.append(builder.passthroughCluster())
        if scope.needsForwardProxy { clusters.append(ForwardProxyBuilder(options: request.options).cluster()) }
        return clusters.filter { request.wants($0.name) }.map { GeneratedResource(name: $0.name, message: $0) }
    }
}
