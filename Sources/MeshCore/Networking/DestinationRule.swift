/// Istio's `DestinationRule` spec.
public struct DestinationRule: ResourceSpec {
    public static var kind: ResourceKind { .destinationRule }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
