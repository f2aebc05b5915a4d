/// Maps a connecting proxy's node to the key its snapshot is stored under.
///
/// The cache and the server call it once per stream, on the first request. Proxies that share a
/// key share a snapshot (go-control-plane's `NodeHash`).
public protocol NodeHash: Sendable {
    /// The snapshot key for a node.
    /// - Parameters:
    ///   - node: The node from the stream's first discovery request.
    func key(for node: Envoy_Config_Core_V3_Node) -> String
}

/// The default ``NodeHash``: the node's id.
public struct NodeIDHash: NodeHash {
    public init() {}
    public func key(for node: Envoy_Config_Core_V3_Node) -> String { node.id }
}
