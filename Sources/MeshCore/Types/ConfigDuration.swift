/// A protobuf `Duration` as Istio accepts it in YAML: Go duration text such as `1.5s`, `100ms`, `1h30m`.
public struct ConfigDuration: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The length in nanoseconds.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public init(milliseconds: Int64) { self.nanoseconds = milliseconds * 1_000_000 }
    public init(seconds: Double) { self.nanoseconds = Int64((seconds * 1e9).rounded()) }

    /// The duration in seconds.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Swift's `Duration`.
    public var duration: Duration { .nanoseconds(nanoseconds) }

    /// Parses Go duration syntax (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, combinable, with fractions).
    public init?(parsing text: String) {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { self.nanoseconds = 0; return }
        var total: Double = 0
        var sawComponent = false
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isNumber || $0 == "." })
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix(while: { !$0.isNumber && $0 != "." })
            rest = rest.dropFirst(unitText.count)
            let scale: Double
            switch unitText {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
            sawComponent = true
        }
        guard sawComponent, total <= Double(Int64.max) else { return nil }
        self.nanoseconds = Int64(total.rounded()) * (negative ? -1 : 1)
    }

    public init(from decoder: any Decoder) throws {
        let text = try String(from: decoder)
        guard let parsed = ConfigDuration(parsing: text) else {
            throw decoder.valueError("invalid duration \"\(text)\": expected a number with a unit such as 500ms, 1.5s, 2m or 1h")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The protobuf JSON form: seconds with a fractional part and an `s` suffix, e.g. `1.500s`.
    public var description: String {
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        let whole = magnitude / 1_000_000_000
        let fraction = magnitude % 1_000_000_000
        if fraction == 0 { return "\(sign)\(whole)s" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        if digits.hasSuffix("000000") { digits = String(digits.prefix(3)) } else if digits.hasSuffix("000") { digits = String(digits.prefix(6)) }
        return "\(sign)\(whole).\(digits)s"
    }

    public static func < (lhs: ConfigDuration, rhs: ConfigDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
