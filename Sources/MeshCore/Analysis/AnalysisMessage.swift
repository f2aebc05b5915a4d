/// A message type from Istio's analysis catalogue: its `IST0xxx` code, name and severity.
public struct AnalysisMessageType: Sendable, Hashable {
    /// The code, e.g. `IST0101`.
    public let code: String
    /// Istio's name for it, e.g. `ReferencedResourceNotFound`.
    public let name: String
    public let severity: Diagnostic.Severity

    public init(code: String, name: String, severity: Diagnostic.Severity) {
        self.code = code
        self.name = name
        self.severity = severity
    }
}

/// One finding of cross-resource analysis, in the shape `istioctl analyze` prints.
public struct AnalysisMessage: Sendable, Hashable, CustomStringConvertible {
    public var type: AnalysisMessageType
    /// The resource the message is about; nil for a file that never got as far as naming one.
    public var resource: ResourceKey?
    /// Where that resource (or the offending field) was read from.
    public var location: SourceLocation?
    /// The field the message concerns, when one does.
    public var path: FieldPath
    public var message: String

    public init(_ type: AnalysisMessageType, resource: ResourceKey?, location: SourceLocation? = nil, path: FieldPath = FieldPath(), message: String) {
        self.type = type
        self.resource = resource
        self.location = location
        self.path = path
        self.message = message
    }

    public var severity: Diagnostic.Severity { type.severity }

    /// `Error [IST0101] (VirtualService default/reviews file.yaml:12) Referenced host not found: "ratingz"`.
    public var description: String {
        // Cluster-scoped objects (a Namespace) have no namespace to print.
        var subject = resource.map { $0.namespace.isEmpty ? "\($0.kind.kind) \($0.name)" : "\($0.kind.kind) \($0.namespace)/\($0.name)" } ?? ""
        if let location { subject += subject.isEmpty ? "\(location)" : " \(location)" }
        return "\(type.severity.rawValue) [\(type.code)] (\(subject)) \(message)"
    }
}

extension AnalysisMessage {
    /// Errors first, then by resource, code and text.
    public static func displayOrder(_ a: AnalysisMessage, _ b: AnalysisMessage) -> Bool {
        let ka = a.resource?.description ?? "", kb = b.resource?.description ?? ""
        return (a.severity, ka, a.type.code, a.message) < (b.severity, kb, b.type.code, b.message)
    }
}
