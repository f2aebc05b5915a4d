/// How the proxy speaks HTTP to a cluster's hosts: the cluster's
/// `typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`.
public struct UpstreamHTTPProtocolOptions: Sendable, Equatable {
    /// Which HTTP version the upstream connections use.
    public enum Version: Sendable, Hashable {
        /// HTTP/1.1 (the default when nothing is configured).
        case http1
        /// HTTP/2 (`explicit_http_config.http2_protocol_options`).
        case http2
        /// The downstream request's version (`use_downstream_protocol_config`).
        case useDownstream
        /// Negotiated by ALPN on TLS, HTTP/1.1 otherwise (`auto_config`).
        case automatic
    }

    /// The HTTP version.
    public var version: Version
    /// `common_http_protocol_options.idle_timeout`: a connection with no streams closes after
    /// this long. Envoy's upstream default is 1 hour; a zero duration disables it (nil).
    public var idleTimeout: Duration?
    /// `common_http_protocol_options.max_requests_per_connection` (or the cluster's deprecated
    /// `max_requests_per_connection`); nil means unlimited.
    public var maxRequestsPerConnection: UInt32?
    /// `common_http_protocol_options.max_connection_duration`; nil means unlimited.
    public var maxConnectionDuration: Duration?
    /// `common_http_protocol_options.max_stream_duration`; nil means unlimited.
    public var maxStreamDuration: Duration?
    /// `common_http_protocol_options.max_headers_count`, default 100.
    public var maxHeadersCount: UInt32
    /// HTTP/2 `max_concurrent_streams`, default 2147483647.
    public var http2MaxConcurrentStreams: UInt32
    /// HTTP/2 `initial_stream_window_size`, default 268435456.
    public var http2InitialStreamWindowSize: UInt32
    /// HTTP/2 `initial_connection_window_size`, default 268435456.
    public var http2InitialConnectionWindowSize: UInt32
    /// HTTP/2 `connection_keepalive`: PING interval and timeout; nil when unset.
    public var http2Keepalive: HTTP2Keepalive?
    /// `upstream_http_protocol_options.auto_sni`: SNI from the request's host header.
    public var autoSNI: Bool
    /// `upstream_http_protocol_options.auto_san_validation`: verify the SAN against that host.
    public var autoSANValidation: Bool

    /// HTTP/2 `connection_keepalive`.
    public struct HTTP2Keepalive: Sendable, Equatable {
        /// `interval`: how often to send a PING; nil sends none.
        public var interval: Duration?
        /// `timeout`: how long to wait for the PING's acknowledgement before closing.
        public var timeout: Duration

        /// - Parameters:
        ///   - interval: PING period.
        ///   - timeout: Acknowledgement deadline.
        public init(interval: Duration?, timeout: Duration) {
            self.interval = interval
            self.timeout = timeout
        }
    }

    /// Envoy's upstream default idle timeout, 1 hour.
    public static let defaultIdleTimeout: Duration = .seconds(3600)

    /// HTTP/1.1 with Envoy's defaults.
    public init() {
        version = .http1
        idleTimeout = Self.defaultIdleTimeout
        maxRequestsPerConnection = nil
        maxConnectionDuration = nil
        maxStreamDuration = nil
        maxHeadersCount = 100
        http2MaxConcurrentStreams = 2_147_483_647
        http2InitialStreamWindowSize = 268_435_456
        http2InitialConnectionWindowSize = 268_435_456
        http2Keepalive = nil
        autoSNI = false
        autoSANValidation = false
    }
}
