/// Istio's `virtualservice.DestinationHostAnalyzer`: every route and mirror destination of a
/// VirtualService must name a known service, and a port when that service has several.
///
/// Reports IST0101 (`host`, `mirror host`, `host:port`), IST0112 and IST0140: a route without a
/// subset in a gateway-bound VirtualService, to a host that some VirtualService routes to by subset.
public struct VirtualServiceDestinationHostAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.DestinationHostAnalyzer" }

    public var reports: [AnalysisMessageType] {
        [.referencedResourceNotFound, .virtualServiceDestinationPortSelectorRequired, .ingressRouteRulesNotAffected]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        let lookup = ServiceHostLookup(services: context.snapshot.services.all, domainSuffix: context.snapshot.domainSuffix)
        let virtualServices = context.snapshot.virtualServices.all
        let subsetDestinations = Self.subsetDestinationsToOwnHosts(virtualServices)
        var messages: [AnalysisMessage] = []
        for vs in virtualServices {
            messages += checkHosts(vs, lookup: lookup)
            messages += checkIngressSubsets(vs, subsetDestinations: subsetDestinations)
        }
        return messages
    }

    private func checkHosts(_ vs: Resource<VirtualService>, lookup: ServiceHostLookup) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for reference in vs.spec.routeDestinations + vs.spec.mirrorDestinations {
            guard let service = lookup.service(for: reference.host, namespace: vs.meta.namespace, exportTo: vs.spec.exportTo) else {
                let what = reference.kind == .route ? "host" : "mirror host"
                messages.append(AnalysisMessage(
                    .referencedResourceNotFound, resource: vs.key, location: vs.source, path: reference.path / "host",
                    message: "Referenced \(what) not found: \(RoutingMessageFormat.quoted(reference.host))"))
                continue
            }
            guard let port = reference.destination.port else {
                if service.ports.count > 1 {
                    let ports = RoutingMessageFormat.list(service.ports.map(\.port))
                    messages.append(AnalysisMessage(
                        .virtualServiceDestinationPortSelectorRequired, resource: vs.key, location: vs.source, path: reference.path,
                        message: "This VirtualService routes to a service \(RoutingMessageFormat.quoted(reference.host)) that exposes multiple ports \(ports). Specifying a port in the destination is required to disambiguate."))
                }
                continue
            }
            let number = port.number ?? 0
            if service.port(number) == nil {
                messages.append(AnalysisMessage(
                    .referencedResourceNotFound, resource: vs.key, location: vs.source, path: reference.path / "port",
                    message: "Referenced host:port not found: \(RoutingMessageFormat.quoted("\(reference.host):\(number)"))"))
            }
        }
        return messages
    }

    /// For each VirtualService, its HTTP route destinations that use a subset and whose host is
    /// written exactly as one of the VirtualService's own hosts.
    private static func subsetDestinationsToOwnHosts(_ virtualServices: [Resource<VirtualService>]) -> [(owner: ResourceKey, hosts: [String])] {
        virtualServices.compactMap { vs in
            var hosts: [String] = []
            for rule in vs.spec.http ?? [] {
                for route in rule.route ?? [] {
                    guard let destination = route.destination, !(destination.subset ?? "").isEmpty else { continue }
                    for host in vs.spec.hosts ?? [] where (destination.host ?? "") == host { hosts.append(host) }
                }
            }
            return hosts.isEmpty ? nil : (vs.key, hosts)
        }
    }

    /// IST0140: subset routing another VirtualService does for a host is bypassed by a gateway
    /// route to the same host without a subset.
    private func checkIngressSubsets(_ vs: Resource<VirtualService>, subsetDestinations: [(owner: ResourceKey, hosts: [String])]) -> [AnalysisMessage] {
        guard !(vs.spec.gateways ?? []).isEmpty else { return [] }
        var messages: [AnalysisMessage] = []
        for (i, rule) in (vs.spec.http ?? []).enumerated() {
            for (j, route) in (rule.route ?? []).enumerated() where (route.destination?.subset ?? "").isEmpty {
                let host = route.destination?.host ?? ""
                // One message per matching subset destination, as Istio reports them.
                for (owner, hosts) in subsetDestinations {
                    for subsetHost in hosts where subsetHost == host {
                        messages.append(AnalysisMessage(
                            .ingressRouteRulesNotAffected, resource: vs.key, location: vs.source,
                            path: ((FieldPath("spec") / "http")[i] / "route")[j] / "destination" / "host",
                            message: "Subset in virtual service \(owner.namespace)/\(owner.name) has no effect on ingress gateway \(vs.meta.namespace)/\(vs.meta.name) requests"))
                    }
                }
            }
        }
        return messages
    }
}
