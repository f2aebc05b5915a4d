/// Holds one ``Snapshot`` per node key and tells the server's streams when one changes.
///
/// Setting a snapshot is what pushes configuration: every stream watching that key receives the
/// new snapshot and sends the types whose versions changed. Snapshots are checked with
/// ``Snapshot/validateConsistency()`` before they are stored, so a proxy is never offered a route
/// to a cluster the snapshot lacks.
///
/// ```swift
/// let cache = SnapshotCache()
/// let server = AggregatedDiscoveryServer(watcher: cache)
/// try await cache.setSnapshot(snapshot, for: nodeID)
/// ```
public actor SnapshotCache: ConfigWatcher {
    private let nodeHash: any NodeHash
    private var snapshots: [String: Snapshot] = [:]
    private var watchers: [String: [Int: AsyncStream<Snapshot>.Continuation]] = [:]
    private var nextWatcherID = 0

    /// - Parameters:
    ///   - nodeHash: How nodes map to snapshot keys; by default the node id.
    public init(nodeHash: any NodeHash = NodeIDHash()) {
        self.nodeHash = nodeHash
    }

    /// Stores a snapshot for a key and notifies its watchers.
    /// - Parameters:
    ///   - snapshot: The new snapshot.
    ///   - key: The node key (by default the node id).
    ///   - validate: Whether to check ``Snapshot/validateConsistency()`` first (default true).
    /// - Throws: ``XDSError`` with code ``XDSError/Code/inconsistentSnapshot``; the previous
    ///   snapshot then stays in place.
    public func setSnapshot(_ snapshot: Snapshot, for key: String, validate: Bool = true) throws(XDSError) {
        if validate { try snapshot.validateConsistency() }
        snapshots[key] = snapshot
        for continuation in (watchers[key] ?? [:]).values {
            continuation.yield(snapshot)
        }
    }

    /// The snapshot stored for a key.
    public func snapshot(for key: String) -> Snapshot? { snapshots[key] }

    /// The keys that have snapshots.
    public var keys: [String] { snapshots.keys.sorted() }

    /// Forgets a key's snapshot. Connected proxies keep what they have; they get the next one set.
    public func clearSnapshot(for key: String) {
        snapshots[key] = nil
    }

    /// Number of open watches for a key (one per connected stream).
    public func watchCount(for key: String) -> Int { watchers[key]?.count ?? 0 }

    public func snapshots(for node: Envoy_Config_Core_V3_Node) -> AsyncStream<Snapshot> {
        let key = nodeHash.key(for: node)
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[key, default: [:]][id] = continuation
        if let current = snapshots[key] { continuation.yield(current) }
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(key: key, id: id) }
        }
        return stream
    }

    private func removeWatcher(key: String, id: Int) {
        watchers[key]?[id] = nil
        if watchers[key]?.isEmpty == true { watchers[key] = nil }
    }
}
