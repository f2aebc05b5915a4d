internal import MeshXDS
internal import SwiftProtobuf

/// Envoy's `type.matcher.v3.ValueMatcher` over a protobuf `Value`, compiled.
indirect enum MetadataValueMatcher: Sendable {
    case null
    case double(exact: Double?, range: (start: Double, end: Double)?)
    case string(StringMatcher)
    case bool(Bool)
    case present(Bool)
    case list(oneOf: MetadataValueMatcher)
    case or([MetadataValueMatcher])

    init(_ proto: Envoy_Type_Matcher_V3_ValueMatcher, field: String) throws(FilterConfigurationError) {
        switch proto.matchPattern {
        case .nullMatch: self = .null
        case .doubleMatch(let double):
            switch double.matchPattern {
            case .exact(let value): self = .double(exact: value, range: nil)
            case .range(let range):
                guard range.start <= range.end else { throw FilterConfigurationError(field: field + ".double_match.range", "start is greater than end") }
                self = .double(exact: nil, range: (range.start, range.end))
            case nil: throw FilterConfigurationError(field: field + ".double_match", "needs range or exact")
            }
        case .stringMatch(let matcher):
            self = .string(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try StringMatcher(matcher, field + ".string_match", c) })
        case .boolMatch(let value): self = .bool(value)
        case .presentMatch(let value): self = .present(value)
        case .listMatch(let list):
            guard case .oneOf(let inner)? = list.matchPattern else { throw FilterConfigurationError(field: field + ".list_match", "needs one_of") }
            self = .list(oneOf: try MetadataValueMatcher(inner, field: field + ".list_match.one_of"))
        case .orMatch(let or):
            guard or.valueMatchers.count >= 2 else { throw FilterConfigurationError(field: field + ".or_match.value_matchers", "needs at least 2 matchers") }
            var items: [MetadataValueMatcher] = []
            for (index, item) in or.valueMatchers.enumerated() { items.append(try MetadataValueMatcher(item, field: "\(field).or_match.value_matchers[\(index)]")) }
            self = .or(items)
        case nil:
            throw FilterConfigurationError(field: field, "a value matcher needs one of null_match, double_match, string_match, bool_match, present_match, list_match or or_match")
        }
    }

    func matches(_ value: Google_Protobuf_Value) -> Bool {
        switch self {
        case .null:
            if case .nullValue? = value.kind { return true }
            return false
        case .double(let exact, let range):
            guard case .numberValue(let number)? = value.kind else { return false }
            if let exact { return number == exact }
            if let range { return number >= range.start && number < range.end }
            return false
        case .string(let matcher):
            guard case .stringValue(let string)? = value.kind else { return false }
            return matcher.matches(string[...])
        case .bool(let expected):
            guard case .boolValue(let actual)? = value.kind else { return false }
            return actual == expected
        case .present(let present):
            return present && value.kind != nil
        case .list(let oneOf):
            guard case .listValue(let list)? = value.kind else { return false }
            return list.values.contains(where: oneOf.matches)
        case .or(let matchers):
            return matchers.contains { $0.matches(value) }
        }
    }
}

/// Envoy's `type.matcher.v3.MetadataMatcher`, for RBAC rules and route matches: a value at
/// `path` inside the `filter` namespace of the dynamic metadata. A missing value is an empty `Value` (matched only by inverted matchers).
struct DynamicMetadataMatcher: Sendable {
    let filter: String
    let path: [String]
    let value: MetadataValueMatcher
    let invert: Bool

    init(_ proto: Envoy_Type_Matcher_V3_MetadataMatcher, field: String) throws(FilterConfigurationError) {
        guard !proto.filter.isEmpty else { throw FilterConfigurationError(field: field + ".filter", "must not be empty") }
        guard !proto.path.isEmpty else { throw FilterConfigurationError(field: field + ".path", "needs at least one segment") }
        var keys: [String] = []
        for (index, segment) in proto.path.enumerated() {
            guard case .key(let key)? = segment.segment, !key.isEmpty else {
                throw FilterConfigurationError(field: "\(field).path[\(index)].key", "must be a non-empty key")
            }
            keys.append(key)
        }
        guard proto.hasValue else { throw FilterConfigurationError(field: field + ".value", "is required") }
        filter = proto.filter
        path = keys
        value = try MetadataValueMatcher(proto.value, field: field + ".value")
        invert = proto.invert
    }

    func matches(_ metadata: [String: Google_Protobuf_Struct]) -> Bool {
        value.matches(Self.lookup(metadata[filter], path)) != invert
    }

    /// The value at `path` in `root`, or an empty value.
    static func lookup(_ root: Google_Protobuf_Struct?, _ path: [String]) -> Google_Protobuf_Value {
        guard var current = root, !path.isEmpty else { return Google_Protobuf_Value() }
        for key in path.dropLast() {
            guard case .structValue(let next)? = current.fields[key]?.kind else { return Google_Protobuf_Value() }
            current = next
        }
        return current.fields[path[path.count - 1]] ?? Google_Protobuf_Value()
    }
}
