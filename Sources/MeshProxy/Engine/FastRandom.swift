import Synchronization

/// Cheap uniform 64-bit values for per-request decisions (weighted clusters, percentages,
/// load-balancer picks, request IDs): SplitMix64 over a process-wide atomic counter, seeded once
/// from the system generator. Not for secrets — `SystemRandomNumberGenerator` costs a
/// `getrandom` system call per value, which showed up in the proxy's profile.
enum FastRandom {
    private static let state = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    /// The next value.
    static func next() -> UInt64 {
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
