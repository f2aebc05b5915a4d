/// Istio's `WorkloadGroup` spec.
public struct WorkloadGroup: ResourceSpec {
    public static var kind: ResourceKind { .workloadGroup }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
