import Yams

/// Parses YAML (and therefore JSON) text into `ConfigNode` documents.
enum YAMLReader {
    struct Document {
        var node: ConfigNode
        var line: Int
    }

    struct Failure: Error {
        var message: String
        var line: Int?
    }

    static func documents(in text: String) throws(Failure) -> [Document] {
        var result: [Document] = []
        do {
            // No resolver rules: plain scalars are classified by `classify`, without regexes.
            var sequence = try Yams.compose_all(yaml: text, .basic)
            var ids = 0
            while let node = sequence.next() {
                let converted = try convert(node, ids: &ids)
                result.append(Document(node: converted, line: converted.line))
            }
            if let error = sequence.error { throw error }
        } catch let failure as Failure {
            throw failure
        } catch let error as YamlError {
            throw describe(error)
        } catch {
            throw Failure(message: "\(error)", line: nil)
        }
        return result
    }

    private static func describe(_ error: YamlError) -> Failure {
        switch error {
        case .scanner(let context, let problem, let mark, _):
            return Failure(message: "YAML syntax error: \(problem)\(context.map { " \($0.text)" } ?? "")", line: mark.line)
        case .parser(let context, let problem, let mark, _):
            return Failure(message: "YAML syntax error: \(problem)\(context.map { " \($0.text)" } ?? "")", line: mark.line)
        case .composer(let context, let problem, let mark, _):
            return Failure(message: "YAML syntax error: \(problem)\(context.map { " \($0.text)" } ?? "")", line: mark.line)
        default:
            return Failure(message: "YAML error: \(error)", line: nil)
        }
    }

    private static func convert(_ node: Node, ids: inout Int) throws(Failure) -> ConfigNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            let kind: ConfigNode.Scalar.Kind
            if scalar.style != .plain && scalar.style != .any {
                kind = .string
            } else if scalar.tag.rawValue.isEmpty || scalar.tag.rawValue == "!" {
                kind = classify(scalar.string)
            } else {
                // An explicit tag such as `!!str` or `!!int`.
                switch scalar.tag.rawValue {
                case Tag.Name.int.rawValue: kind = .integer
                case Tag.Name.float.rawValue: kind = .float
                case Tag.Name.bool.rawValue: kind = .bool
                case Tag.Name.null.rawValue: kind = .null
                default: kind = .string
                }
            }
            return .scalar(.init(text: scalar.string, kind: kind, line: line))
        case .mapping(let mapping):
            var entries: [ConfigNode.Entry] = []
            var seen: Set<String> = []
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw Failure(message: "mapping keys must be strings", line: keyNode.mark?.line ?? line)
                }
                let key = keyScalar.string
                if key == "<<" {
                    throw Failure(message: "YAML merge keys (<<) are not supported", line: keyNode.mark?.line ?? line)
                }
                guard seen.insert(key).inserted else {
                    throw Failure(message: "duplicate key \"\(key)\"", line: keyNode.mark?.line ?? line)
                }
                entries.append(.init(key: key, keyLine: keyNode.mark?.line ?? line, value: try convert(valueNode, ids: &ids)))
            }
            ids += 1
            return .mapping(.init(entries: entries, line: line, id: ids))
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try convert(item, ids: &ids)) }
            return .sequence(.init(items: items, line: line))
        case .alias:
            throw Failure(message: "YAML aliases are not supported", line: line)
        }
    }

    /// YAML 1.1 resolution of a plain scalar (the rules Kubernetes' YAML reader applies):
    /// null, booleans (`true`, `yes`, `on`, ...), integers (decimal, `0x`, `0o`, `0b`, with `_`)
    /// and floats (`1.5`, `1e3`, `.inf`, `.nan`); anything else is a string.
    static func classify(_ text: String) -> ConfigNode.Scalar.Kind {
        switch text {
        case "", "~", "null", "Null", "NULL":
            return .null
        case "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO",
             "on", "On", "ON", "off", "Off", "OFF":
            return .bool
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
            return .float
        default:
            break
        }
        var bytes = Substring(text).utf8[...]
        guard let first = bytes.first else { return .string }
        // Only scalars starting with a sign, digit or '.' can be numbers.
        guard first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") || (first >= 48 && first <= 57) else {
            return .string
        }
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        func all(_ s: Substring.UTF8View.SubSequence, _ allowed: (UInt8) -> Bool) -> Bool { !s.isEmpty && s.allSatisfy(allowed) }
        let isDigit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        let digitOrUnderscore: (UInt8) -> Bool = { isDigit($0) || $0 == UInt8(ascii: "_") }
        if bytes.starts(with: "0x".utf8) {
            return all(bytes.dropFirst(2), { isDigit($0) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102) || $0 == UInt8(ascii: "_") }) ? .integer : .string
        }
        if bytes.starts(with: "0b".utf8) {
            return all(bytes.dropFirst(2), { $0 == 48 || $0 == 49 || $0 == UInt8(ascii: "_") }) ? .integer : .string
        }
        if bytes.starts(with: "0o".utf8) {
            return all(bytes.dropFirst(2), { ($0 >= 48 && $0 <= 55) || $0 == UInt8(ascii: "_") }) ? .integer : .string
        }
        if all(bytes, digitOrUnderscore) {
            // `0` alone or no leading zero is decimal; a leading zero is YAML 1.1 octal.
            if bytes.first == 48, bytes.count > 1 {
                return bytes.dropFirst().allSatisfy({ ($0 >= 48 && $0 <= 55) || $0 == UInt8(ascii: "_") }) ? .integer : .string
            }
            return isDigit(bytes.first!) ? .integer : .string
        }
        // Float: digits[.digits][e[+-]digits] or .digits[e...]
        var rest = bytes
        let whole = rest.prefix(while: digitOrUnderscore)
        rest = rest.dropFirst(whole.count)
        var sawDigits = whole.first.map(isDigit) ?? false
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let fraction = rest.prefix(while: digitOrUnderscore)
            rest = rest.dropFirst(fraction.count)
            if whole.isEmpty { sawDigits = fraction.first.map(isDigit) ?? false }
        } else if rest.first != UInt8(ascii: "e") && rest.first != UInt8(ascii: "E") {
            return .string
        }
        guard sawDigits else { return .string }
        if rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "-") || rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
            guard all(rest, isDigit) else { return .string }
            return .float
        }
        return rest.isEmpty ? .float : .string
    }
}
