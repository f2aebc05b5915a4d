/// Gateways by `namespace/name` and by the workloads they select.
public struct GatewayIndex: Sendable {
    public let all: [Resource<Gateway>]
    private let byName: [String: Resource<Gateway>]

    public init(_ gateways: [Resource<Gateway>]) {
        all = gateways.sorted { $0.key < $1.key }
        byName = Dictionary(all.map { ("\($0.meta.namespace)/\($0.meta.name)", $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The gateway `namespace/name`.
    public func gateway(_ qualifiedName: String) -> Resource<Gateway>? { byName[qualifiedName] }

    /// Gateways whose selector matches a workload with `labels` (a gateway with no selector selects nothing).
    public func gateways(selecting labels: [String: String]) -> [Resource<Gateway>] {
        all.filter { gw in
            guard let selector = gw.spec.selector, !selector.isEmpty else { return false }
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    /// Normalizes a gateway reference from a VirtualService in `namespace`: `name`, `ns/name` or
    /// `name.ns.svc.<domain>` become `ns/name`; `mesh` stays `mesh`.
    public static func qualify(_ reference: String, namespace: String) -> String {
        if reference == "mesh" { return reference }
        if reference.contains("/") { return reference }
        let parts = reference.split(separator: ".")
        if parts.count >= 2 { return "\(parts[1])/\(parts[0])" }
        return "\(namespace)/\(reference)"
    }
}
