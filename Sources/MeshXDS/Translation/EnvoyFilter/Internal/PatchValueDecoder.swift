import Foundation
import MeshCore
import SwiftProtobuf

/// Why a patch value could not become an Envoy message: the field path (from `patch.value`) and what is wrong.
struct PatchValueError: Error {
    var field: String
    var message: String
}

/// Decodes an EnvoyFilter patch value (Envoy's proto JSON, `@type` inside `Any`) into a generated message.
///
/// Every `Any` is checked eagerly: its `@type` must be a message SwiftMesh carries and its fields
/// must exist there, so a patch naming a field or type the trimmed protos lack is reported with
/// its path instead of failing later when the resource is serialized.
enum PatchValueDecoder {
    static func decode<M: SwiftProtobuf.Message>(_ value: JSONValue, as type: M.Type) throws(PatchValueError) -> M {
        EnvoyMessageTypes.register()
        guard case .object = value else {
            throw PatchValueError(field: "patch.value", message: "must be an object holding a \(M.protoMessageName)")
        }
        try checkAnys(in: value, path: "patch.value")
        let message: M
        do {
            message = try M(jsonString: json(value))
        } catch {
            throw PatchValueError(field: "patch.value" + fieldSuffix(error), message: describe(error, in: M.protoMessageName))
        }
        // Transcode once to binary: every nested Any then holds bytes rather than deferred JSON.
        do {
            let bytes: [UInt8] = try message.serializedBytes()
            return try M(serializedBytes: bytes)
        } catch {
            throw PatchValueError(field: "patch.value", message: "cannot be encoded as \(M.protoMessageName): \(error)")
        }
    }

    private static func check<T: SwiftProtobuf.Message>(_ type: T.Type, _ json: String) throws {
        _ = try T(jsonString: json)
    }

    /// Walks the value; every object with `@type` must name a known message and decode as it.
    private static func checkAnys(in value: JSONValue, path: String) throws(PatchValueError) {
        switch value {
        case .object(let fields):
            if let typeValue = fields["@type"] {
                guard case .string(let url) = typeValue else {
                    throw PatchValueError(field: path + ".@type", message: "must be a type URL string")
                }
                guard let type = EnvoyMessageTypes.messageType(forTypeURL: url) else {
                    let name = url.split(separator: "/").last.map(String.init) ?? url
                    throw PatchValueError(field: path + ".@type", message: "type \(name) is not among the Envoy messages SwiftMesh carries (Protos/)")
                }
                var content = fields
                content["@type"] = nil
                do {
                    try check(type, json(.object(content)))
                } catch {
                    throw PatchValueError(field: path + fieldSuffix(error), message: describe(error, in: type.protoMessageName))
                }
            }
            for key in fields.keys.sorted() where key != "@type" {
                try checkAnys(in: fields[key]!, path: path + "." + key)
            }
        case .array(let items):
            for (i, item) in items.enumerated() { try checkAnys(in: item, path: "\(path)[\(i)]") }
        default:
            break
        }
    }

    private static func json(_ value: JSONValue) throws(PatchValueError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw PatchValueError(field: "patch.value", message: "is not representable as JSON: \(error)")
        }
    }

    private static func fieldSuffix(_ error: any Error) -> String {
        if case .unknownField(let name)? = error as? JSONDecodingError { return "." + name }
        return ""
    }

    private static func describe(_ error: any Error, in messageName: String) -> String {
        switch error as? JSONDecodingError {
        case .unknownField?: "unknown field: \(messageName) in SwiftMesh's protos has no such field"
        case .unrecognizedEnumValue?: "unknown enum value in \(messageName)"
        case .malformedDuration?: "malformed duration in \(messageName) (expected e.g. \"1.5s\")"
        case .conflictingOneOf?: "sets two fields of one oneof in \(messageName)"
        case let other?: "does not decode as \(messageName): \(other)"
        case nil: "does not decode as \(messageName): \(error)"
        }
    }
}
