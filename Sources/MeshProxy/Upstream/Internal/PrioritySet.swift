/// The hosts of one priority, split the way Envoy's `HostSet` splits them.
struct PriorityHostSet {
    var hosts: [UpstreamHost] = []
    var healthy: [UpstreamHost] = []
    var degraded: [UpstreamHost] = []
    var excluded: [UpstreamHost] = []
    var localities: [Locality] = []
    var localityWeights: [UInt32] = []
    var hostsPerLocality: [[UpstreamHost]] = []
    var healthyPerLocality: [[UpstreamHost]] = []
    var degradedPerLocality: [[UpstreamHost]] = []
    var excludedPerLocality: [[UpstreamHost]] = []
    var healthyLocalityScheduler = EDFScheduler<Int>()
    var degradedLocalityScheduler = EDFScheduler<Int>()
    var healthyLocalityWeights: [Double] = []
    var degradedLocalityWeights: [Double] = []

    /// Hosts that count in health ratios (all but the excluded).
    var eligibleCount: Int { hosts.count - excluded.count }

    mutating func add(_ host: UpstreamHost, localityWeight: UInt32?) {
        let locality = host.locality
        var index = localities.firstIndex(of: locality)
        if index == nil {
            localities.append(locality)
            localityWeights.append(localityWeight ?? 0)
            hostsPerLocality.append([])
            healthyPerLocality.append([])
            degradedPerLocality.append([])
            excludedPerLocality.append([])
            index = localities.count - 1
        }
        let i = index!
        hosts.append(host)
        hostsPerLocality[i].append(host)
        switch host.healthStatus.coarseHealth {
        case .excluded:
            excluded.append(host)
            excludedPerLocality[i].append(host)
        case .healthy where !host.isEjected:
            healthy.append(host)
            healthyPerLocality[i].append(host)
        case .degraded where !host.isEjected:
            degraded.append(host)
            degradedPerLocality[i].append(host)
        default:
            break
        }
    }

    /// Envoy's effective locality weight: the configured weight scaled by the locality's
    /// availability, `min(1, overprovisioning × eligible / hosts)`.
    func effectiveLocalityWeight(_ index: Int, eligible: [[UpstreamHost]], overprovisioningFactor: UInt32) -> Double {
        let count = hostsPerLocality[index].count - excludedPerLocality[index].count
        guard count > 0 else { return 0 }
        let ratio = Double(eligible[index].count) / Double(count)
        return min(1.0, Double(overprovisioningFactor) / 100.0 * ratio) * Double(localityWeights[index])
    }

    mutating func buildLocalitySchedulers(overprovisioningFactor: UInt32) {
        healthyLocalityWeights = localities.indices.map { effectiveLocalityWeight($0, eligible: healthyPerLocality, overprovisioningFactor: overprovisioningFactor) }
        degradedLocalityWeights = localities.indices.map { effectiveLocalityWeight($0, eligible: degradedPerLocality, overprovisioningFactor: overprovisioningFactor) }
        healthyLocalityScheduler = EDFScheduler()
        degradedLocalityScheduler = EDFScheduler()
        for index in localities.indices {
            healthyLocalityScheduler.add(index, weight: healthyLocalityWeights[index])
            degradedLocalityScheduler.add(index, weight: degradedLocalityWeights[index])
        }
    }

    /// Envoy's `chooseHealthyLocality` / `chooseDegradedLocality`: an EDF pick over the localities'
    /// effective weights; nil when every locality has weight zero.
    mutating func chooseLocality(degraded: Bool) -> Int? {
        if degraded {
            let weights = degradedLocalityWeights
            return degradedLocalityScheduler.pickAndAdd { weights[$0] }
        }
        let weights = healthyLocalityWeights
        return healthyLocalityScheduler.pickAndAdd { weights[$0] }
    }
}

/// Envoy's per-priority load: how many percent of requests each priority's healthy and degraded
/// hosts take, and which priorities are in panic.
struct PriorityLoad: Equatable {
    var healthy: [Int]
    var degraded: [Int]
    var panic: [Bool]
    /// Each priority's health and degraded health, `min(100, overprovisioning × share)`.
    private(set) var health: [Int] = []
    private(set) var degradedHealth: [Int] = []

    /// Computes the load with Envoy's rules: a priority's health is
    /// `min(100, overprovisioning × healthy / eligible)`; load goes to priorities in order, scaled
    /// when the total is below 100, then degraded hosts take the remainder; rounding goes to the
    /// first available priority. Panic applies per priority only when the normalised total is below
    /// 100, and when every priority panics the load follows host counts.
    init(_ sets: [PriorityHostSet], overprovisioningFactor: UInt32, weightedPriorityHealth: Bool, panicThreshold: Double) {
        let count = sets.count
        healthy = Array(repeating: 0, count: count)
        degraded = Array(repeating: 0, count: count)
        panic = Array(repeating: false, count: count)
        guard count > 0 else { return }
        var health = Array(repeating: 0, count: count)
        var degradedHealth = Array(repeating: 0, count: count)
        for (index, set) in sets.enumerated() where set.eligibleCount > 0 {
            let healthyWeight: UInt64
            let degradedWeight: UInt64
            let totalWeight: UInt64
            if weightedPriorityHealth {
                healthyWeight = set.healthy.reduce(0) { $0 + UInt64($1.weight) }
                degradedWeight = set.degraded.reduce(0) { $0 + UInt64($1.weight) }
                totalWeight = set.hosts.reduce(0) { $0 + UInt64($1.weight) } - set.excluded.reduce(0) { $0 + UInt64($1.weight) }
            } else {
                healthyWeight = UInt64(set.healthy.count)
                degradedWeight = UInt64(set.degraded.count)
                totalWeight = UInt64(set.eligibleCount)
            }
            guard totalWeight > 0 else { continue }
            health[index] = Int(min(100, UInt64(overprovisioningFactor) * healthyWeight / totalWeight))
            degradedHealth[index] = Int(min(100, UInt64(overprovisioningFactor) * degradedWeight / totalWeight))
        }
        self.health = health
        self.degradedHealth = degradedHealth
        let total = min(100, health.reduce(0, +) + degradedHealth.reduce(0, +))
        if total > 0 {
            var remaining = 100
            var firstHealthy = -1
            for index in 0..<count {
                if firstHealthy < 0 && health[index] > 0 { firstHealthy = index }
                healthy[index] = min(remaining, health[index] * 100 / total)
                remaining -= healthy[index]
            }
            var firstDegraded = -1
            for index in 0..<count {
                if firstDegraded < 0 && degradedHealth[index] > 0 { firstDegraded = index }
                degraded[index] = min(remaining, degradedHealth[index] * 100 / total)
                remaining -= degraded[index]
            }
            if remaining > 0 {
                if firstHealthy >= 0 { healthy[firstHealthy] += remaining } else if firstDegraded >= 0 { degraded[firstDegraded] += remaining }
            }
        }
        let threshold = min(100, panicThreshold)
        if threshold == 0 && total == 0 {
            healthy[0] = 100
            return
        }
        var totalPanic = true
        for index in 0..<count {
            if total == 100 {
                panic[index] = false
            } else {
                let eligible = sets[index].eligibleCount
                let available = eligible == 0 ? 0 : 100.0 * Double(sets[index].healthy.count + sets[index].degraded.count) / Double(eligible)
                panic[index] = available < threshold
            }
            totalPanic = totalPanic && panic[index]
        }
        if totalPanic {
            let hostCount = sets.reduce(0) { $0 + $1.hosts.count }
            degraded = Array(repeating: 0, count: count)
            guard hostCount > 0 else {
                healthy = Array(repeating: 0, count: count)
                healthy[0] = 100
                return
            }
            var remaining = 100
            var firstNonEmpty = -1
            for index in 0..<count {
                if firstNonEmpty < 0 && !sets[index].hosts.isEmpty { firstNonEmpty = index }
                healthy[index] = 100 * sets[index].hosts.count / hostCount
                remaining -= healthy[index]
            }
            healthy[firstNonEmpty] += remaining
        }
    }

    /// The load with `excluded` priorities left out (Envoy's `previous_priorities` retry
    /// priority): the others' health spread over 100 % in priority order, healthy before degraded,
    /// the rounding remainder to the first that can take it. Nil when no other priority has any
    /// health, so the unmodified load applies.
    func excluding(_ excluded: Set<UInt32>) -> PriorityLoad? {
        let total = availability(excluding: excluded)
        guard total > 0 else { return nil }
        var adjustedHealth = health, adjustedDegraded = degradedHealth
        for index in health.indices where excluded.contains(UInt32(index)) {
            adjustedHealth[index] = 0
            adjustedDegraded[index] = 0
        }
        var out = self
        out.healthy = Array(repeating: 0, count: health.count)
        out.degraded = Array(repeating: 0, count: health.count)
        var remaining = 100
        while remaining > 0 {
            for index in adjustedHealth.indices {
                let delta = min(remaining, adjustedHealth[index] * 100 / total)
                out.healthy[index] += delta
                remaining -= delta
            }
            for index in adjustedDegraded.indices {
                let delta = min(remaining, adjustedDegraded[index] * 100 / total)
                out.degraded[index] += delta
                remaining -= delta
            }
        }
        return out
    }

    /// The health of the priorities other than `excluded`, summed and capped at 100 (0: none can
    /// take load).
    func availability(excluding excluded: Set<UInt32>) -> Int {
        var total = 0
        for index in health.indices where !excluded.contains(UInt32(index)) { total += health[index] + degradedHealth[index] }
        return min(100, total)
    }

    /// Envoy's `choosePriority`: `hash % 100 + 1` walks the healthy loads, then the degraded ones.
    func choose(_ hash: UInt64) -> (priority: Int, degraded: Bool) {
        let point = Int(hash % 100) + 1
        var aggregate = 0
        for (index, load) in healthy.enumerated() {
            aggregate += load
            if point <= aggregate { return (index, false) }
        }
        for (index, load) in degraded.enumerated() {
            aggregate += load
            if point <= aggregate { return (index, true) }
        }
        return (0, false)
    }
}
