import MeshCore

/// Istio's connection pool mapping: circuit breaker thresholds, connect timeout, TCP keepalive and
/// the upstream HTTP protocol options of a cluster.
///
/// Every outbound cluster gets thresholds, even without a DestinationRule: Envoy's own defaults
/// (1024 connections, 3 retries) are far too low for a mesh, so Istio lifts them all to `UInt32.max`
/// and lets `connectionPool` lower them. As in Istio, a zero count means "unset".
enum ConnectionPoolConverter {
    typealias Thresholds = Envoy_Config_Cluster_V3_CircuitBreakers.Thresholds
    typealias HTTPOptions = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions

    /// The `typed_extension_protocol_options` key of the upstream HTTP options.
    static let httpOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

    /// Istio's default thresholds: every limit at `UInt32.max`, remaining capacity tracked.
    static func defaultThresholds() -> Thresholds {
        .with {
            $0.maxConnections = .init(UInt32.max)
            $0.maxPendingRequests = .init(UInt32.max)
            $0.maxRequests = .init(UInt32.max)
            $0.maxRetries = .init(UInt32.max)
            $0.trackRemaining = true
        }
    }

    /// Applies `settings` to `cluster` and to the cluster's upstream HTTP options.
    /// - Parameters:
    ///   - settings: the effective `connectionPool` (nil: Istio's defaults).
    ///   - retryBudget: the effective `retryBudget`, if any.
    ///   - meshKeepalive: MeshConfig `tcpKeepalive`, overridden field by field by the pool's.
    ///   - cluster: the cluster; its `connect_timeout` must already hold the mesh default.
    ///   - http: the cluster's upstream HTTP options, created when a field needs them.
    static func apply(
        _ settings: ConnectionPoolSettings?, retryBudget: DestinationRule.TrafficPolicy.RetryBudget?,
        meshKeepalive: MeshConfig.TCPKeepalive?, to cluster: inout Envoy_Config_Cluster_V3_Cluster, http: inout HTTPOptions?
    ) {
        var threshold = defaultThresholds()
        if let budget = retryBudget {
            threshold.retryBudget = .with {
                $0.budgetPercent = .with { $0.value = budget.percent ?? 20 }
                $0.minRetryConcurrency = .init(budget.minRetryConcurrency.flatMap { $0 > 0 ? $0 : nil } ?? 3)
            }
        }
        var idleTimeout: ConfigDuration?
        var maxRequestsPerConnection: UInt32 = 0
        var maxConcurrentStreams: UInt32 = 0
        var maxConnectionDuration: ConfigDuration?
        let keepalive = settings?.http?.http2KeepAlive
        if let h = settings?.http {
            if let v = h.http2MaxRequests, v > 0 { threshold.maxRequests = .init(UInt32(v)) }
            if let v = h.http1MaxPendingRequests, v > 0 { threshold.maxPendingRequests = .init(UInt32(v)) }
            if let v = h.maxRetries, v > 0 { threshold.maxRetries = .init(UInt32(v)) }
            idleTimeout = h.idleTimeout
            maxRequestsPerConnection = UInt32(max(h.maxRequestsPerConnection ?? 0, 0))
            maxConcurrentStreams = UInt32(max(h.maxConcurrentStreams ?? 0, 0))
        }
        if let tcp = settings?.tcp {
            if let timeout = tcp.connectTimeout { cluster.connectTimeout = Proto.duration(timeout) }
            if let v = tcp.maxConnections, v > 0 { threshold.maxConnections = .init(UInt32(v)) }
            maxConnectionDuration = tcp.maxConnectionDuration
            if idleTimeout == nil { idleTimeout = tcp.idleTimeout }
        }
        applyKeepalive(probes: meshKeepalive?.probes, time: meshKeepalive?.time, interval: meshKeepalive?.interval, to: &cluster)
        if let k = settings?.tcp?.tcpKeepalive {
            applyKeepalive(probes: k.probes, time: k.time, interval: k.interval, to: &cluster)
        }
        cluster.circuitBreakers = .with { $0.thresholds = [threshold] }

        if maxConnectionDuration != nil || idleTimeout != nil || maxRequestsPerConnection > 0 || maxConcurrentStreams > 0 || keepalive != nil {
            var options = http ?? HTTPOptions()
            if let idleTimeout { options.commonHTTPProtocolOptions.idleTimeout = Proto.duration(idleTimeout) }
            if maxRequestsPerConnection > 0 {
                options.commonHTTPProtocolOptions.maxRequestsPerConnection = .init(maxRequestsPerConnection)
            }
            if let maxConnectionDuration {
                options.commonHTTPProtocolOptions.maxConnectionDuration = Proto.duration(maxConnectionDuration)
            }
            // Stream limits and PINGs only exist on clusters already speaking HTTP/2.
            if case .explicitHTTPConfig(var explicit)? = options.upstreamProtocolOptions,
               case .http2ProtocolOptions(var h2)? = explicit.protocolConfig {
                if maxConcurrentStreams > 0 { h2.maxConcurrentStreams = .init(maxConcurrentStreams) }
                if let keepalive {
                    h2.connectionKeepalive = .with {
                        if let i = keepalive.interval { $0.interval = Proto.duration(i) }
                        if let t = keepalive.timeout { $0.timeout = Proto.duration(t) }
                    }
                }
                explicit.http2ProtocolOptions = h2
                options.explicitHTTPConfig = explicit
            }
            http = options
        }
        if settings?.http?.useClientProtocol == true { useDownstreamProtocol(&http) }
    }

    /// Istio's `setKeepAliveSettings`: an empty `tcp_keepalive` turns SO_KEEPALIVE on with the OS
    /// defaults; each field set overrides one of them (whole seconds).
    private static func applyKeepalive(probes: UInt32?, time: ConfigDuration?, interval: ConfigDuration?, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        guard probes != nil || time != nil || interval != nil else { return }
        if !cluster.upstreamConnectionOptions.hasTcpKeepalive {
            cluster.upstreamConnectionOptions.tcpKeepalive = Envoy_Config_Core_V3_TcpKeepalive()
        }
        if let probes, probes > 0 { cluster.upstreamConnectionOptions.tcpKeepalive.keepaliveProbes = .init(probes) }
        if let time { cluster.upstreamConnectionOptions.tcpKeepalive.keepaliveTime = .init(UInt32(clamping: time.nanoseconds / 1_000_000_000)) }
        if let interval {
            cluster.upstreamConnectionOptions.tcpKeepalive.keepaliveInterval = .init(UInt32(clamping: interval.nanoseconds / 1_000_000_000))
        }
    }

    /// Explicit HTTP/2 upstream (gRPC, HTTP2 ports and `h2UpgradePolicy: UPGRADE`), unless a
    /// protocol choice was already made.
    static func setHTTP2(_ http: inout HTTPOptions?) {
        var options = http ?? HTTPOptions()
        if options.upstreamProtocolOptions == nil {
            options.explicitHTTPConfig = .with { $0.http2ProtocolOptions = Envoy_Config_Core_V3_Http2ProtocolOptions() }
        }
        http = options
    }

    /// Speak upstream whatever the downstream spoke (`useClientProtocol`, and unnamed ports on sidecars).
    static func useDownstreamProtocol(_ http: inout HTTPOptions?) {
        var options = http ?? HTTPOptions()
        var http1 = Envoy_Config_Core_V3_Http1ProtocolOptions()
        if case .explicitHTTPConfig(let explicit)? = options.upstreamProtocolOptions,
           case .httpProtocolOptions(let existing)? = explicit.protocolConfig {
            http1 = existing
        }
        options.useDownstreamProtocolConfig = .with {
            $0.httpProtocolOptions = http1
            $0.http2ProtocolOptions = Envoy_Config_Core_V3_Http2ProtocolOptions()
        }
        http = options
    }

    /// Istio's `shouldH2Upgrade`: the DestinationRule's `h2UpgradePolicy` wins (and `useClientProtocol`
    /// forbids upgrading); otherwise HTTP ports follow MeshConfig `h2UpgradePolicy`.
    static func shouldUpgradeToHTTP2(
        _ settings: ConnectionPoolSettings?, port: ServicePortInfo, mesh: MeshConfig.H2UpgradePolicy?
    ) -> Bool {
        if let h = settings?.http {
            if h.useClientProtocol == true { return false }
            switch h.h2UpgradePolicy {
            case .UPGRADE?: return true
            case .DO_NOT_UPGRADE?: return false
            case .DEFAULT?, nil: break
            }
        }
        guard port.protocol.isHTTP else { return false }
        return mesh == .UPGRADE
    }

    /// Packs the options into the cluster; an options message without a protocol choice means HTTP/1.1.
    static func attach(_ http: HTTPOptions?, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        guard var options = http else { return }
        if options.upstreamProtocolOptions == nil {
            options.explicitHTTPConfig = .with { $0.httpProtocolOptions = Envoy_Config_Core_V3_Http1ProtocolOptions() }
        }
        cluster.typedExtensionProtocolOptions[httpOptionsKey] = Proto.any(options)
    }
}
