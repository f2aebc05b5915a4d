/// Hosts with weights normalised to sum to (at most) 1, the input of ring hash and maglev.
struct NormalizedHostWeights {
    var entries: [(host: UpstreamHost, weight: Double)] = []
    var minimum: Double = 1
    var maximum: Double = 0

    /// Envoy's `normalizeHostWeights`: each host's weight over the sum, scaled by `scale`.
    mutating func add(_ hosts: [UpstreamHost], scale: Double = 1) {
        let sum = hosts.reduce(0.0) { $0 + Double($1.weight) }
        guard sum > 0 else { return }
        for host in hosts {
            let weight = scale * Double(host.weight) / sum
            entries.append((host, weight))
            minimum = min(minimum, weight)
            maximum = max(maximum, weight)
        }
    }

    /// Envoy's `normalizeLocalityWeights`: a locality's share is its weight over all locality weights,
    /// split among its hosts by host weight. Localities of weight zero get nothing.
    static func byLocality(_ hostsPerLocality: [[UpstreamHost]], localityWeights: [UInt32]) -> NormalizedHostWeights {
        var result = NormalizedHostWeights()
        let total = localityWeights.reduce(0.0) { $0 + Double($1) }
        guard total > 0 else {
            result.add(hostsPerLocality.flatMap { $0 })
            return result
        }
        for (hosts, weight) in zip(hostsPerLocality, localityWeights) where weight > 0 {
            result.add(hosts, scale: Double(weight) / total)
        }
        return result
    }
}

/// Envoy's ketama ring: each host gets points in proportion to its normalised weight, at
/// `hash("<key>_<n>")` for n = 0, 1, ... (key: the address as `10.0.0.1:80`, or the hostname with
/// `use_hostname_for_hashing`). A request hash maps to the first point at or after it, wrapping.
struct RingHashTable {
    private(set) var points: [(hash: UInt64, host: UpstreamHost)] = []

    init(_ weights: NormalizedHostWeights, minimumRingSize: UInt64, maximumRingSize: UInt64, function: RingHashFunction, useHostname: Bool) {
        guard !weights.entries.isEmpty, weights.minimum > 0 else { return }
        // Scale so the lightest host gets a whole number of points, bounded by the maximum size.
        let scale = min((weights.minimum * Double(minimumRingSize)).rounded(.up) / weights.minimum, Double(maximumRingSize))
        points.reserveCapacity(Int(scale.rounded(.up)))
        var current = 0.0
        var target = 0.0
        for (host, weight) in weights.entries {
            let key = useHostname && !host.hostname.isEmpty ? host.hostname : host.address.description
            target += scale * weight
            var index = 0
            while current < target {
                let pointKey = "\(key)_\(index)"
                let hash = function == .xxHash ? XXHash64.hash(pointKey) : MurmurHash2.hash(pointKey)
                points.append((hash, host))
                index += 1
                current += 1
            }
        }
        points.sort { $0.hash < $1.hash }
    }

    /// The host for `hash`; `attempt > 0` moves that many points further (retry host predicates).
    func choose(hash: UInt64, attempt: Int) -> UpstreamHost? {
        guard !points.isEmpty else { return nil }
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        var index = low == points.count ? 0 : low
        if attempt > 0 { index = (index + attempt) % points.count }
        return points[index].host
    }
}

/// The Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
/// Balancer", NSDI 2016, pseudocode listing 1) with Envoy's weighting: hosts sorted by key each
/// walk their permutation `(offset + skip × j) mod M`, with `offset = xxHash64(key) mod M` and
/// `skip = xxHash64(key, seed 1) mod (M − 1) + 1`, a lighter host taking a turn less often.
struct MaglevTable {
    let size: UInt64
    private(set) var table: [UpstreamHost] = []

    init(_ weights: NormalizedHostWeights, size: UInt64, useHostname: Bool) {
        self.size = size
        guard !weights.entries.isEmpty, weights.maximum > 0 else { return }
        struct BuildEntry {
            let host: UpstreamHost
            let offset: UInt64
            let skip: UInt64
            let weight: Double
            var targetWeight: Double = 0
            var next: UInt64 = 0
        }
        var entries = weights.entries
            .map { (key: useHostname && !$0.host.hostname.isEmpty ? $0.host.hostname : $0.host.address.description, host: $0.host, weight: $0.weight) }
            .sorted { $0.key < $1.key }
            .map { BuildEntry(host: $0.host, offset: XXHash64.hash($0.key) % size, skip: XXHash64.hash($0.key, seed: 1) % (size - 1) + 1, weight: $0.weight) }
        var slots = [Int](repeating: -1, count: Int(size))
        var filled: UInt64 = 0
        var iteration = 1.0
        while filled < size {
            for index in entries.indices where filled < size {
                if iteration * entries[index].weight < entries[index].targetWeight { continue }
                entries[index].targetWeight += weights.maximum
                var slot = Int((entries[index].offset &+ entries[index].skip &* entries[index].next) % size)
                while slots[slot] >= 0 {
                    entries[index].next += 1
                    slot = Int((entries[index].offset &+ entries[index].skip &* entries[index].next) % size)
                }
                slots[slot] = index
                entries[index].next += 1
                filled += 1
            }
            iteration += 1
        }
        table = slots.map { entries[$0].host }
    }

    /// The host for `hash`; `attempt > 0` flips hash bits as Envoy does for retries.
    func choose(hash: UInt64, attempt: Int) -> UpstreamHost? {
        guard !table.isEmpty else { return nil }
        var value = hash
        if attempt > 0 { value ^= ~UInt64(0) &- UInt64(attempt) &+ 1 }
        return table[Int(value % size)]
    }

    /// Whether `n` is prime (maglev table sizes must be).
    static func isPrime(_ n: UInt64) -> Bool {
        if n < 2 { return false }
        if n < 4 { return true }
        if n % 2 == 0 || n % 3 == 0 { return false }
        var i: UInt64 = 5
        while i * i <= n {
            if n % i == 0 || n % (i + 2) == 0 { return false }
            i += 6
        }
        return true
    }
}
