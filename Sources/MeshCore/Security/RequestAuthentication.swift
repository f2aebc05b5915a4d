/// Istio's `RequestAuthentication` spec.
public struct RequestAuthentication: ResourceSpec {
    public static var kind: ResourceKind { .requestAuthentication }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
