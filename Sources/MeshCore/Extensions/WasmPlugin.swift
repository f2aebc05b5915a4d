/// Istio's `WasmPlugin` spec.
public struct WasmPlugin: ResourceSpec {
    public static var kind: ResourceKind { .wasmPlugin }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
