/// Istio's `ConnectionPoolSettings`: circuit-breaker limits for TCP and HTTP connections to an upstream.
///
/// Used by DestinationRule traffic policies and Sidecar inbound connection pools.
public struct ConnectionPoolSettings: Sendable, Hashable, Codable {
    /// Limits common to HTTP and TCP connections.
    public var tcp: TCPSettings?
    /// HTTP/1.1 and HTTP/2 limits.
    public var http: HTTPSettings?

    public init(tcp: TCPSettings? = nil, http: HTTPSettings? = nil) {
        self.tcp = tcp
        self.http = http
    }

    /// TCP connection limits, timeouts and keepalive.
    public struct TCPSettings: Sendable, Hashable, Codable {
        /// Socket keepalive probing.
        public struct TcpKeepalive: Sendable, Hashable, Codable {
            public var probes: UInt32?
            public var time: ConfigDuration?
            public var interval: ConfigDuration?

            public init(probes: UInt32? = nil, time: ConfigDuration? = nil, interval: ConfigDuration? = nil) {
                self.probes = probes
                self.time = time
                self.interval = interval
            }
        }

        /// Maximum connections to a destination host.
        public var maxConnections: Int32?
        /// TCP connect timeout.
        public var connectTimeout: ConfigDuration?
        public var tcpKeepalive: TcpKeepalive?
        /// Maximum lifetime of a connection.
        public var maxConnectionDuration: ConfigDuration?
        /// Idle timeout for the connection (`0s` disables it).
        public var idleTimeout: ConfigDuration?

        public init(
            maxConnections: Int32? = nil, connectTimeout: ConfigDuration? = nil, tcpKeepalive: TcpKeepalive? = nil,
            maxConnectionDuration: ConfigDuration? = nil, idleTimeout: ConfigDuration? = nil
        ) {
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
            self.tcpKeepalive = tcpKeepalive
            self.maxConnectionDuration = maxConnectionDuration
            self.idleTimeout = idleTimeout
        }
    }

    /// HTTP request limits and protocol choices.
    public struct HTTPSettings: Sendable, Hashable, Codable {
        /// Whether HTTP/1.1 connections are upgraded to HTTP/2.
        public enum H2UpgradePolicy: String, ConfigEnum {
            case DEFAULT
            case DO_NOT_UPGRADE
            case UPGRADE
        }

        /// HTTP/2 PING keepalive.
        public struct ConnectionKeepalive: Sendable, Hashable, Codable {
            public var interval: ConfigDuration?
            public var timeout: ConfigDuration?

            public init(interval: ConfigDuration? = nil, timeout: ConfigDuration? = nil) {
                self.interval = interval
                self.timeout = timeout
            }
        }

        public var http1MaxPendingRequests: Int32?
        public var http2MaxRequests: Int32?
        public var maxRequestsPerConnection: Int32?
        public var maxRetries: Int32?
        /// Idle timeout for upstream connection pool connections.
        public var idleTimeout: ConfigDuration?
        public var h2UpgradePolicy: H2UpgradePolicy?
        /// Use the client's protocol (HTTP/1.1 or HTTP/2) upstream.
        public var useClientProtocol: Bool?
        public var maxConcurrentStreams: Int32?
        public var http2KeepAlive: ConnectionKeepalive?

        public init(
            http1MaxPendingRequests: Int32? = nil, http2MaxRequests: Int32? = nil, maxRequestsPerConnection: Int32? = nil,
            maxRetries: Int32? = nil, idleTimeout: ConfigDuration? = nil, h2UpgradePolicy: H2UpgradePolicy? = nil,
            useClientProtocol: Bool? = nil, maxConcurrentStreams: Int32? = nil, http2KeepAlive: ConnectionKeepalive? = nil
        ) {
            self.http1MaxPendingRequests = http1MaxPendingRequests
            self.http2MaxRequests = http2MaxRequests
            self.maxRequestsPerConnection = maxRequestsPerConnection
            self.maxRetries = maxRetries
            self.idleTimeout = idleTimeout
            self.h2UpgradePolicy = h2UpgradePolicy
            self.useClientProtocol = useClientProtocol
            self.maxConcurrentStreams = maxConcurrentStreams
            self.http2KeepAlive = http2KeepAlive
        }
    }
}
