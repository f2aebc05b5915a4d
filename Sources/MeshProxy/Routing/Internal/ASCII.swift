internal import NIOHTTP1

/// Byte-wise string comparisons, as Envoy does them (no Unicode normalisation; `ignoreCase`
/// folds ASCII letters only). Patterns that ignore case are stored lowercased at build time.
enum ASCII {
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }

    /// Whether `text` holds a byte no header value may carry (CR, LF or NUL).
    static func containsLineBreakOrNUL(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0 || $0 == 10 || $0 == 13 }
    }

    static func lowercased(_ text: String) -> String {
        String(decoding: text.utf8.map(lower), as: UTF8.self)
    }

    /// `text == pattern`; with `ignoringCase`, `pattern` must already be lowercase.
    static func equals(_ text: Substring, _ pattern: String, ignoringCase: Bool) -> Bool {
        let a = text.utf8, b = pattern.utf8
        guard a.count == b.count else { return false }
        if !ignoringCase { return a.elementsEqual(b) }
        return zip(a, b).allSatisfy { lower($0) == $1 }
    }

    /// `text.hasPrefix(pattern)` byte-wise.
    static func hasPrefix(_ text: Substring, _ pattern: String, ignoringCase: Bool) -> Bool {
        let a = text.utf8, b = pattern.utf8
        guard a.count >= b.count else { return false }
        var i = a.startIndex
        for byte in b {
            let c = ignoringCase ? lower(a[i]) : a[i]
            guard c == byte else { return false }
            i = a.index(after: i)
        }
        return true
    }

    /// `text.hasSuffix(pattern)` byte-wise.
    static func hasSuffix(_ text: Substring, _ pattern: String, ignoringCase: Bool) -> Bool {
        let a = text.utf8, b = pattern.utf8
        let count = a.count, patternCount = b.count
        guard count >= patternCount else { return false }
        var i = a.index(a.startIndex, offsetBy: count - patternCount)
        for byte in b {
            let c = ignoringCase ? lower(a[i]) : a[i]
            guard c == byte else { return false }
            i = a.index(after: i)
        }
        return true
    }

    /// `text.contains(pattern)` byte-wise.
    static func contains(_ text: Substring, _ pattern: String, ignoringCase: Bool) -> Bool {
        let b = Array(pattern.utf8)
        if b.isEmpty { return true }
        let a = text.utf8
        guard a.count >= b.count else { return false }
        var start = a.startIndex
        let lastStart = a.index(a.endIndex, offsetBy: -b.count)
        while true {
            var i = start
            var matched = true
            for byte in b {
                let c = ignoringCase ? lower(a[i]) : a[i]
                if c != byte { matched = false; break }
                i = a.index(after: i)
            }
            if matched { return true }
            if start == lastStart { return false }
            start = a.index(after: start)
        }
    }

    /// The part of a `:path` before `?` or `#`.
    static func pathWithoutQuery(_ path: String) -> Substring {
        guard let end = path.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else {
            return path[...]
        }
        return path[..<end]
    }

    /// The query of a `:path` (after `?`, before `#`), or nil without `?`.
    static func query(_ path: String) -> Substring? {
        guard let question = path.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let start = path.utf8.index(after: question)
        let rest = path[start...]
        if let hash = rest.utf8.firstIndex(of: UInt8(ascii: "#")) { return rest[..<hash] }
        return rest
    }

    /// The first value of query parameter `name` (raw, not percent-decoded, as Envoy matches it);
    /// a parameter without `=` has the empty value.
    static func firstQueryValue(_ query: Substring, name: String) -> Substring? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) {
                if pair[..<equals].utf8.elementsEqual(name.utf8) {
                    return pair[pair.utf8.index(after: equals)...]
                }
            } else if pair.utf8.elementsEqual(name.utf8) {
                return pair[pair.endIndex...]
            }
        }
        return nil
    }

    /// `host` without a trailing `:port` (IPv6 literals keep their brackets), as Envoy's
    /// `ignore_port_in_host_matching` strips it; `host` itself when it has no numeric port.
    static func hostWithoutPort(_ host: String) -> Substring {
        let utf8 = host.utf8
        guard let colon = utf8.lastIndex(of: UInt8(ascii: ":")) else { return host[...] }
        if utf8.first == UInt8(ascii: "[") {
            // [v6]:port — the colon must follow the closing bracket.
            guard colon > utf8.startIndex, utf8[utf8.index(before: colon)] == UInt8(ascii: "]") else { return host[...] }
        } else if utf8.firstIndex(of: UInt8(ascii: ":")) != colon {
            return host[...]  // a bare IPv6 address has no port
        }
        let port = host[utf8.index(after: colon)...]
        guard !port.isEmpty, port.utf8.allSatisfy({ $0 &- 48 < 10 }) else { return host[...] }
        return host[..<colon]
    }
}

extension HTTPHeaders {
    /// All values of a header joined with `,` (Envoy's `getAllOfHeaderAsString`), or nil when absent.
    /// Allocates only when the header repeats.
    func joinedValue(lowercasedName name: String) -> String? {
        var first: String?
        var joined: String?
        for (headerName, value) in self where ASCII.equals(headerName[...], name, ignoringCase: true) {
            if let firstValue = first {
                joined = (joined ?? firstValue) + "," + value
            } else {
                first = value
            }
        }
        return joined ?? first
    }

    /// Every value of a header, in order.
    func values(lowercasedName name: String) -> [String] {
        var result: [String] = []
        for (headerName, value) in self where ASCII.equals(headerName[...], name, ignoringCase: true) {
            result.append(value)
        }
        return result
    }
}
