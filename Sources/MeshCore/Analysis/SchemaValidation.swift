extension AnalysisMessageType {
    /// IST0106: a resource fails Istio's schema validation.
    public static let schemaValidationError = AnalysisMessageType(code: "IST0106", name: "SchemaValidationError", severity: .error)
    /// IST0133: a resource draws a schema validation warning.
    public static let schemaWarning = AnalysisMessageType(code: "IST0133", name: "SchemaWarning", severity: .warning)
}

extension AnalysisMessage {
    /// Wraps a decoding or validation finding as IST0106 (errors) or IST0133 (warnings), the way
    /// `istioctl analyze` reports them.
    public static func schemaValidation(_ d: Diagnostic) -> AnalysisMessage {
        let detail = d.path.components.isEmpty ? d.message : "\(d.path): \(d.message)"
        if d.severity == .error {
            return AnalysisMessage(.schemaValidationError, resource: d.resource, location: d.location, path: d.path,
                                   message: "Schema validation error: \(detail)")
        }
        return AnalysisMessage(.schemaWarning, resource: d.resource, location: d.location, path: d.path,
                               message: "Schema validation warning: \(detail)")
    }
}
