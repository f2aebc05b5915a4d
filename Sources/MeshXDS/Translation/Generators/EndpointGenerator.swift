/// EDS: a `ClusterLoadAssignment` for every EDS cluster (services with known endpoints), subset
/// clusters holding only the instances with the subset's labels.
public struct EndpointGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { EnvoyTypeURL.clusterLoadAssignment }

    /// Every load assignment is outbound, so shared.
    public var splitsSharedPart: Bool { true }

    public func generate(_ request: GenerationRequest) -> [GeneratedResource] {
        guard request.includesShared else { return [] }
        let scope = ProxyScope(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        let builder = EndpointBuilder()
        var out: [GeneratedResource] = []
        for service in scope.services where ClusterBuilder.usesEDS(service, proxy: request.proxy) {
            let instances = request.snapshot.services.instances(of: service)
            let rule = scope.destinationRule(for: service)
            for port in service.ports {
                guard port.protocol != .udp else { continue }
                var targets: [(String, String?, [String: String]?)] = [(ClusterName.outbound(port: port.port, host: service.hostname), nil, nil)]
                for subset in rule?.subsets ?? [] {
                    guard let name = subset.name else { continue }
                    targets.append((ClusterName.outbound(port: port.port, subset: name, host: service.hostname), name, subset.labels ?? [:]))
                }
                for (name, subset, labels) in targets where request.wants(name) {
                    let policy = ClusterBuilder.effectivePolicy(rule, subset: subset, port: port.port)
                    // A PASSTHROUGH load balancer makes the cluster ORIGINAL_DST: no endpoints to send.
                    if policy?.loadBalancer?.simple == .PASSTHROUGH { continue }
                    let locality = ClusterBuilder.localityLoadBalancing(policy: policy, proxy: request.proxy, options: request.options)
                    out.append(GeneratedResource(name: name, message: builder.loadAssignment(
                        clusterName: name, port: port, instances: instances, subsetLabels: labels, locality: locality)))
                }
            }
        }
        return out
    }
}
