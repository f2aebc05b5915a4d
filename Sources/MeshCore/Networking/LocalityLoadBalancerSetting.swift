/// Istio's `LocalityLoadBalancerSetting` message (shared by several kinds).
public struct LocalityLoadBalancerSetting: Sendable, Hashable, Codable {
    public init() {}
}
