/// The load-balancing policy of a cluster (`lb_policy` with its `*_lb_config`).
public enum LoadBalancerKind: Sendable, Equatable {
    /// `ROUND_ROBIN`: rotation over equal weights; Envoy's earliest-deadline-first schedule
    /// (a smooth weighted round robin) when weights differ.
    case roundRobin
    /// `LEAST_REQUEST`: with equal weights, the fewest active requests among `choiceCount` random
    /// picks (power of N choices); with unequal weights, an EDF schedule on
    /// `weight / (active_requests + 1) ^ activeRequestBias`.
    case leastRequest(choiceCount: Int, activeRequestBias: Double)
    /// `RANDOM`: uniform over the eligible hosts (weights are ignored, as in Envoy).
    case random
    /// `RING_HASH`: a ketama ring of `xxHash64("<address>_<n>")` points, rebuilt when the hosts
    /// or their health change.
    case ringHash(minimumRingSize: UInt64, maximumRingSize: UInt64, hashFunction: RingHashFunction)
    /// `MAGLEV`: the Maglev lookup table of a prime size (Eisenbud et al., NSDI 2016).
    case maglev(tableSize: UInt64)
    /// `CLUSTER_PROVIDED`: the cluster picks the host itself (`ORIGINAL_DST` uses the downstream
    /// connection's original destination, the dynamic forward proxy the request's authority).
    case clusterProvided

    /// Envoy's least-request default: two choices.
    public static let defaultChoiceCount = 2
    /// Envoy's default `active_request_bias`: 1.0.
    public static let defaultActiveRequestBias = 1.0
    /// Envoy's default `minimum_ring_size`: 1024.
    public static let defaultMinimumRingSize: UInt64 = 1024
    /// Envoy's default (and largest) `maximum_ring_size`: 8 M.
    public static let defaultMaximumRingSize: UInt64 = 8 * 1024 * 1024
    /// Envoy's default maglev `table_size`: 65537.
    public static let defaultMaglevTableSize: UInt64 = 65537
    /// The bound Envoy validates maglev table sizes against (`lt: 5000011`).
    public static let maglevTableSizeLimit: UInt64 = 5_000_011

    /// Whether the policy places hosts with a request hash (ring hash and maglev).
    public var isConsistentHashing: Bool {
        switch self {
        case .ringHash, .maglev: true
        default: false
        }
    }
}

/// `RingHashLbConfig.hash_function`.
public enum RingHashFunction: Sendable, Hashable {
    /// `XX_HASH`: xxHash64 with seed 0, Envoy's default.
    case xxHash
    /// `MURMUR_HASH_2`: MurmurHash64A with libstdc++'s seed, as `std::hash` on 64-bit Linux.
    case murmurHash2
}
