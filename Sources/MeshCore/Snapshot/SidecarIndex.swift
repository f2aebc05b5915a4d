/// Sidecar resources and the service scope they give each workload.
public struct SidecarIndex: Sendable {
    private let byNamespace: [String: [Resource<Sidecar>]]
    private let rootNamespace: String

    public init(_ sidecars: [Resource<Sidecar>], rootNamespace: String) {
        self.rootNamespace = rootNamespace
        byNamespace = Dictionary(grouping: sidecars.sorted { $0.key < $1.key }, by: \.meta.namespace)
    }

    /// The Sidecar that configures `workload`: one in its namespace whose selector matches, else
    /// its namespace's default (no selector), else the root namespace's default.
    public func sidecar(for workload: WorkloadContext) -> Resource<Sidecar>? {
        let local = byNamespace[workload.namespace] ?? []
        if let selected = local.first(where: { sc in
            guard let labels = sc.spec.workloadSelector?.labels, !labels.isEmpty else { return false }
            return labels.allSatisfy { workload.labels[$0.key] == $0.value }
        }) {
            return selected
        }
        if let namespaceDefault = local.first(where: { ($0.spec.workloadSelector?.labels ?? [:]).isEmpty }) {
            return namespaceDefault
        }
        return (byNamespace[rootNamespace] ?? []).first { ($0.spec.workloadSelector?.labels ?? [:]).isEmpty }
    }

    /// True when an egress `namespace/host` entry of `sidecar` (in `owner`) admits `service`.
    public static func admits(_ sidecar: Sidecar, owner: String, service: MeshService) -> Bool {
        let listeners = sidecar.egress ?? []
        if listeners.isEmpty { return true }
        return listeners.contains { listener in
            (listener.hosts ?? []).contains { entry in
                let (ns, host) = HostName.splitNamespace(entry)
                let namespaceOK: Bool = switch ns {
                case "*": true
                case ".": service.namespace == owner
                case "~": false
                default: service.namespace == ns
                }
                return namespaceOK && HostName.matches(service.hostname, host)
            }
        }
    }
}
