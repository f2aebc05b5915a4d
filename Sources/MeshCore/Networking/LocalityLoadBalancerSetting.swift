/// Istio's `LocalityLoadBalancerSetting`: locality-weighted distribution or failover.
///
/// Localities are `region/zone/sub-zone`, optionally ending in a `*` wildcard. Used by
/// DestinationRule load balancer settings and mesh config.
public struct LocalityLoadBalancerSetting: Sendable, Hashable, Codable {
    /// Traffic from `from` is split across the `to` localities by weight (summing to 100).
    public struct Distribute: Sendable, Hashable, Codable {
        public var from: String?
        public var to: [String: UInt32]?

        public init(from: String? = nil, to: [String: UInt32]? = nil) {
            self.from = from
            self.to = to
        }
    }

    /// When endpoints in region `from` are unhealthy, traffic goes to region `to`.
    public struct Failover: Sendable, Hashable, Codable {
        public var from: String?
        public var to: String?

        public init(from: String? = nil, to: String? = nil) {
            self.from = from
            self.to = to
        }
    }

    public var distribute: [Distribute]?
    public var failover: [Failover]?
    /// Ordered label keys used to prioritise endpoints during failover.
    public var failoverPriority: [String]?
    /// Turns locality load balancing on or off (overrides the mesh setting).
    public var enabled: Bool?

    public init(distribute: [Distribute]? = nil, failover: [Failover]? = nil, failoverPriority: [String]? = nil, enabled: Bool? = nil) {
        self.distribute = distribute
        self.failover = failover
        self.failoverPriority = failoverPriority
        self.enabled = enabled
    }
}
