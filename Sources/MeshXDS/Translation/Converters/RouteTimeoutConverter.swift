public import MeshCore

/// Istio's route timeout handling (`setTimeout`): no timeout unless the VirtualService sets one,
/// and `grpc-timeout` request headers honoured up to the same value.
public enum RouteTimeoutConverter {
    /// Sets the route's timeout: `timeout`, and `max_stream_duration` with the same value as both
    /// the stream limit and the `grpc-timeout` header cap (0s, meaning none, when unset).
    ///
    /// Istio caps `grpc-timeout` with the deprecated `max_grpc_timeout`. Its replacement,
    /// `max_stream_duration`, switches Envoy to stream-duration timeouts, under which the route
    /// `timeout` is ignored; the stream limit therefore carries the timeout too. Requests over it
    /// get 504 as with Istio, flagged `DT` and counted from the start of the request rather than
    /// its end.
    /// - Parameters:
    ///   - timeout: the route's `timeout`, if any.
    ///   - action: the route action to change.
    public static func apply(_ timeout: ConfigDuration?, to action: inout Envoy_Config_Route_V3_RouteAction) {
        let value = timeout.map(Proto.duration) ?? Proto.zeroDuration
        action.timeout = value
        action.maxStreamDuration = .with {
            if timeout != nil { $0.maxStreamDuration = value }
            $0.grpcTimeoutHeaderMax = value
        }
    }
}
