/// A finding reported to a user: an error or warning at a place in a file, about a resource.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How serious a finding is.
    public enum Severity: String, Sendable, Hashable, Codable, Comparable {
        case error = "Error"
        case warning = "Warning"
        case info = "Info"

        private var rank: Int {
            switch self {
            case .error: 0
            case .warning: 1
            case .info: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    public var severity: Severity
    /// File and line, when known.
    public var location: SourceLocation?
    /// The resource the finding concerns, when the document got far enough to name one.
    public var resource: ResourceKey?
    /// The field path within the resource; empty for whole-document problems.
    public var path: FieldPath
    public var message: String

    public init(severity: Severity, location: SourceLocation?, resource: ResourceKey?, path: FieldPath = FieldPath(), message: String) {
        self.severity = severity
        self.location = location
        self.resource = resource
        self.path = path
        self.message = message
    }

    /// `PATH:LINE: [warning: ]Kind namespace/name: field.path: message`.
    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location.description) }
        if severity == .warning { parts.append("warning") }
        if let resource { parts.append(resource.description) }
        if !path.components.isEmpty { parts.append(path.description) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
