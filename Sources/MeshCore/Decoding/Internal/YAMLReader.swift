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
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                let converted = try convert(node)
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

    private static func convert(_ node: Node) throws(Failure) -> ConfigNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            let kind: ConfigNode.Scalar.Kind
            if scalar.style != .plain && scalar.style != .any {
                kind = .string
            } else {
                switch node.tag.rawValue {
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
                entries.append(.init(key: key, keyLine: keyNode.mark?.line ?? line, value: try convert(valueNode)))
            }
            return .mapping(.init(entries: entries, line: line))
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try convert(item)) }
            return .sequence(.init(items: items, line: line))
        case .alias:
            throw Failure(message: "YAML aliases are not supported", line: line)
        }
    }
}
