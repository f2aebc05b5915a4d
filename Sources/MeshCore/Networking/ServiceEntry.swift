/// Istio's `ServiceEntry` spec: adds a service (often external) to Istio's service registry.
public struct ServiceEntry: ResourceSpec {
    public static var kind: ResourceKind { .serviceEntry }

    /// Whether the service is outside the mesh or part of it.
    public enum Location: String, ConfigEnum {
        case MESH_EXTERNAL
        case MESH_INTERNAL
    }

    /// How the proxy finds the service's endpoints.
    public enum Resolution: String, ConfigEnum {
        /// Forward to the connection's original destination IP.
        case NONE
        /// Use the addresses in `endpoints` (or selected workloads).
        case STATIC
        /// Resolve hosts (or endpoint addresses) with DNS; all returned IPs are used.
        case DNS
        /// Resolve with DNS and use the first IP returned.
        case DNS_ROUND_ROBIN
        /// Resolve wildcard hosts per request (dynamic forward proxy).
        case DYNAMIC_DNS
    }

    /// Istio's networking `WorkloadSelector` (label map named `labels`, unlike the `matchLabels` form).
    public struct WorkloadSelector: Sendable, Hashable, Codable {
        public var labels: [String: String]?
        public init(labels: [String: String]? = nil) { self.labels = labels }
    }

    /// Istio's `ServicePort`.
    public struct ServicePort: Sendable, Hashable, Codable {
        public var number: UInt32?
        /// HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS, ... (case-insensitive); empty means sniffed.
        public var `protocol`: String?
        public var name: String?
        /// Port on the endpoints, when it differs from `number`.
        public var targetPort: UInt32?

        public init(number: UInt32? = nil, protocol: String? = nil, name: String? = nil, targetPort: UInt32? = nil) {
            self.number = number
            self.protocol = `protocol`
            self.name = name
            self.targetPort = targetPort
        }
    }

    /// Host names of the service (wildcard prefixes allowed, except with DNS resolution and no endpoints).
    public var hosts: [String]?
    /// Virtual IPs or CIDR blocks of the service.
    public var addresses: [String]?
    public var ports: [ServicePort]?
    public var location: Location?
    public var resolution: Resolution?
    /// Static endpoints; exclusive with `workloadSelector`.
    public var endpoints: [WorkloadEntry]?
    /// Selects pods and WorkloadEntries in the namespace as endpoints.
    public var workloadSelector: WorkloadSelector?
    /// Namespaces the service is visible to: `.`, `*`, `~` (none) or namespace names.
    public var exportTo: [String]?
    /// Identities allowed to run the service, checked on mTLS connections.
    public var subjectAltNames: [String]?

    public init(
        hosts: [String]? = nil, addresses: [String]? = nil, ports: [ServicePort]? = nil, location: Location? = nil,
        resolution: Resolution? = nil, endpoints: [WorkloadEntry]? = nil, workloadSelector: WorkloadSelector? = nil,
        exportTo: [String]? = nil, subjectAltNames: [String]? = nil
    ) {
        self.hosts = hosts
        self.addresses = addresses
        self.ports = ports
        self.location = location
        self.resolution = resolution
        self.endpoints = endpoints
        self.workloadSelector = workloadSelector
        self.exportTo = exportTo
        self.subjectAltNames = subjectAltNames
    }
}
