/// Istio's `Telemetry` spec.
public struct Telemetry: ResourceSpec {
    public static var kind: ResourceKind { .telemetry }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
