/// Istio's `WorkloadEntry` spec: a non-Kubernetes workload (VM, bare metal) with its address and labels.
///
/// The same message describes ServiceEntry `endpoints` and the WorkloadGroup `template`.
public struct WorkloadEntry: ResourceSpec {
    public static var kind: ResourceKind { .workloadEntry }

    /// IP address, DNS name, or `unix://` socket path of the workload.
    public var address: String?
    /// Port name to port number overrides for the service's ports.
    public var ports: [String: UInt32]?
    public var labels: [String: String]?
    /// The network the workload is on, for multi-network meshes.
    public var network: String?
    /// `region/zone/subzone` of the workload.
    public var locality: String?
    /// Load balancing weight relative to other endpoints.
    public var weight: UInt32?
    /// The workload's service account (same namespace).
    public var serviceAccount: String?

    public init(
        address: String? = nil, ports: [String: UInt32]? = nil, labels: [String: String]? = nil, network: String? = nil,
        locality: String? = nil, weight: UInt32? = nil, serviceAccount: String? = nil
    ) {
        self.address = address
        self.ports = ports
        self.labels = labels
        self.network = network
        self.locality = locality
        self.weight = weight
        self.serviceAccount = serviceAccount
    }
}
