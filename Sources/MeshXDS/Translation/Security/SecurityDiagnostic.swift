public import MeshCore

/// A problem found while translating security policy for one proxy: the policy is applied in a
/// fail-closed form (or not at all) and this says which resource and field and why.
public struct SecurityDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// `Kind/namespace/name` of the policy.
    public var resource: String
    /// The field path inside the resource (`spec.action`).
    public var field: String
    public var message: String

    /// - Parameters:
    ///   - resource: `Kind/namespace/name` of the policy.
    ///   - field: the field path inside it.
    ///   - message: what is wrong and what translation did instead.
    public init(resource: String, field: String, message: String) {
        self.resource = resource
        self.field = field
        self.message = message
    }

    init<Spec: ResourceSpec>(_ resource: Resource<Spec>, field: String, message: String) {
        self.init(resource: "\(Spec.kind.kind)/\(resource.meta.namespace)/\(resource.meta.name)", field: field, message: message)
    }

    public var description: String { "\(resource) \(field): \(message)" }
}
