/// Istio's `telemetry.ProviderAnalyzer`: when MeshConfig names no default access-logging
/// provider, an enabled `accessLogging` entry without `providers` does nothing (IST0157).
public struct TelemetryProviderAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "telemetry.ProviderAnalyzer" }

    public var reports: [AnalysisMessageType] { [.invalidTelemetryProvider] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        guard (context.mesh.defaultProviders?.accessLogging ?? []).isEmpty else { return [] }
        var messages: [AnalysisMessage] = []
        for telemetry in context.resources(Telemetry.self).sorted(by: { $0.key < $1.key }) {
            for (i, logging) in (telemetry.spec.accessLogging ?? []).enumerated() {
                guard logging.disabled != true, (logging.providers ?? []).isEmpty else { continue }
                messages.append(AnalysisMessage(
                    .invalidTelemetryProvider, resource: telemetry.key, location: telemetry.source,
                    path: FieldPath("spec.accessLogging")[i],
                    message: "The Telemetry \(telemetry.meta.name) in namespace \(PolicyAnalysisSupport.quoted(telemetry.meta.namespace)) with empty providers will be ignored."))
            }
        }
        return messages
    }
}
