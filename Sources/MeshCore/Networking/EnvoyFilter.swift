/// Istio's `EnvoyFilter` spec.
public struct EnvoyFilter: ResourceSpec {
    public static var kind: ResourceKind { .envoyFilter }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
