/// An arbitrary JSON value, for `google.protobuf.Struct` fields such as EnvoyFilter patches.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        if let node = decoder.meshNode {
            switch node {
            case .mapping:
                let c = try decoder.container(keyedBy: DynamicKey.self)
                var object: [String: JSONValue] = [:]
                for key in c.allKeys { object[key.stringValue] = try c.decode(JSONValue.self, forKey: key) }
                self = .object(object)
            case .sequence:
                var c = try decoder.unkeyedContainer()
                var array: [JSONValue] = []
                while !c.isAtEnd {
                    if try c.decodeNil() { array.append(.null) } else { array.append(try c.decode(JSONValue.self)) }
                }
                self = .array(array)
            case .scalar(let s):
                let c = try decoder.singleValueContainer()
                switch s.kind {
                case .null: self = .null
                case .bool: self = .bool(try c.decode(Bool.self))
                case .integer, .float: self = .number(try c.decode(Double.self))
                case .string: self = .string(s.text)
                }
            }
            return
        }
        if let c = try? decoder.container(keyedBy: DynamicKey.self) {
            var object: [String: JSONValue] = [:]
            for key in c.allKeys { object[key.stringValue] = try c.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        } else if var c = try? decoder.unkeyedContainer() {
            var array: [JSONValue] = []
            while !c.isAtEnd { array.append(try c.decode(JSONValue.self)) }
            self = .array(array)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let d):
            var c = encoder.singleValueContainer()
            if d.rounded() == d, abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(v) }
        case .object(let o):
            var c = encoder.container(keyedBy: DynamicKey.self)
            for key in o.keys.sorted() { try c.encode(o[key]!, forKey: DynamicKey(stringValue: key)) }
        }
    }

    /// The object's value for `key`, if this is an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
