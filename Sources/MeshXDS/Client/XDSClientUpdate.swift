public import SwiftProtobuf

/// An accepted change to the resources of one type, as ``XDSClient`` delivers it.
public struct XDSClientUpdate: Sendable, Hashable {
    /// The type URL.
    public var typeURL: String
    /// The accepted version (`version_info`, or `system_version_info` in delta).
    public var version: String
    /// Every resource of the type the client now holds, by name.
    public var resources: [String: Google_Protobuf_Any]
    /// Names removed by this update.
    public var removed: [String]

    /// Creates an update.
    public init(typeURL: String, version: String, resources: [String: Google_Protobuf_Any], removed: [String] = []) {
        self.typeURL = typeURL
        self.version = version
        self.resources = resources
        self.removed = removed
    }

    /// The resources decoded as one message type, ordered by name; resources of other types are skipped.
    /// - Parameters:
    ///   - type: The message type, such as `Envoy_Config_Cluster_V3_Cluster.self`.
    public func decoded<M: SwiftProtobuf.Message>(as type: M.Type) -> [M] {
        resources.sorted { $0.key < $1.key }.compactMap { try? M(unpackingAny: $0.value) }
    }
}
