extension ConnectionPoolSettings {
    /// Istio's `validateConnectionPool`: at least one of `tcp`/`http`, non-negative limits, durations of at
    /// least 1ms with millisecond precision, and no `useClientProtocol` with the `UPGRADE` policy.
    ///
    /// - Parameter path: where these settings sit, e.g. `spec.trafficPolicy.connectionPool`.
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if http == nil && tcp == nil {
            result.error(path, "connection pool must have at least one field (tcp or http)")
            return result
        }

        if let http {
            let p = path / "http"
            func nonNegative(_ value: Int32?, _ field: String, _ what: String) {
                if let value, value < 0 { result.error(p / field, "\(what) must be non-negative") }
            }
            nonNegative(http.http1MaxPendingRequests, "http1MaxPendingRequests", "http1 max pending requests")
            nonNegative(http.http2MaxRequests, "http2MaxRequests", "http2 max requests")
            nonNegative(http.maxRequestsPerConnection, "maxRequestsPerConnection", "max requests per connection")
            nonNegative(http.maxRetries, "maxRetries", "max retries")
            result.merge(Validators.istioDuration(http.idleTimeout, at: p / "idleTimeout"))
            if http.h2UpgradePolicy == .UPGRADE, http.useClientProtocol == true {
                result.error(p / "useClientProtocol", "use client protocol must not be true when h2UpgradePolicy is UPGRADE")
            }
            nonNegative(http.maxConcurrentStreams, "maxConcurrentStreams", "max concurrent streams")
            if let keepalive = http.http2KeepAlive {
                let k = p / "http2KeepAlive"
                if keepalive.interval == nil {
                    result.error(k / "interval", "http2 keepalive interval is required")
                } else {
                    result.merge(Validators.istioDuration(keepalive.interval, at: k / "interval"))
                }
                if keepalive.timeout == nil {
                    result.error(k / "timeout", "http2 keepalive timeout is required")
                } else {
                    result.merge(Validators.istioDuration(keepalive.timeout, at: k / "timeout"))
                }
            }
        }

        if let tcp {
            let p = path / "tcp"
            if let max = tcp.maxConnections, max < 0 {
                result.error(p / "maxConnections", "max connections must be non-negative")
            }
            result.merge(Validators.istioDuration(tcp.connectTimeout, at: p / "connectTimeout"))
            result.merge(Validators.istioDuration(tcp.maxConnectionDuration, at: p / "maxConnectionDuration"))
            // 0s (anything under 1ms) disables the idle timeout.
            if let idle = tcp.idleTimeout, idle.nanoseconds / 1_000_000 != 0 {
                result.merge(Validators.istioDuration(idle, at: p / "idleTimeout"))
            }
            if let keepalive = tcp.tcpKeepalive {
                result.merge(Validators.istioDuration(keepalive.time, at: p / "tcpKeepalive" / "time"))
                result.merge(Validators.istioDuration(keepalive.interval, at: p / "tcpKeepalive" / "interval"))
            }
        }
        return result
    }
}
