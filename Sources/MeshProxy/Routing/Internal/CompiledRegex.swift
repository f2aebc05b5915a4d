/// A regular expression compiled once when a route table is built.
///
/// Envoy's `safe_regex` is RE2. This proxy uses Swift `Regex`, whose syntax is a superset of RE2 for
/// everything RE2 accepts in practice (classes, anchors, repetition, groups, `(?i)` flags, named
/// groups `(?P<name>...)`). Differences: Swift also accepts backreferences and look-around, which RE2
/// rejects (Envoy would NACK such a pattern; this proxy serves it); matching is backtracking rather
/// than linear time; and `\C` (any byte) is unsupported. Envoy's `max_program_size` limit is ignored.
struct CompiledRegex: @unchecked Sendable {
    // Regex is not declared Sendable, but a compiled Regex is an immutable value whose lazily lowered
    // program is published atomically; this type never mutates it after init.
    private let regex: Regex<AnyRegexOutput>
    /// The pattern as written in the configuration.
    let pattern: String
    /// The number of capture groups, not counting the whole match.
    let captureCount: Int

    init(_ pattern: String) throws {
        let regex = try Regex(pattern)
        self.regex = regex
        self.pattern = pattern
        // Matching once lowers the program now, at table build, instead of on the first request.
        _ = "".wholeMatch(of: regex)
        captureCount = Self.countCaptures(pattern)
    }

    /// True when the whole of `text` matches (RE2 `FullMatch`, as Envoy's path and header matchers use).
    func wholeMatch(_ text: Substring) -> Bool {
        text.wholeMatch(of: regex) != nil
    }

    /// True when the whole of `text` matches.
    func wholeMatch(_ text: String) -> Bool {
        text.wholeMatch(of: regex) != nil
    }

    /// Replaces every non-overlapping match in `text` with `substitution` (RE2 `GlobalReplace`).
    func replaceAll(in text: Substring, with substitution: RegexSubstitution) -> String {
        var result = ""
        var cursor = text.startIndex
        for match in text.matches(of: regex) {
            result += text[cursor..<match.range.lowerBound]
            for piece in substitution.pieces {
                switch piece {
                case .literal(let literal):
                    result += literal
                case .group(let index):
                    if index < match.output.count, let captured = match.output[index].substring {
                        result += captured
                    }
                }
            }
            cursor = match.range.upperBound
        }
        result += text[cursor...]
        return result
    }

    /// Counts capturing groups syntactically (`Regex` does not expose the count before a match).
    private static func countCaptures(_ pattern: String) -> Int {
        var count = 0
        var escaped = false
        var inClass = false
        let chars = Array(pattern.utf8)
        for (i, c) in chars.enumerated() {
            if escaped { escaped = false; continue }
            switch c {
            case UInt8(ascii: "\\"): escaped = true
            case UInt8(ascii: "[") where !inClass: inClass = true
            case UInt8(ascii: "]") where inClass: inClass = false
            case UInt8(ascii: "(") where !inClass:
                if i + 1 < chars.count, chars[i + 1] == UInt8(ascii: "?") {
                    // Named groups capture: (?P<name>...) and (?<name>...) but not (?<= / (?<!.
                    if i + 2 < chars.count {
                        let next = chars[i + 2]
                        if next == UInt8(ascii: "P") {
                            count += 1
                        } else if next == UInt8(ascii: "<"), i + 3 < chars.count,
                                  chars[i + 3] != UInt8(ascii: "="), chars[i + 3] != UInt8(ascii: "!") {
                            count += 1
                        }
                    }
                } else {
                    count += 1
                }
            default: break
            }
        }
        return count
    }
}

/// An RE2 rewrite string (`\0` the whole match, `\1`...`\9` groups, `\\` a backslash), parsed once.
struct RegexSubstitution: Sendable {
    enum Piece: Sendable { case literal(String), group(Int) }
    let pieces: [Piece]

    /// Why a rewrite string is rejected.
    struct ParseError: Error { let message: String }

    init(_ text: String, captureCount: Int) throws(ParseError) {
        var pieces: [Piece] = []
        var literal = ""
        var iterator = text.makeIterator()
        while let c = iterator.next() {
            guard c == "\\" else { literal.append(c); continue }
            guard let next = iterator.next() else {
                throw ParseError(message: "the rewrite string ends with a lone backslash")
            }
            if next == "\\" {
                literal.append("\\")
            } else if let digit = next.wholeNumberValue, next.isASCII {
                guard digit <= captureCount else {
                    throw ParseError(message: "the rewrite string refers to group \\\(digit) but the pattern has \(captureCount) group(s)")
                }
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                pieces.append(.group(digit))
            } else {
                throw ParseError(message: "invalid escape \\\(next) in the rewrite string (use \\0-\\9 or \\\\)")
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
    }
}
