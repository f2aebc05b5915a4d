public import GRPCCore

/// Envoy's Aggregated Discovery Service (ADS) over any gRPC transport, for both protocol
/// variants: `StreamAggregatedResources` (state of the world) and `DeltaAggregatedResources`
/// (incremental).
///
/// Configuration comes from a ``ConfigWatcher`` (a ``SnapshotCache`` or your own); the server owns
/// connections, nonces, versions, ACK/NACK and push order, and knows nothing of Istio. Register it
/// with a `GRPCServer` on the transport of your choice:
///
/// ```swift
/// let cache = SnapshotCache()
/// let ads = AggregatedDiscoveryServer(watcher: cache)
/// let server = GRPCServer(transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 15010),
///                                                 transportSecurity: .plaintext), services: [ads])
/// try await server.serve()
/// ```
public struct AggregatedDiscoveryServer: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.StreamingServiceProtocol {
    /// The connected streams and their sync state.
    public let registry: ConnectionRegistry
    private let watcher: any ConfigWatcher
    private let callbacks: any XDSServerCallbacks

    /// - Parameters:
    ///   - watcher: Where each node's snapshots come from.
    ///   - callbacks: Hooks called on stream events; none by default.
    ///   - registry: Where streams are recorded; a new one by default.
    public init(watcher: any ConfigWatcher, callbacks: any XDSServerCallbacks = NoXDSServerCallbacks(), registry: ConnectionRegistry = ConnectionRegistry()) {
        self.watcher = watcher
        self.callbacks = callbacks
        self.registry = registry
    }

    public func streamAggregatedResources(
        request: StreamingServerRequest<Envoy_Service_Discovery_V3_DiscoveryRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Envoy_Service_Discovery_V3_DiscoveryResponse> {
        let stream = XDSStream<SotWStateMachine>(watcher: watcher, callbacks: callbacks, registry: registry)
        return StreamingServerResponse { writer in
            try await stream.run(requests: request.messages, writer: writer, peer: context.remotePeer)
            return [:]
        }
    }

    public func deltaAggregatedResources(
        request: StreamingServerRequest<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse> {
        let stream = XDSStream<DeltaStateMachine>(watcher: watcher, callbacks: callbacks, registry: registry)
        return StreamingServerResponse { writer in
            try await stream.run(requests: request.messages, writer: writer, peer: context.remotePeer)
            return [:]
        }
    }

    /// Asks a node's streams to send what changed (or, with `full`, everything subscribed).
    /// - Parameters:
    ///   - nodeID: The node id.
    ///   - full: Resend every subscribed type even if unchanged.
    public func push(nodeID: String, full: Bool = false) async {
        await registry.push(nodeID: nodeID, full: full)
    }

    /// Ends every open stream, for graceful shutdown.
    public func closeAllStreams() async {
        await registry.closeAll()
    }
}
