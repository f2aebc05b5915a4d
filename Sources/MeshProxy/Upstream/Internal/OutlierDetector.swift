/// Envoy's consecutive-error outlier detector for one cluster, evaluated lazily: instead of an
/// interval timer, every call first replays the interval sweeps that are due since the last call
/// (returning hosts whose ejection time has passed and decaying the ejection backoff), so the
/// behaviour is a pure function of the injected clock and random source.
struct OutlierDetector {
    enum EjectionType {
        case consecutive5xx
        case consecutiveGatewayFailure
        case consecutiveLocalOriginFailure
    }

    struct HostState {
        var consecutive5xx: UInt32 = 0
        var consecutiveGatewayFailure: UInt32 = 0
        var consecutiveLocalOriginFailure: UInt32 = 0
        var ejectedAt: ContinuousClock.Instant?
        var ejectionDuration: Duration = .zero
        var backoff = 0
        var numberOfEjections = 0
        var lastUnejectionTick: Int?
    }

    var policy: OutlierDetectionPolicy
    private let origin: ContinuousClock.Instant
    private var processedTicks = 0
    private(set) var hosts: [ObjectIdentifier: HostState] = [:]
    private(set) var ejectedCount = 0

    init(policy: OutlierDetectionPolicy, now: ContinuousClock.Instant) {
        self.policy = policy
        self.origin = now
    }

    func state(of host: UpstreamHost) -> HostState? { hosts[ObjectIdentifier(host)] }

    mutating func addHost(_ host: UpstreamHost) {
        if hosts[ObjectIdentifier(host)] == nil { hosts[ObjectIdentifier(host)] = HostState() }
    }

    mutating func removeHost(_ host: UpstreamHost) {
        if let state = hosts.removeValue(forKey: ObjectIdentifier(host)), state.ejectedAt != nil {
            ejectedCount -= 1
            host.setEjected(false)
        }
    }

    /// Ejects nobody any more (outlier detection removed from the cluster).
    mutating func unejectAll(_ all: [UpstreamHost]) {
        for host in all { host.setEjected(false) }
        hosts = [:]
        ejectedCount = 0
    }

    private func tickTime(_ tick: Int) -> ContinuousClock.Instant { origin + policy.interval * tick }

    /// Replays the interval sweeps due by `now`. Returns whether any host came back.
    mutating func advance(to now: ContinuousClock.Instant, hosts all: [UpstreamHost], stats: UpstreamClusterStats) -> Bool {
        guard now >= origin else { return false }
        let dueTicks = Int((now - origin) / policy.interval)
        guard dueTicks > processedTicks else { return false }
        let hostsByID = Dictionary(all.map { (ObjectIdentifier($0), $0) }, uniquingKeysWith: { first, _ in first })
        let first = processedTicks + 1
        var changed = false
        for (id, var state) in hosts {
            var decayFrom = first
            if let ejectedAt = state.ejectedAt {
                // The first sweep at or after the end of the ejection returns the host.
                let end = ejectedAt + state.ejectionDuration
                let endTick = max(first, Int(((end - origin) / policy.interval).rounded(.up)))
                guard endTick <= dueTicks else { continue }
                state.ejectedAt = nil
                state.consecutive5xx = 0
                state.consecutiveGatewayFailure = 0
                state.consecutiveLocalOriginFailure = 0
                state.lastUnejectionTick = endTick
                ejectedCount -= 1
                hostsByID[id]?.setEjected(false)
                changed = true
                decayFrom = endTick + 1
            }
            // Each later sweep that finds the host healthy, an interval or more after it came back,
            // lowers the backoff by one.
            if state.lastUnejectionTick != nil, state.backoff > 0, decayFrom <= dueTicks {
                state.backoff = max(0, state.backoff - (dueTicks - decayFrom + 1))
            }
            hosts[id] = state
        }
        processedTicks = dueTicks
        stats.set(.outlierEjectionsActive, to: ejectedCount)
        return changed
    }

    /// Counts an outcome for `host`. Returns whether the host was ejected.
    mutating func record(
        _ outcome: UpstreamOutcome,
        for host: UpstreamHost,
        now: ContinuousClock.Instant,
        totalHosts: Int,
        random: () -> UInt64,
        stats: UpstreamClusterStats
    ) -> Bool {
        let id = ObjectIdentifier(host)
        guard hosts[id] != nil else { return false }
        var ejections: [EjectionType] = []
        if policy.splitExternalLocalOriginErrors {
            switch outcome {
            case .httpStatus(let code): putHTTPCode(code, id, &ejections)
            case .localOriginFailure: localOriginFailure(id, &ejections)
            case .connectionEstablished: hosts[id]!.consecutiveLocalOriginFailure = 0
            case .success:
                putHTTPCode(200, id, &ejections)
                hosts[id]!.consecutiveLocalOriginFailure = 0
            }
        } else {
            switch outcome {
            case .httpStatus(let code): putHTTPCode(code, id, &ejections)
            case .localOriginFailure(.timeout): putHTTPCode(504, id, &ejections)
            case .localOriginFailure(.connectFailed), .localOriginFailure(.reset): putHTTPCode(503, id, &ejections)
            case .connectionEstablished: break
            case .success: putHTTPCode(200, id, &ejections)
            }
        }
        var ejected = false
        for type in ejections {
            ejected = onConsecutiveError(type, host: host, now: now, totalHosts: totalHosts, random: random, stats: stats) || ejected
        }
        return ejected
    }

    private mutating func putHTTPCode(_ code: Int, _ id: ObjectIdentifier, _ ejections: inout [EjectionType]) {
        if (500...599).contains(code) {
            if code == 502 || code == 503 || code == 504 {
                hosts[id]!.consecutiveGatewayFailure += 1
                if hosts[id]!.consecutiveGatewayFailure == policy.consecutiveGatewayFailure { ejections.append(.consecutiveGatewayFailure) }
            } else {
                hosts[id]!.consecutiveGatewayFailure = 0
            }
            hosts[id]!.consecutive5xx += 1
            if hosts[id]!.consecutive5xx == policy.consecutive5xx { ejections.append(.consecutive5xx) }
        } else {
            hosts[id]!.consecutive5xx = 0
            hosts[id]!.consecutiveGatewayFailure = 0
        }
    }

    private mutating func localOriginFailure(_ id: ObjectIdentifier, _ ejections: inout [EjectionType]) {
        hosts[id]!.consecutiveLocalOriginFailure += 1
        if hosts[id]!.consecutiveLocalOriginFailure == policy.consecutiveLocalOriginFailure {
            ejections.append(.consecutiveLocalOriginFailure)
        }
    }

    private mutating func onConsecutiveError(
        _ type: EjectionType,
        host: UpstreamHost,
        now: ContinuousClock.Instant,
        totalHosts: Int,
        random: () -> UInt64,
        stats: UpstreamClusterStats
    ) -> Bool {
        let id = ObjectIdentifier(host)
        guard hosts[id]?.ejectedAt == nil else { return false }
        switch type {
        case .consecutive5xx: stats.increment(.outlierEjectionsDetectedConsecutive5xx)
        case .consecutiveGatewayFailure: stats.increment(.outlierEjectionsDetectedConsecutiveGatewayFailure)
        case .consecutiveLocalOriginFailure: stats.increment(.outlierEjectionsDetectedConsecutiveLocalOriginFailure)
        }
        let ejected = eject(type, host: host, now: now, totalHosts: totalHosts, random: random, stats: stats)
        switch type {
        case .consecutive5xx:
            stats.increment(.outlierEjectionsConsecutive5xx)
            hosts[id]!.consecutive5xx = 0
        case .consecutiveGatewayFailure:
            hosts[id]!.consecutiveGatewayFailure = 0
        case .consecutiveLocalOriginFailure:
            hosts[id]!.consecutiveLocalOriginFailure = 0
        }
        return ejected
    }

    private mutating func eject(
        _ type: EjectionType,
        host: UpstreamHost,
        now: ContinuousClock.Instant,
        totalHosts: Int,
        random: () -> UInt64,
        stats: UpstreamClusterStats
    ) -> Bool {
        let id = ObjectIdentifier(host)
        let maxPercent = Double(min(100, policy.maxEjectionPercent))
        let ejectedPercent = 100.0 * Double(ejectedCount + 1) / Double(max(1, totalHosts))
        var shouldEject = ejectedPercent <= maxPercent
        if policy.alwaysEjectOneHost { shouldEject = shouldEject || ejectedCount == 0 }
        guard shouldEject else {
            stats.increment(.outlierEjectionsOverflow)
            return false
        }
        if type == .consecutive5xx { stats.increment(.outlierEjectionsTotal) }
        let enforcing: UInt32
        switch type {
        case .consecutive5xx: enforcing = policy.enforcingConsecutive5xx
        case .consecutiveGatewayFailure: enforcing = policy.enforcingConsecutiveGatewayFailure
        case .consecutiveLocalOriginFailure: enforcing = policy.enforcingConsecutiveLocalOriginFailure
        }
        guard random() % 100 < UInt64(enforcing) else { return false }
        ejectedCount += 1
        stats.increment(.outlierEjectionsEnforcedTotal)
        switch type {
        case .consecutive5xx: stats.increment(.outlierEjectionsEnforcedConsecutive5xx)
        case .consecutiveGatewayFailure: stats.increment(.outlierEjectionsEnforcedConsecutiveGatewayFailure)
        case .consecutiveLocalOriginFailure: stats.increment(.outlierEjectionsEnforcedConsecutiveLocalOriginFailure)
        }
        var state = hosts[id]!
        state.ejectedAt = now
        state.numberOfEjections += 1
        let jitterBound = UInt64(max(0, policy.maxEjectionTimeJitter.milliseconds))
        let jitter = Duration.milliseconds(Int64(random() % (jitterBound + 1)))
        if policy.baseEjectionTime * state.backoff < policy.maxEjectionTime + policy.baseEjectionTime {
            state.backoff += 1
        }
        state.ejectionDuration = policy.ejectionDuration(backoff: state.backoff) + jitter
        hosts[id] = state
        host.setEjected(true)
        stats.set(.outlierEjectionsActive, to: ejectedCount)
        return true
    }
}
