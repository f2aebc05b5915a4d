public import SwiftProtobuf

/// Every protobuf message SwiftMesh carries, for resolving `@type` in EnvoyFilter patch values.
///
/// The list is generated from `Sources/MeshXDS/Generated` by `Scripts/list-generated-messages`
/// (run by `Scripts/generate-protos`), plus the well-known types Envoy configuration packs.
public enum EnvoyMessageTypes {
    /// The generated messages and the well-known types.
    public static var all: [any SwiftProtobuf.Message.Type] {
        generated + [
            Google_Protobuf_Struct.self, Google_Protobuf_Value.self, Google_Protobuf_ListValue.self,
            Google_Protobuf_Duration.self, Google_Protobuf_Empty.self, Google_Protobuf_BoolValue.self,
            Google_Protobuf_UInt32Value.self, Google_Protobuf_UInt64Value.self, Google_Protobuf_StringValue.self,
            Google_Protobuf_DoubleValue.self, Google_Protobuf_Int64Value.self, Google_Protobuf_Int32Value.self,
        ]
    }

    private static let registered: Bool = {
        EnvoyAnyTypes.register()
        for type in all { Google_Protobuf_Any.register(messageType: type) }
        return true
    }()

    /// Registers ``all`` with SwiftProtobuf's process-wide `Any` registry; later calls do nothing.
    public static func register() { _ = registered }

    /// The message behind a type URL such as `type.googleapis.com/envoy.config.cluster.v3.Cluster`,
    /// or nil when SwiftMesh's trimmed protos do not have it.
    public static func messageType(forTypeURL url: String) -> (any SwiftProtobuf.Message.Type)? {
        register()
        return Google_Protobuf_Any.messageType(forTypeURL: url)
    }
}
