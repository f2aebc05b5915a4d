extension AnalysisMessageType {
    /// IST0106: a resource fails Istio's schema validation.
    public static let schemaValidationError = AnalysisMessageType(code: "IST0106", name: "SchemaValidationError", severity: .error)
    /// A validation warning, reported by Istio under the same code with Warning level.
    public static let schemaValidationWarning = AnalysisMessageType(code: "IST0106", name: "SchemaValidationError", severity: .warning)
}

extension AnalysisMessage {
    /// Wraps a decoding or validation finding as IST0106, the way `istioctl analyze` reports it.
    public static func schemaValidation(_ d: Diagnostic) -> AnalysisMessage {
        let detail = d.path.components.isEmpty ? d.message : "\(d.path): \(d.message)"
        return AnalysisMessage(d.severity == .warning ? .schemaValidationWarning : .schemaValidationError,
                               resource: d.resource, location: d.location, path: d.path,
                               message: "Schema validation error: \(detail)")
    }
}
