/// A syntax-only check of CEL expressions (Istio parses access-log filters with cel-go and
/// rejects those that do not parse). Types and function names are not checked.
struct CELSyntax {
    enum Token: Equatable {
        case ident(String)
        case literal
        case punct(String)
        case end
    }

    struct Failure: Error {
        var message: String
    }

    private var tokens: [Token] = []
    private var position = 0

    /// Why `expression` is not syntactically valid CEL, or nil when it parses.
    static func problem(in expression: String) -> String? {
        do throws(Failure) {
            var parser = CELSyntax()
            parser.tokens = try tokenize(expression)
            try parser.expr()
            guard parser.peek == .end else { throw Failure(message: "unexpected \(parser.describe(parser.peek))") }
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: Lexer

    private static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
        "package", "namespace", "return", "var", "void", "while",
    ]

    private static func tokenize(_ text: String) throws(Failure) -> [Token] {
        let c = Array(text.unicodeScalars)
        var i = 0
        var out: [Token] = []
        func isIdentStart(_ s: Unicode.Scalar) -> Bool { s == "_" || (s.isASCII && s.properties.isAlphabetic) }
        func isDigit(_ s: Unicode.Scalar) -> Bool { s >= "0" && s <= "9" }
        while i < c.count {
            let s = c[i]
            if s == " " || s == "\t" || s == "\n" || s == "\r" { i += 1; continue }
            if s == "/", i + 1 < c.count, c[i + 1] == "/" {
                while i < c.count, c[i] != "\n" { i += 1 }
                continue
            }
            // String and bytes literals, with optional r/b prefixes.
            var j = i
            var raw = false
            while j < c.count, j - i < 2, ["r", "R", "b", "B"].contains(c[j]) {
                if c[j] == "r" || c[j] == "R" { raw = true }
                j += 1
            }
            if j < c.count, c[j] == "\"" || c[j] == "'" {
                let quote = c[j]
                let triple = j + 2 < c.count && c[j + 1] == quote && c[j + 2] == quote
                var k = j + (triple ? 3 : 1)
                var closed = false
                while k < c.count {
                    if !raw, c[k] == "\\" { k += 2; continue }
                    if triple {
                        if k + 2 < c.count, c[k] == quote, c[k + 1] == quote, c[k + 2] == quote { k += 3; closed = true; break }
                    } else {
                        if c[k] == "\n" { break }
                        if c[k] == quote { k += 1; closed = true; break }
                    }
                    k += 1
                }
                guard closed else { throw Failure(message: "unterminated string literal") }
                out.append(.literal)
                i = k
                continue
            }
            if isIdentStart(s) {
                var k = i
                while k < c.count, isIdentStart(c[k]) || isDigit(c[k]) { k += 1 }
                let word = String(String.UnicodeScalarView(c[i..<k]))
                if reserved.contains(word) { throw Failure(message: "reserved identifier \"\(word)\"") }
                out.append(["true", "false", "null"].contains(word) ? .literal : .ident(word))
                i = k
                continue
            }
            if isDigit(s) || (s == "." && i + 1 < c.count && isDigit(c[i + 1])) {
                var k = i
                if s == "0", k + 1 < c.count, c[k + 1] == "x" || c[k + 1] == "X" {
                    k += 2
                    while k < c.count, c[k].properties.isASCIIHexDigit { k += 1 }
                } else {
                    while k < c.count, isDigit(c[k]) || c[k] == "." { k += 1 }
                    if k < c.count, c[k] == "e" || c[k] == "E" {
                        k += 1
                        if k < c.count, c[k] == "+" || c[k] == "-" { k += 1 }
                        while k < c.count, isDigit(c[k]) { k += 1 }
                    }
                }
                if k < c.count, c[k] == "u" || c[k] == "U" { k += 1 }
                out.append(.literal)
                i = k
                continue
            }
            let two = i + 1 < c.count ? String(String.UnicodeScalarView([s, c[i + 1]])) : ""
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                out.append(.punct(two))
                i += 2
                continue
            }
            if "+-*/%<>!?:.,()[]{}".unicodeScalars.contains(s) {
                out.append(.punct(String(s)))
                i += 1
                continue
            }
            throw Failure(message: "unexpected character \"\(s)\"")
        }
        out.append(.end)
        return out
    }

    // MARK: Parser

    private var peek: Token { tokens[position] }

    private func describe(_ t: Token) -> String {
        switch t {
        case .ident(let name): "identifier \"\(name)\""
        case .literal: "literal"
        case .punct(let p): "\"\(p)\""
        case .end: "end of expression"
        }
    }

    private mutating func accept(_ p: String) -> Bool {
        if peek == .punct(p) { position += 1; return true }
        return false
    }

    private mutating func expect(_ p: String) throws(Failure) {
        guard accept(p) else { throw Failure(message: "expected \"\(p)\" but found \(describe(peek))") }
    }

    private mutating func expr() throws(Failure) {
        try binary(level: 0)
        if accept("?") {
            try binary(level: 0)
            try expect(":")
            try expr()
        }
    }

    private static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">=", "in"], ["+", "-"], ["*", "/", "%"]]

    private mutating func binary(level: Int) throws(Failure) {
        guard level < Self.levels.count else { return try unary() }
        try binary(level: level + 1)
        while true {
            let ops = Self.levels[level]
            if case .punct(let p) = peek, ops.contains(p) {
                position += 1
            } else if peek == .ident("in"), ops.contains("in") {
                position += 1
            } else {
                return
            }
            try binary(level: level + 1)
        }
    }

    private mutating func unary() throws(Failure) {
        if accept("!") || accept("-") { return try unary() }
        try member()
    }

    private mutating func member() throws(Failure) {
        try primary()
        while true {
            if accept(".") {
                guard case .ident = peek else { throw Failure(message: "expected a field name after \".\" but found \(describe(peek))") }
                position += 1
                if accept("(") { try list(closing: ")") }
            } else if accept("[") {
                try expr()
                try expect("]")
            } else if peek == .punct("{") {
                position += 1
                try fieldInits()
            } else {
                return
            }
        }
    }

    private mutating func primary() throws(Failure) {
        switch peek {
        case .literal:
            position += 1
        case .ident:
            position += 1
            if accept("(") { try list(closing: ")") }
        case .punct("."):
            position += 1
            guard case .ident = peek else { throw Failure(message: "expected an identifier after leading \".\"") }
            position += 1
            if accept("(") { try list(closing: ")") }
        case .punct("("):
            position += 1
            try expr()
            try expect(")")
        case .punct("["):
            position += 1
            try list(closing: "]")
        case .punct("{"):
            position += 1
            try mapInits()
        default:
            throw Failure(message: "unexpected \(describe(peek))")
        }
    }

    private mutating func list(closing: String) throws(Failure) {
        if accept(closing) { return }
        repeat {
            if peek == .punct(closing) { break }
            try expr()
        } while accept(",")
        try expect(closing)
    }

    private mutating func mapInits() throws(Failure) {
        if accept("}") { return }
        repeat {
            if peek == .punct("}") { break }
            try expr()
            try expect(":")
            try expr()
        } while accept(",")
        try expect("}")
    }

    private mutating func fieldInits() throws(Failure) {
        if accept("}") { return }
        repeat {
            if peek == .punct("}") { break }
            guard case .ident = peek else { throw Failure(message: "expected a field name but found \(describe(peek))") }
            position += 1
            try expect(":")
            try expr()
        } while accept(",")
        try expect("}")
    }
}
