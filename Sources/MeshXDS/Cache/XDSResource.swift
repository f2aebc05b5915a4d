import Foundation
public import SwiftProtobuf

/// One named xDS resource: a packed message and a version that changes whenever its bytes do.
///
/// The version is a hash of the deterministically serialized message, which the delta protocol
/// uses to tell a proxy only about resources that changed.
public struct XDSResource: Sendable, Hashable {
    /// The resource's name (a cluster, listener or route configuration name; the cluster name of
    /// a ClusterLoadAssignment).
    public var name: String
    /// The message packed as `google.protobuf.Any`.
    public var resource: Google_Protobuf_Any
    /// A version string for this resource alone.
    public var version: String

    /// Wraps an already packed resource.
    /// - Parameters:
    ///   - name: The resource's name.
    ///   - resource: The packed message.
    ///   - version: Its version; by default a hash of its bytes.
    ///
    /// The resource is kept as bytes: an `Any` packed from a message (`Google_Protobuf_Any(message:)`)
    /// serializes that message again each time its bytes are read, which would happen once per
    /// stream that sends it.
    public init(name: String, resource: Google_Protobuf_Any, version: String? = nil) {
        var packed = Google_Protobuf_Any()
        packed.typeURL = resource.typeURL
        packed.value = resource.value
        self.name = name
        self.resource = packed
        self.version = version ?? Self.contentVersion(packed.typeURL, packed.value)
    }

    /// Packs a typed message, serialized deterministically, named by ``XDSResource/name(of:)``
    /// unless a name is given.
    /// - Parameters:
    ///   - message: A generated Envoy message.
    ///   - name: Overrides the name read from the message.
    public init(_ message: some SwiftProtobuf.Message, name: String? = nil) throws(XDSError) {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var any = Google_Protobuf_Any()
        any.typeURL = EnvoyTypeURL.of(type(of: message))
        do {
            any.value = try message.serializedBytes(options: options)
        } catch {
            throw XDSError(code: .invalidResource, message: "cannot serialize \(type(of: message).protoMessageName)", cause: error)
        }
        guard let resolved = name ?? Self.name(of: message) else {
            throw XDSError(code: .invalidResource, message: "cannot name a \(type(of: message).protoMessageName); pass a name")
        }
        self.init(name: resolved, resource: any)
    }

    /// The xDS name of a known Envoy resource message, or nil for other message types.
    public static func name(of message: any SwiftProtobuf.Message) -> String? {
        switch message {
        case let cluster as Envoy_Config_Cluster_V3_Cluster: cluster.name
        case let assignment as Envoy_Config_Endpoint_V3_ClusterLoadAssignment: assignment.clusterName
        case let listener as Envoy_Config_Listener_V3_Listener: listener.name
        case let route as Envoy_Config_Route_V3_RouteConfiguration: route.name
        case let secret as Envoy_Extensions_TransportSockets_Tls_V3_Secret: secret.name
        default: nil
        }
    }

    /// The xDS name of a packed resource of a known type, or nil when the type is unknown or the
    /// bytes do not decode.
    public static func name(ofPacked any: Google_Protobuf_Any) -> String? {
        let message: (any SwiftProtobuf.Message)?
        switch any.typeURL {
        case EnvoyTypeURL.cluster: message = try? Envoy_Config_Cluster_V3_Cluster(unpackingAny: any)
        case EnvoyTypeURL.clusterLoadAssignment: message = try? Envoy_Config_Endpoint_V3_ClusterLoadAssignment(unpackingAny: any)
        case EnvoyTypeURL.listener: message = try? Envoy_Config_Listener_V3_Listener(unpackingAny: any)
        case EnvoyTypeURL.routeConfiguration: message = try? Envoy_Config_Route_V3_RouteConfiguration(unpackingAny: any)
        case EnvoyTypeURL.secret: message = try? Envoy_Extensions_TransportSockets_Tls_V3_Secret(unpackingAny: any)
        default: message = nil
        }
        return message.flatMap { name(of: $0) }
    }

    /// FNV-1a over the type URL and bytes, as 16 hex digits: stable across processes.
    static func contentVersion(_ typeURL: String, _ bytes: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in typeURL.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
