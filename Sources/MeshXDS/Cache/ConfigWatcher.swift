/// Where the ADS server gets each proxy's configuration: the only thing the server knows about
/// the cache.
///
/// The server calls ``snapshots(for:)`` once per stream, after the stream's first request names
/// its node, and iterates the result until the stream ends; it then stops iterating, which must
/// release the watch. The sequence yields the node's current snapshot first (when there is one)
/// and then each new one. Intermediate snapshots may be skipped: only the newest matters.
/// ``SnapshotCache`` implements it; an Istio-style control plane can implement it by translating
/// its model per proxy, or feed a ``SnapshotCache``.
public protocol ConfigWatcher: Sendable {
    /// The snapshots for a node, current first, then every change.
    /// - Parameters:
    ///   - node: The node from the stream's first discovery request.
    func snapshots(for node: Envoy_Config_Core_V3_Node) async -> AsyncStream<Snapshot>
}
