public import MeshCore

/// Istio's route timeout handling: no timeout unless the VirtualService sets one.
public enum RouteTimeoutConverter {
    /// Sets `timeout` (0s, meaning none, when unset) and caps `grpc-timeout` headers at the same value.
    ///
    /// Istio sets the deprecated `max_grpc_timeout`; this uses its replacement,
    /// `max_stream_duration.grpc_timeout_header_max`, with the same meaning.
    /// - Parameters:
    ///   - timeout: the route's `timeout`, if any.
    ///   - action: the route action to change.
    public static func apply(_ timeout: ConfigDuration?, to action: inout Envoy_Config_Route_V3_RouteAction) {
        let value = timeout.map(Proto.duration) ?? Proto.zeroDuration
        action.timeout = value
        action.maxStreamDuration = .with { $0.grpcTimeoutHeaderMax = value }
    }
}
