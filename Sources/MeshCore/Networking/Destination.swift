/// Istio's `Destination`: a service (by registry host name), optionally a subset and a port.
///
/// Shared by VirtualService routes and mirrors, Sidecar and other networking kinds.
public struct Destination: Sendable, Hashable, Codable {
    /// The service's host name from the service registry (short names resolve in the config's namespace).
    public var host: String?
    /// A subset defined in a DestinationRule for `host`.
    public var subset: String?
    /// The port on `host`; required only when the service exposes several ports.
    public var port: PortSelector?

    public init(host: String? = nil, subset: String? = nil, port: PortSelector? = nil) {
        self.host = host
        self.subset = subset
        self.port = port
    }
}
