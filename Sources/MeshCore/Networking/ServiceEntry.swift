/// Istio's `ServiceEntry` spec.
public struct ServiceEntry: ResourceSpec {
    public static var kind: ResourceKind { .serviceEntry }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
