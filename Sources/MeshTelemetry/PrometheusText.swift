/// Helpers for Prometheus' text exposition format (version 0.0.4).
public enum PrometheusText {
    /// Escapes a label value: backslash, double quote and line feed.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Escapes HELP text: backslash and line feed.
    public static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// True when `name` is a valid metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels may not use `:`).
    public static func isValidName(_ name: String, label: Bool = false) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func allowed(_ c: Unicode.Scalar, leading: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (!label && c == ":") || (!leading && c >= "0" && c <= "9")
        }
        return allowed(first, leading: true) && name.unicodeScalars.dropFirst().allSatisfy { allowed($0, leading: false) }
    }

    /// Formats a sample line: `name{a="b",c="d"} value`.
    public static func sample(_ name: String, labels: [(String, String)], value: Double) -> String {
        let rendered = value.isNaN ? "NaN" : value == .infinity ? "+Inf" : value == -.infinity ? "-Inf"
            : value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        guard !labels.isEmpty else { return "\(name) \(rendered)" }
        let body = labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",")
        return "\(name){\(body)} \(rendered)"
    }
}
