/// Istio's `AuthorizationPolicy` spec.
public struct AuthorizationPolicy: ResourceSpec {
    public static var kind: ResourceKind { .authorizationPolicy }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
