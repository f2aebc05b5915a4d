/// Istio's `virtualservice.JWTClaimRouteAnalyzer`: a VirtualService that routes on a JWT claim
/// (`@request.auth.claims.…` header match) needs a RequestAuthentication for every workload its
/// gateways select; otherwise the claims are never available (IST0149).
///
/// Workloads are the Kubernetes workloads and WorkloadEntries that came with the config, so nothing
/// is reported when no gateway workload is known. RequestAuthentications count when they are in
/// the workload's namespace or the root namespace and their selector (if any) matches it.
public struct JWTClaimRouteAnalyzer: ConfigAnalyzer {
    /// Creates the analyzer; it has no settings.
    public init() {}

    public var name: String { "virtualservice.JWTClaimRouteAnalyzer" }

    public var reports: [AnalysisMessageType] { [.jwtClaimBasedRoutingWithoutRequestAuthN] }

    private struct NamedWorkload {
        var name: String
        var namespace: String
        var labels: [String: String]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var workloads = context.platform.workloads.map { NamedWorkload(name: $0.name, namespace: $0.namespace, labels: $0.labels) }
        workloads += context.resources(WorkloadEntry.self).map {
            NamedWorkload(name: $0.meta.name, namespace: $0.meta.namespace, labels: $0.spec.labels ?? [:])
        }
        guard !workloads.isEmpty else { return [] }
        let authentications = Dictionary(grouping: context.resources(RequestAuthentication.self), by: \.meta.namespace)

        var messages: [AnalysisMessage] = []
        for vs in context.snapshot.virtualServices.all {
            guard let key = Self.claimRoutingKey(vs.spec) else { continue }
            for (i, reference) in (vs.spec.gateways ?? []).enumerated() where reference != "mesh" {
                let qualified = GatewayIndex.qualify(reference, namespace: vs.meta.namespace)
                // A missing gateway is reported by the gateway analyzer.
                guard let gateway = context.snapshot.gateways.gateway(qualified) else { continue }
                let selector = gateway.spec.selector ?? [:]
                for workload in workloads where selector.allSatisfy({ workload.labels[$0.key] == $0.value }) {
                    let candidates = (authentications[context.rootNamespace] ?? [])
                        + (workload.namespace == context.rootNamespace ? [] : authentications[workload.namespace] ?? [])
                    let covered = candidates.contains { ra in
                        (ra.spec.selector?.matchLabels ?? [:]).allSatisfy { workload.labels[$0.key] == $0.value }
                    }
                    guard !covered else { continue }
                    messages.append(AnalysisMessage(
                        .jwtClaimBasedRoutingWithoutRequestAuthN, resource: vs.key, location: vs.source, path: (FieldPath("spec") / "gateways")[i],
                        message: "The virtual service uses the JWT claim based routing (key: \(key)) but found no request authentication for the gateway (\(qualified)) pod (\(workload.name)). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing."))
                }
            }
        }
        return messages
    }

    /// The first header (or withoutHeaders) key of an HTTP match that routes on a JWT claim.
    static func claimRoutingKey(_ vs: VirtualService) -> String? {
        for rule in vs.http ?? [] {
            for match in rule.match ?? [] {
                for map in [match.headers, match.withoutHeaders] {
                    if let key = (map ?? [:]).keys.sorted().first(where: Validators.isJWTClaimRoutingKey) { return key }
                }
            }
        }
        return nil
    }
}
