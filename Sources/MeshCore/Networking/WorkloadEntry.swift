/// Istio's `WorkloadEntry` spec.
public struct WorkloadEntry: ResourceSpec {
    public static var kind: ResourceKind { .workloadEntry }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
