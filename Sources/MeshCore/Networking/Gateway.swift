/// Istio's `Gateway` spec.
public struct Gateway: ResourceSpec {
    public static var kind: ResourceKind { .gateway }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
