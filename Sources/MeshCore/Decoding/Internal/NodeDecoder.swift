/// A strict `Decoder` over `ConfigNode` with Kubernetes schema semantics:
/// unknown fields are errors, scalar types must match, and every failure carries
/// the field path and line.
struct NodeDecodingFailure: Error {
    var path: FieldPath
    var message: String
    var line: Int
}

/// Tracks which keys of each mapping were read so unknown fields can be reported.
final class KeyUsageTracker {
    /// The keys read from one mapping.
    final class Usage {
        let path: FieldPath
        var accessed: Set<String> = []
        var all = false

        init(path: FieldPath) { self.path = path }

        func contains(_ key: String) -> Bool { all || accessed.contains(key) }
    }

    /// Usages by mapping identity (mappings from the parser have unique ids).
    private var usages: [Int: Usage] = [:]

    /// The usage record for `mapping`, created on first use.
    func usage(for mapping: ConfigNode.Mapping, at path: FieldPath) -> Usage {
        if let existing = usages[mapping.id] { return existing }
        let usage = Usage(path: path)
        usages[mapping.id] = usage
        return usage
    }

    /// Every key that was present but never read, in document order.
    ///
    /// Walks the tree from `root`: keys of a decoded object that were never read are unknown,
    /// and so is every key of a non-empty object that no type ever opened (an empty struct).
    func unknownFields(root: ConfigNode, at rootPath: FieldPath) -> [NodeDecodingFailure] {
        var failures: [NodeDecodingFailure] = []
        func walk(_ node: ConfigNode, _ path: FieldPath) {
            switch node {
            case .scalar:
                return
            case .sequence(let s):
                for (i, item) in s.items.enumerated() { walk(item, path.index(i)) }
            case .mapping(let m):
                guard let u = usages[m.id], m.id != 0 || !m.entries.isEmpty else {
                    for entry in m.entries {
                        failures.append(NodeDecodingFailure(path: path.field(entry.key), message: "unknown field \"\(entry.key)\"", line: entry.keyLine))
                    }
                    return
                }
                for entry in m.entries {
                    if u.contains(entry.key) {
                        walk(entry.value, u.path.field(entry.key))
                    } else {
                        failures.append(NodeDecodingFailure(path: u.path.field(entry.key), message: "unknown field \"\(entry.key)\"", line: entry.keyLine))
                    }
                }
            }
        }
        walk(root, rootPath)
        return failures.sorted { ($0.line, $0.path.description) < ($1.line, $1.path.description) }
    }
}

struct NodeDecoder {
    /// Decodes `type` from `node`, throwing the first type error, then reporting all unknown fields.
    static func decode<T: Decodable>(_ type: T.Type, from node: ConfigNode, at path: FieldPath) throws(NodeDecodingErrors) -> T {
        let tracker = KeyUsageTracker()
        let decoder = NodeValueDecoder(node: node, path: path, tracker: tracker)
        let value: T
        do {
            value = try T(from: decoder)
        } catch let failure as NodeDecodingFailure {
            throw NodeDecodingErrors(failures: [failure])
        } catch let error as DecodingError {
            throw NodeDecodingErrors(failures: [NodeDecodingFailure(path: path, message: "\(error)", line: node.line)])
        } catch {
            throw NodeDecodingErrors(failures: [NodeDecodingFailure(path: path, message: "\(error)", line: node.line)])
        }
        let unknown = tracker.unknownFields(root: node, at: path)
        if !unknown.isEmpty { throw NodeDecodingErrors(failures: unknown) }
        return value
    }
}

struct NodeDecodingErrors: Error {
    var failures: [NodeDecodingFailure]
}

/// Coding key used for list positions and dynamic map keys.
struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// Marks coding paths whose keys are map entries rather than fields.
struct NodeValueDecoder: Decoder {
    let node: ConfigNode
    let path: FieldPath
    let tracker: KeyUsageTracker

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The path of this value, for types that validate their own content.
    var fieldPath: FieldPath { path }

    func failure(_ message: String) -> NodeDecodingFailure {
        NodeDecodingFailure(path: path, message: message, line: node.line)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else {
            throw failure("expected an object, found \(node.typeDescription)")
        }
        let usage = tracker.usage(for: mapping, at: path)
        return KeyedDecodingContainer(NodeKeyedContainer<Key>(mapping: mapping, path: path, tracker: tracker, usage: usage))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else {
            throw failure("expected a list, found \(node.typeDescription)")
        }
        return NodeUnkeyedContainer(sequence: sequence, path: path, tracker: tracker)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        NodeSingleValueContainer(node: node, path: path, tracker: tracker)
    }
}

struct NodeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let mapping: ConfigNode.Mapping
    let path: FieldPath
    let tracker: KeyUsageTracker
    let usage: KeyUsageTracker.Usage
    /// Dictionaries and dynamic keys name map entries, not fields.
    let isMapKey: Bool

    init(mapping: ConfigNode.Mapping, path: FieldPath, tracker: KeyUsageTracker, usage: KeyUsageTracker.Usage) {
        self.mapping = mapping
        self.path = path
        self.tracker = tracker
        self.usage = usage
        self.isMapKey = Key.self == DynamicKey.self || String(describing: Key.self).hasPrefix("_Dictionary")
    }

    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] {
        usage.all = true
        return mapping.entries.compactMap { Key(stringValue: $0.key) }
    }

    func contains(_ key: Key) -> Bool {
        usage.accessed.insert(key.stringValue)
        return mapping.entry(key.stringValue) != nil
    }

    private func child(_ key: Key) throws -> NodeValueDecoder {
        usage.accessed.insert(key.stringValue)
        guard let entry = mapping.entry(key.stringValue) else {
            throw NodeDecodingFailure(path: path.field(key.stringValue), message: "required field is missing", line: mapping.line)
        }
        return NodeValueDecoder(node: entry.value, path: childPath(key), tracker: tracker)
    }

    private func childPath(_ key: Key) -> FieldPath {
        isMapKey ? path.key(key.stringValue) : path.field(key.stringValue)
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        usage.accessed.insert(key.stringValue)
        guard let entry = mapping.entry(key.stringValue) else { return true }
        return entry.value.isNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: child(key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        usage.accessed.insert(key.stringValue)
        guard let entry = mapping.entry(key.stringValue), !entry.value.isNull else { return nil }
        return try T(from: NodeValueDecoder(node: entry.value, path: childPath(key), tracker: tracker))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        NodeValueDecoder(node: .mapping(mapping), path: path, tracker: tracker)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try child(key)
    }
}

struct NodeUnkeyedContainer: UnkeyedDecodingContainer {
    let sequence: ConfigNode.Sequence
    let path: FieldPath
    let tracker: KeyUsageTracker
    var currentIndex = 0

    init(sequence: ConfigNode.Sequence, path: FieldPath, tracker: KeyUsageTracker) {
        self.sequence = sequence
        self.path = path
        self.tracker = tracker
    }

    var codingPath: [any CodingKey] { [] }
    var count: Int? { sequence.items.count }
    var isAtEnd: Bool { currentIndex >= sequence.items.count }

    private mutating func next() throws -> NodeValueDecoder {
        guard !isAtEnd else {
            throw NodeDecodingFailure(path: path, message: "list is shorter than expected", line: sequence.line)
        }
        defer { currentIndex += 1 }
        return NodeValueDecoder(node: sequence.items[currentIndex], path: path.index(currentIndex), tracker: tracker)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, sequence.items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = try next()
        if decoder.node.isNull {
            throw decoder.failure("null is not allowed in this list")
        }
        return try T(from: decoder)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try next()
    }
}

struct NodeSingleValueContainer: SingleValueDecodingContainer {
    let node: ConfigNode
    let path: FieldPath
    let tracker: KeyUsageTracker

    var codingPath: [any CodingKey] { [] }

    private func failure(_ message: String) -> NodeDecodingFailure {
        NodeDecodingFailure(path: path, message: message, line: node.line)
    }

    private func scalar() throws -> ConfigNode.Scalar {
        guard case .scalar(let s) = node else {
            throw failure("expected a scalar value, found \(node.typeDescription)")
        }
        return s
    }

    func decodeNil() -> Bool { node.isNull }

    func decode(_ type: Bool.Type) throws -> Bool {
        let s = try scalar()
        guard s.kind == .bool else { throw failure("expected a boolean, found \(node.typeDescription)") }
        switch s.text.lowercased() {
        case "true", "yes", "on": return true
        default: return false
        }
    }

    func decode(_ type: String.Type) throws -> String {
        let s = try scalar()
        switch s.kind {
        case .string: return s.text
        case .null: throw failure("expected a string, found null")
        default: throw failure("expected a string, found \(node.typeDescription) (quote it to make it a string)")
        }
    }

    func decode(_ type: Double.Type) throws -> Double {
        let s = try scalar()
        guard s.kind == .float || s.kind == .integer, let value = parseDouble(s.text) else {
            throw failure("expected a number, found \(node.typeDescription)")
        }
        return value
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func parseDouble(_ text: String) -> Double? {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        switch cleaned {
        case ".inf", ".Inf", ".INF", "+.inf": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: return Double(cleaned)
        }
    }

    private func integer<I: FixedWidthInteger>(_ type: I.Type, allowString: Bool) throws -> I {
        let s = try scalar()
        let isQuotedNumber = allowString && s.kind == .string
        guard s.kind == .integer || isQuotedNumber else {
            throw failure("expected an integer, found \(node.typeDescription)")
        }
        var text = s.text.replacingOccurrences(of: "_", with: "")
        var radix = 10
        var negative = false
        if text.hasPrefix("+") { text.removeFirst() } else if text.hasPrefix("-") { text.removeFirst(); negative = true }
        if text.hasPrefix("0x") { text.removeFirst(2); radix = 16 } else if text.hasPrefix("0o") { text.removeFirst(2); radix = 8 } else if text.hasPrefix("0b") { text.removeFirst(2); radix = 2 }
        guard let magnitude = UInt64(text, radix: radix) else {
            throw failure("expected an integer, found \(node.typeDescription)")
        }
        let minimum = Int64(clamping: I.min)
        let maximum = UInt64(clamping: I.max)
        if negative {
            guard magnitude == 0 || (minimum < 0 && magnitude <= UInt64(-(minimum + 1)) + 1) else {
                throw failure("value \(s.text) is out of range (\(I.min)...\(I.max))")
            }
            let value = magnitude == 0 ? 0 : -Int64(magnitude - 1) - 1
            guard let result = I(exactly: value) else {
                throw failure("value \(s.text) is out of range (\(I.min)...\(I.max))")
            }
            return result
        }
        guard magnitude <= maximum, let result = I(exactly: magnitude) else {
            throw failure("value \(s.text) is out of range (\(I.min)...\(I.max))")
        }
        return result
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self, allowString: true) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self, allowString: false) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self, allowString: false) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self, allowString: false) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self, allowString: true) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self, allowString: true) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self, allowString: false) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self, allowString: false) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self, allowString: false) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self, allowString: true) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: NodeValueDecoder(node: node, path: path, tracker: tracker))
    }
}

extension Decoder {
    /// The Istio field path of the value being decoded, when decoding with MeshCore's decoder.
    var meshFieldPath: FieldPath? { (self as? NodeValueDecoder)?.path }

    /// The config node being decoded, when decoding with MeshCore's decoder.
    var meshNode: ConfigNode? { (self as? NodeValueDecoder)?.node }

    /// An error that names the field being decoded.
    func valueError(_ message: String) -> any Error {
        if let decoder = self as? NodeValueDecoder { return decoder.failure(message) }
        return DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: message))
    }
}
