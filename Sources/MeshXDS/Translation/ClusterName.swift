/// Istio's cluster names: `outbound|PORT|SUBSET|HOST`, `inbound|PORT||` and the special clusters.
public enum ClusterName {
    /// Drops traffic (REGISTRY_ONLY catch-all).
    public static let blackHole = "BlackHoleCluster"
    /// Forwards outbound traffic to its original destination (ALLOW_ANY catch-all).
    public static let passthrough = "PassthroughCluster"
    /// Forwards inbound traffic for ports no service declares to the application.
    public static let inboundPassthrough = "InboundPassthroughCluster"

    /// `outbound|PORT|SUBSET|HOST`.
    /// - Parameters:
    ///   - port: the service port.
    ///   - subset: the DestinationRule subset, or nil.
    ///   - host: the service host name.
    public static func outbound(port: UInt32, subset: String? = nil, host: String) -> String {
        "outbound|\(port)|\(subset ?? "")|\(host)"
    }

    /// `inbound|PORT||`, the cluster for a workload's own port.
    public static func inbound(port: UInt32) -> String { "inbound|\(port)||" }

    /// The parts of a `direction|port|subset|host` name, or nil for any other name.
    public static func parse(_ name: String) -> (direction: String, port: UInt32, subset: String?, host: String)? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "outbound" || parts[0] == "inbound", let port = UInt32(parts[1]) else { return nil }
        return (String(parts[0]), port, parts[2].isEmpty ? nil : String(parts[2]), String(parts[3]))
    }
}
