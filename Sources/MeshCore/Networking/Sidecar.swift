/// Istio's `Sidecar` spec: which inbound ports a workload's proxy accepts and which services it can reach.
public struct Sidecar: ResourceSpec {
    public static var kind: ResourceKind { .sidecar }

    /// Workloads this applies to; the whole namespace when unset.
    public var workloadSelector: WorkloadSelector?
    /// Inbound listeners.
    public var ingress: [IstioIngressListener]?
    /// Outbound listeners and the hosts each exposes to the workload.
    public var egress: [IstioEgressListener]?
    /// Connection pool for all inbound connections (overridden per ingress listener).
    public var inboundConnectionPool: ConnectionPoolSettings?
    /// What to do with traffic to destinations not in the egress hosts.
    public var outboundTrafficPolicy: OutboundTrafficPolicy?

    public init(
        workloadSelector: WorkloadSelector? = nil, ingress: [IstioIngressListener]? = nil,
        egress: [IstioEgressListener]? = nil, inboundConnectionPool: ConnectionPoolSettings? = nil,
        outboundTrafficPolicy: OutboundTrafficPolicy? = nil
    ) {
        self.workloadSelector = workloadSelector
        self.ingress = ingress
        self.egress = egress
        self.inboundConnectionPool = inboundConnectionPool
        self.outboundTrafficPolicy = outboundTrafficPolicy
    }

    /// Istio's networking `WorkloadSelector` (`labels`, not `matchLabels`), used by Sidecar and EnvoyFilter.
    public struct WorkloadSelector: Sendable, Hashable, Codable {
        public var labels: [String: String]?

        public init(labels: [String: String]? = nil) { self.labels = labels }

        /// True when `workloadLabels` include every selector label (an empty selector matches all).
        public func matches(_ workloadLabels: [String: String]) -> Bool {
            (labels ?? [:]).allSatisfy { workloadLabels[$0.key] == $0.value }
        }
    }

    /// An inbound listener on the workload's proxy.
    public struct IstioIngressListener: Sendable, Hashable, Codable {
        /// The port traffic arrives on (required).
        public var port: SidecarPort?
        /// IP address to bind to.
        public var bind: String?
        /// How traffic to the listener is captured.
        public var captureMode: CaptureMode?
        /// Where to forward: `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT` or `unix://path`.
        public var defaultEndpoint: String?
        /// TLS termination for traffic from outside the mesh.
        public var tls: ServerTLSSettings?
        /// Connection pool for this port, overriding `inboundConnectionPool`.
        public var connectionPool: ConnectionPoolSettings?

        public init(
            port: SidecarPort? = nil, bind: String? = nil, captureMode: CaptureMode? = nil, defaultEndpoint: String? = nil,
            tls: ServerTLSSettings? = nil, connectionPool: ConnectionPoolSettings? = nil
        ) {
            self.port = port
            self.bind = bind
            self.captureMode = captureMode
            self.defaultEndpoint = defaultEndpoint
            self.tls = tls
            self.connectionPool = connectionPool
        }
    }

    /// An outbound listener; without a port it is the catch-all listener.
    public struct IstioEgressListener: Sendable, Hashable, Codable {
        public var port: SidecarPort?
        /// IP address or `unix://` socket to bind to.
        public var bind: String?
        public var captureMode: CaptureMode?
        /// Services exposed, as `namespace/dnsName` (required).
        public var hosts: [String]?

        public init(port: SidecarPort? = nil, bind: String? = nil, captureMode: CaptureMode? = nil, hosts: [String]? = nil) {
            self.port = port
            self.bind = bind
            self.captureMode = captureMode
            self.hosts = hosts
        }
    }

    /// Istio's `OutboundTrafficPolicy` for a Sidecar.
    public struct OutboundTrafficPolicy: Sendable, Hashable, Codable {
        /// `REGISTRY_ONLY` (unset) or `ALLOW_ANY`.
        public var mode: Mode?
        /// Where to send traffic to unknown destinations in `ALLOW_ANY` mode.
        public var egressProxy: Destination?

        public init(mode: Mode? = nil, egressProxy: Destination? = nil) {
            self.mode = mode
            self.egressProxy = egressProxy
        }

        /// Istio's `OutboundTrafficPolicy.Mode`.
        public enum Mode: String, ConfigEnum {
            case REGISTRY_ONLY, ALLOW_ANY
        }
    }

    /// Istio's `CaptureMode`.
    public enum CaptureMode: String, ConfigEnum {
        case DEFAULT, IPTABLES, NONE
    }

    /// Istio's `SidecarPort`: like a gateway port, but the number may be 0 for Unix sockets.
    public struct SidecarPort: Sendable, Hashable, Codable {
        public var number: UInt32?
        public var `protocol`: String?
        public var name: String?
        /// Deprecated; has no effect on sidecars.
        public var targetPort: UInt32?

        public init(number: UInt32? = nil, protocol: String? = nil, name: String? = nil, targetPort: UInt32? = nil) {
            self.number = number
            self.protocol = `protocol`
            self.name = name
            self.targetPort = targetPort
        }
    }
}
