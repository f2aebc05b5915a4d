/// Istio's `VirtualService` spec.
public struct VirtualService: ResourceSpec {
    public static var kind: ResourceKind { .virtualService }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
