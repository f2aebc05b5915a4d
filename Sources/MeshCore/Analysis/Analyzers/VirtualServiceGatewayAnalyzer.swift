/// Istio's `virtualservice.GatewayAnalyzer`: each gateway in a VirtualService's `gateways` must
/// exist (IST0101), and one of its servers must accept one of the VirtualService's hosts (IST0132).
///
/// A gateway server host `ns/host` counts only for VirtualServices in `ns` (`.` is the gateway's
/// own namespace, `*` any). As in Istio, a missing gateway draws both messages.
public struct VirtualServiceGatewayAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.GatewayAnalyzer" }

    public var reports: [AnalysisMessageType] { [.referencedResourceNotFound, .virtualServiceHostNotFoundInGateway] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for vs in context.snapshot.virtualServices.all {
            let hosts = vs.spec.hosts ?? []
            for (i, reference) in (vs.spec.gateways ?? []).enumerated() where reference != "mesh" {
                let path = (FieldPath("spec") / "gateways")[i]
                let qualified = GatewayIndex.qualify(reference, namespace: vs.meta.namespace)
                let gateway = context.snapshot.gateways.gateway(qualified)
                if gateway == nil {
                    messages.append(AnalysisMessage(
                        .referencedResourceNotFound, resource: vs.key, location: vs.source, path: path,
                        message: "Referenced gateway not found: \(RoutingMessageFormat.quoted(reference))"))
                }
                let serverHosts = gateway.map { Self.serverHosts(of: $0, forNamespace: vs.meta.namespace) } ?? []
                let accepted = serverHosts.contains { gatewayHost in hosts.contains { HostName.overlaps(gatewayHost, $0) } }
                if !accepted {
                    messages.append(AnalysisMessage(
                        .virtualServiceHostNotFoundInGateway, resource: vs.key, location: vs.source, path: path,
                        message: "one or more host \(RoutingMessageFormat.list(hosts)) defined in VirtualService \(vs.meta.namespace)/\(vs.meta.name) not found in Gateway \(qualified)."))
                }
            }
        }
        return messages
    }

    /// The server hosts of `gateway` that VirtualServices in `namespace` may bind to, without their
    /// namespace part.
    static func serverHosts(of gateway: Resource<Gateway>, forNamespace namespace: String) -> [String] {
        var hosts: [String] = []
        for server in gateway.spec.servers ?? [] {
            for entry in server.hosts ?? [] {
                guard entry.contains("/") else {
                    hosts.append(entry)
                    continue
                }
                var (scope, host) = HostName.splitNamespace(entry)
                if scope == "." { scope = gateway.meta.namespace }
                if scope == "*" || scope == namespace { hosts.append(host) }
            }
        }
        return hosts
    }
}
