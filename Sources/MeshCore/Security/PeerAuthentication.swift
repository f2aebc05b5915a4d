/// Istio's `PeerAuthentication` spec.
public struct PeerAuthentication: ResourceSpec {
    public static var kind: ResourceKind { .peerAuthentication }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult {
        ValidationResult()
    }
}
