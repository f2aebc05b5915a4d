/// Istio's `gateway.ConflictingGatewayAnalyzer`: Gateways for the same workloads that serve the
/// same host on the same port and bind address (IST0145).
///
/// Two Gateways are for the same workloads when their selectors print the same, or when one
/// selector's text contains the other's and some known workload matches both. Hosts are compared
/// as written, as Istio does.
public struct ConflictingGatewayAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "gateway.ConflictingGatewayAnalyzer" }

    public var reports: [AnalysisMessageType] { [.conflictingGateways] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        typealias Support = PolicyAnalysisSupport
        let workloads = Support.namedWorkloads(context)
        let gateways = context.resources(Gateway.self).sorted(by: { $0.key < $1.key })
        var messages: [AnalysisMessage] = []

        func sameWorkloads(_ a: [String: String], _ b: [String: String]) -> Bool {
            let ta = Support.selectorText(a), tb = Support.selectorText(b)
            if ta == tb { return true }
            guard ta.contains(tb) || tb.contains(ta) else { return false }
            return workloads.contains { Support.matches(a, $0.labels) && Support.matches(b, $0.labels) }
        }

        for gateway in gateways {
            let selector = gateway.spec.selector ?? [:]
            let peers = gateways.filter { $0.key != gateway.key && sameWorkloads(selector, $0.spec.selector ?? [:]) }
            for (i, server) in (gateway.spec.servers ?? []).enumerated() {
                let port = server.port?.number ?? 0
                let hosts = server.hosts ?? []
                let bind = server.bind ?? ""
                let conflicting = peers.filter { peer in
                    (peer.spec.servers ?? []).contains { other in
                        (other.port?.number ?? 0) == port && (other.bind ?? "") == bind
                            && (other.hosts ?? []).contains(where: hosts.contains)
                    }
                }
                guard !conflicting.isEmpty else { continue }
                let names = conflicting.map { "\($0.meta.namespace)/\($0.meta.name)" }.sorted().joined(separator: ",")
                messages.append(AnalysisMessage(
                    .conflictingGateways, resource: gateway.key, location: gateway.source,
                    path: FieldPath("spec.servers")[i],
                    message: "Conflict with gateways \(names) (workload selector \(Support.selectorText(selector)), port \(port), hosts \(hosts.joined(separator: ",")))."))
            }
        }
        return messages
    }
}
