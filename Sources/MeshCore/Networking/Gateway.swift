/// Istio's `Gateway` spec: a load balancer at the mesh edge and the ports, hosts and TLS it serves.
public struct Gateway: ResourceSpec {
    public static var kind: ResourceKind { .gateway }

    /// The listeners this gateway exposes.
    public var servers: [Server]?
    /// Labels of the gateway pods this configuration applies to.
    public var selector: [String: String]?

    public init(servers: [Server]? = nil, selector: [String: String]? = nil) {
        self.servers = servers
        self.selector = selector
    }

    /// One listener: a port, the hosts served on it and its TLS settings.
    public struct Server: Sendable, Hashable, Codable {
        /// The port the proxy listens on (required).
        public var port: Port?
        /// IP address or `unix://` socket to bind to; all addresses when unset.
        public var bind: String?
        /// Hosts exposed, as `[namespace/]dnsName` (required).
        public var hosts: [String]?
        /// TLS settings; required for HTTPS and TLS ports.
        public var tls: ServerTLSSettings?
        /// Loopback endpoint to forward traffic to (`127.0.0.1:PORT` or `unix://...`).
        public var defaultEndpoint: String?
        /// Optional name, used in stats and status.
        public var name: String?

        public init(
            port: Port? = nil, bind: String? = nil, hosts: [String]? = nil, tls: ServerTLSSettings? = nil,
            defaultEndpoint: String? = nil, name: String? = nil
        ) {
            self.port = port
            self.bind = bind
            self.hosts = hosts
            self.tls = tls
            self.defaultEndpoint = defaultEndpoint
            self.name = name
        }
    }

    /// A gateway port: number, protocol and a name unique within the gateway.
    public struct Port: Sendable, Hashable, Codable {
        public var number: UInt32?
        /// One of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, REDIS, MYSQL, TCP, TLS (case-insensitive).
        public var `protocol`: String?
        public var name: String?
        /// Deprecated; has no effect on gateways.
        public var targetPort: UInt32?

        public init(number: UInt32? = nil, protocol: String? = nil, name: String? = nil, targetPort: UInt32? = nil) {
            self.number = number
            self.protocol = `protocol`
            self.name = name
            self.targetPort = targetPort
        }
    }
}
