/// A path to a field inside a resource, spelled as Istio spells it: `spec.http[0].route[1].weight`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// One step of a path.
    public enum Component: Sendable, Hashable {
        /// A named field of an object.
        case field(String)
        /// A position in a list.
        case index(Int)
        /// A key of a map (labels, annotations, ...).
        case key(String)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    /// Creates a path from dotted text such as `spec.http`; list indexes are not parsed.
    public init(stringLiteral value: String) {
        self.components = value.isEmpty ? [] : value.split(separator: ".").map { .field(String($0)) }
    }

    /// The path with a named field appended.
    public func field(_ name: String) -> FieldPath {
        FieldPath(components + [.field(name)])
    }

    /// The path with a list index appended.
    public func index(_ i: Int) -> FieldPath {
        FieldPath(components + [.index(i)])
    }

    /// The path with a map key appended.
    public func key(_ k: String) -> FieldPath {
        FieldPath(components + [.key(k)])
    }

    /// Shorthand for ``field(_:)``.
    public static func / (lhs: FieldPath, rhs: String) -> FieldPath { lhs.field(rhs) }

    /// Shorthand for ``index(_:)``.
    public subscript(i: Int) -> FieldPath { index(i) }

    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .field(let name):
                if !out.isEmpty { out += "." }
                out += name
            case .index(let i):
                out += "[\(i)]"
            case .key(let k):
                out += "[\(k)]"
            }
        }
        return out
    }
}
