import Foundation
import SwiftProtobuf

/// Istio's merge of one Envoy message into another (its `proto/merge` package): protobuf merge
/// semantics — set scalars replace, repeated fields append, map entries replace, messages merge
/// recursively — except that a `google.protobuf.Duration` is replaced whole rather than merged
/// field by field (so merging `15s` over `0.5s` gives `15s`, not `15.5s`).
enum ProtoMerge {
    /// Merges `source` into `destination`, in place.
    ///
    /// The source's encoding is merged into the destination (protobuf's merge). Each Duration the
    /// source sets is first re-encoded with both `seconds` and `nanos` present, so the merge
    /// replaces the destination's Duration whole instead of keeping its other field.
    static func merge<M: SwiftProtobuf.Message>(_ source: M, into destination: inout M) throws {
        var finder = DurationFieldFinder()
        try source.traverse(visitor: &finder)
        var patch: [UInt8] = try source.serializedBytes()
        for path in finder.paths { patch = WireFormat.rewriting(path[...], in: patch, with: WireFormat.explicitDuration) }
        try destination.merge(serializedBytes: patch)
    }

    /// Istio's `MergeAnyWithAny`: unpacks both as the destination's type, merges, packs again.
    /// The source's type URL is taken to be the destination's, as Istio does.
    static func mergeAny(_ source: Google_Protobuf_Any, into destination: Google_Protobuf_Any) throws -> Google_Protobuf_Any {
        guard let type = EnvoyMessageTypes.messageType(forTypeURL: destination.typeURL) else {
            throw AnyMergeError(typeURL: destination.typeURL)
        }
        return try mergeAny(type, source, destination)
    }

    private static func mergeAny<M: SwiftProtobuf.Message>(_ type: M.Type, _ source: Google_Protobuf_Any, _ destination: Google_Protobuf_Any) throws -> Google_Protobuf_Any {
        var merged = try M(unpackingAny: destination)
        let patch = try M(serializedBytes: source.value)
        try merge(patch, into: &merged)
        return try Google_Protobuf_Any(message: merged, partial: true)
    }

    struct AnyMergeError: Error { var typeURL: String }
}

/// Field-number paths, through singular message fields, of every Duration a message sets.
struct DurationFieldFinder: SwiftProtobuf.Visitor {
    var prefix: [Int] = []
    var paths: [[Int]] = []

    mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
        if M.self == Google_Protobuf_Duration.self {
            paths.append(prefix + [fieldNumber])
            return
        }
        // An Any merges as bytes (replaced whole) and repeated/map values never merge into existing ones.
        if M.self == Google_Protobuf_Any.self { return }
        prefix.append(fieldNumber)
        try value.traverse(visitor: &self)
        prefix.removeLast()
    }

    mutating func visitRepeatedMessageField<M: SwiftProtobuf.Message>(value: [M], fieldNumber: Int) throws {}
    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {}
    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {}
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {}
    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {}
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
    mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {}
    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws {}
    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws where ValueType.RawValue == Int {}
    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws {}
    mutating func visitUnknown(bytes: Data) throws {}
}

/// Just enough of the protobuf wire format to rewrite a field at a path of nested message fields.
enum WireFormat {
    /// `bytes` with the payload of every occurrence of the length-delimited field at `path`
    /// replaced by `transform(payload)`; the input unchanged if it cannot be parsed.
    static func rewriting(_ path: ArraySlice<Int>, in bytes: [UInt8], with transform: ([UInt8]) -> [UInt8]) -> [UInt8] {
        guard let target = path.first else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var i = 0
        while i < bytes.count {
            let start = i
            guard let key = varint(bytes, &i) else { return bytes }
            let keyEnd = i
            switch key & 7 {
            case 0:
                guard varint(bytes, &i) != nil else { return bytes }
            case 1:
                i += 8
            case 5:
                i += 4
            case 2:
                guard let length = varint(bytes, &i), i + Int(length) <= bytes.count else { return bytes }
                let payload = Array(bytes[i..<i + Int(length)])
                i += Int(length)
                if Int(key >> 3) == target {
                    let replaced = path.count == 1 ? transform(payload) : rewriting(path.dropFirst(), in: payload, with: transform)
                    out.append(contentsOf: bytes[start..<keyEnd])
                    appendVarint(UInt64(replaced.count), to: &out)
                    out.append(contentsOf: replaced)
                    continue
                }
            default:
                return bytes  // groups do not occur in proto3
            }
            guard i <= bytes.count else { return bytes }
            out.append(contentsOf: bytes[start..<i])
        }
        return out
    }

    /// A `google.protobuf.Duration` encoding with `seconds` (1) and `nanos` (2) both present, zero when unset.
    static func explicitDuration(_ payload: [UInt8]) -> [UInt8] {
        var fields = Set<UInt64>()
        var i = 0
        while i < payload.count {
            guard let key = varint(payload, &i), key & 7 == 0, varint(payload, &i) != nil else { return payload }
            fields.insert(key >> 3)
        }
        return (fields.contains(1) ? [] : [0x08, 0x00]) + payload + (fields.contains(2) ? [] : [0x10, 0x00])
    }

    private static func varint(_ bytes: [UInt8], _ i: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count, shift < 64 {
            let byte = bytes[i]
            i += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
