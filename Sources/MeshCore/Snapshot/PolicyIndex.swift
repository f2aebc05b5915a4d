/// A policy kind that attaches to workloads by label selector or to objects by `targetRefs`.
public protocol WorkloadPolicy: ResourceSpec {
    /// The selector's labels; nil or empty means the whole namespace (or mesh, in the root namespace).
    var selectorLabels: [String: String]? { get }
    /// The objects the policy targets, if any.
    var targetReferences: [PolicyTargetReference] { get }
}

extension WorkloadPolicy {
    public var targetReferences: [PolicyTargetReference] { [] }
}

extension PeerAuthentication: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
}

extension RequestAuthentication: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
    public var targetReferences: [PolicyTargetReference] { (targetRef.map { [$0] } ?? []) + (targetRefs ?? []) }
}

extension AuthorizationPolicy: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
    public var targetReferences: [PolicyTargetReference] { (targetRef.map { [$0] } ?? []) + (targetRefs ?? []) }
}

extension Telemetry: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
    public var targetReferences: [PolicyTargetReference] { (targetRef.map { [$0] } ?? []) + (targetRefs ?? []) }
}

extension WasmPlugin: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
    public var targetReferences: [PolicyTargetReference] { (targetRef.map { [$0] } ?? []) + (targetRefs ?? []) }
}

extension EnvoyFilter: WorkloadPolicy {
    public var selectorLabels: [String: String]? { workloadSelector?.labels }
    public var targetReferences: [PolicyTargetReference] { targetRefs ?? [] }
}

extension ProxyConfig: WorkloadPolicy {
    public var selectorLabels: [String: String]? { selector?.matchLabels }
}

/// Policies of one kind, found for a workload the way Istio finds them.
public struct PolicyIndex<Policy: WorkloadPolicy>: Sendable {
    private let byNamespace: [String: [Resource<Policy>]]
    private let rootNamespace: String

    public init(_ policies: [Resource<Policy>], rootNamespace: String) {
        self.rootNamespace = rootNamespace
        byNamespace = Dictionary(grouping: policies.sorted { $0.key < $1.key }, by: \.meta.namespace)
    }

    /// Every policy of the kind.
    public var all: [Resource<Policy>] { byNamespace.keys.sorted().flatMap { byNamespace[$0]! } }

    /// Policies applying to `workload`: from its namespace and the root namespace, those with no
    /// selector (namespace- or mesh-wide) and those whose selector matches its labels.
    /// Policies that use `targetRefs` are not selected by labels.
    public func policies(for workload: WorkloadContext) -> [Resource<Policy>] {
        let namespaces = workload.namespace == rootNamespace ? [rootNamespace] : [workload.namespace, rootNamespace]
        return namespaces.flatMap { ns in
            (byNamespace[ns] ?? []).filter { policy in
                guard policy.spec.targetReferences.isEmpty else { return false }
                let labels = policy.spec.selectorLabels ?? [:]
                return labels.allSatisfy { workload.labels[$0.key] == $0.value }
            }
        }
    }

    /// Policies in `namespace` (or the root namespace) whose `targetRefs` name `kind`/`name`.
    public func policies(targeting kind: String, name: String, namespace: String) -> [Resource<Policy>] {
        let namespaces = namespace == rootNamespace ? [rootNamespace] : [namespace, rootNamespace]
        return namespaces.flatMap { ns in
            (byNamespace[ns] ?? []).filter { policy in
                policy.spec.targetReferences.contains { $0.kind == kind && $0.name == name }
            }
        }
    }
}
