/// Istio's `ProxyConfig` spec.
public struct ProxyConfig: ResourceSpec {
    public static var kind: ResourceKind { .proxyConfig }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
