/// Istio's `Sidecar` spec.
public struct Sidecar: ResourceSpec {
    public static var kind: ResourceKind { .sidecar }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
