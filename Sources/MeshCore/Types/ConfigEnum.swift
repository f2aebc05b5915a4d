/// A proto enum as it appears in Istio YAML: a closed set of upper-case names.
///
/// Decoding an unknown value fails with the list of allowed values, as Istio's CRD schema does.
public protocol ConfigEnum: RawRepresentable, CaseIterable, Codable, Sendable, Hashable where RawValue == String {}

extension ConfigEnum {
    public init(from decoder: any Decoder) throws {
        let text = try String(from: decoder)
        guard let value = Self(rawValue: text) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw decoder.valueError("unsupported value \"\(text)\"; expected one of: \(allowed)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
