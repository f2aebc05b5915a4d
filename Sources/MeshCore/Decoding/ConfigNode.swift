/// A parsed YAML or JSON value with the line it started on.
///
/// `ConfigNode` is the Sendable, position-carrying tree that every Istio document is
/// decoded from. Mapping keys keep their order and their own lines so that errors can
/// point at the exact field a user wrote.
public indirect enum ConfigNode: Sendable, Hashable {
    /// A scalar and how YAML resolved it.
    case scalar(Scalar)
    /// A mapping from string keys to values, in document order.
    case mapping(Mapping)
    /// A sequence of values.
    case sequence(Sequence)

    /// A scalar value as written, with its resolved type.
    public struct Scalar: Sendable, Hashable {
        /// What the YAML resolver made of an unquoted scalar; quoted scalars are always strings.
        public enum Kind: Sendable, Hashable {
            case string, integer, float, bool, null
        }
        public var text: String
        public var kind: Kind
        public var line: Int

        public init(text: String, kind: Kind, line: Int) {
            self.text = text
            self.kind = kind
            self.line = line
        }
    }

    /// One key of a mapping.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var keyLine: Int
        public var value: ConfigNode

        public init(key: String, keyLine: Int, value: ConfigNode) {
            self.key = key
            self.keyLine = keyLine
            self.value = value
        }
    }

    /// A mapping node.
    public struct Mapping: Sendable, Hashable {
        public var entries: [Entry]
        public var line: Int
        /// Identifies the mapping within one parse (0 for mappings built in code); not part of equality.
        var id: Int

        public init(entries: [Entry], line: Int) {
            self.init(entries: entries, line: line, id: 0)
        }

        init(entries: [Entry], line: Int, id: Int) {
            self.entries = entries
            self.line = line
            self.id = id
        }

        public static func == (lhs: Mapping, rhs: Mapping) -> Bool {
            lhs.entries == rhs.entries && lhs.line == rhs.line
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(entries)
            hasher.combine(line)
        }

        /// The value for `key`, if present.
        public subscript(key: String) -> ConfigNode? {
            entries.first(where: { $0.key == key })?.value
        }

        /// The entry for `key`, if present.
        public func entry(_ key: String) -> Entry? {
            entries.first(where: { $0.key == key })
        }
    }

    /// A sequence node.
    public struct Sequence: Sendable, Hashable {
        public var items: [ConfigNode]
        public var line: Int

        public init(items: [ConfigNode], line: Int) {
            self.items = items
            self.line = line
        }
    }

    /// The line (1-based) this node starts on.
    public var line: Int {
        switch self {
        case .scalar(let s): s.line
        case .mapping(let m): m.line
        case .sequence(let s): s.line
        }
    }

    /// The mapping payload, when this is a mapping.
    public var mapping: Mapping? {
        if case .mapping(let m) = self { return m }
        return nil
    }

    /// The text of a string scalar.
    public var string: String? {
        if case .scalar(let s) = self, s.kind != .null { return s.text }
        return nil
    }

    /// True for an explicit YAML null (`~`, `null`, or an empty value).
    public var isNull: Bool {
        if case .scalar(let s) = self, s.kind == .null { return true }
        return false
    }

    /// A short human description of the node's type, used in error messages.
    var typeDescription: String {
        switch self {
        case .mapping: return "an object"
        case .sequence: return "a list"
        case .scalar(let s):
            switch s.kind {
            case .string: return "string \"\(s.text)\""
            case .integer: return "integer \(s.text)"
            case .float: return "number \(s.text)"
            case .bool: return "boolean \(s.text)"
            case .null: return "null"
            }
        }
    }

    /// The line of the value at `path` below this node, if it exists.
    ///
    /// Used to point validation findings at the field they concern.
    public func line(at path: FieldPath) -> Int? {
        var node = self
        var line = self.line
        for component in path.components {
            switch (component, node) {
            case (.field(let name), .mapping(let m)):
                guard let entry = m.entry(name) else { return line }
                node = entry.value
                line = entry.keyLine
            case (.index(let i), .sequence(let s)):
                guard s.items.indices.contains(i) else { return line }
                node = s.items[i]
                line = node.line
            case (.key(let k), .mapping(let m)):
                guard let entry = m.entry(k) else { return line }
                node = entry.value
                line = entry.keyLine
            default:
                return line
            }
        }
        return line
    }
}
