/// The workload a question is asked for: its namespace and labels.
///
/// Indices use it to apply `exportTo`, Sidecar scoping and workload selectors.
public struct WorkloadContext: Sendable, Hashable {
    public var namespace: String
    public var labels: [String: String]
    public var serviceAccount: String

    public init(namespace: String, labels: [String: String] = [:], serviceAccount: String = "default") {
        self.namespace = namespace
        self.labels = labels
        self.serviceAccount = serviceAccount
    }
}
