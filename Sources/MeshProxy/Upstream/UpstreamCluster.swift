import Foundation
import Synchronization

/// One upstream cluster at run time: its configuration, its hosts, load balancing with Envoy's
/// semantics, circuit breakers, outlier detection and stats.
///
/// All state sits behind one lock; nothing here touches sockets or timers. Time and randomness are
/// injected, so selection and ejection are deterministic under a manual clock and a seeded source.
///
/// ```swift
/// let cluster = UpstreamCluster(configuration: try ClusterConfiguration(cds), endpoints: try EndpointSet(eds))
/// guard let host = cluster.chooseHost(HostSelectionContext()) else { /* 503, flag UH */ }
/// host.requestStarted(); defer { host.requestFinished() }
/// cluster.record(.httpStatus(503), for: host)
/// ```
///
/// Host selection follows Envoy: a priority is chosen from the per-priority load (healthy share ×
/// overprovisioning factor, spilling to lower priorities), hosts in panic are all eligible,
/// locality-weighted balancing picks a locality by effective weight first, then the policy picks a
/// host. `CLUSTER_PROVIDED` clusters (original destination, dynamic forward proxy) return nil from
/// ``chooseHost(_:)``: the engine takes the destination from the connection or request and asks
/// ``providedHost(for:hostname:)`` for the host.
public final class UpstreamCluster: Sendable {
    /// Counters and gauges under Envoy's names.
    public let stats: UpstreamClusterStats
    /// `DEFAULT`-priority circuit breakers.
    public let circuitBreakers: CircuitBreakerCounters

    private let clock: @Sendable () -> ContinuousClock.Instant
    private let random: @Sendable () -> UInt64
    private let state: Mutex<State>

    private enum SourceKey: Hashable {
        case all(Int)
        case healthy(Int)
        case degraded(Int)
        case localityHealthy(Int, Int)
        case localityDegraded(Int, Int)
    }

    private struct State {
        var configuration: ClusterConfiguration
        var endpoints: EndpointSet
        var hosts: [UpstreamHost] = []
        var hostsByAddress: [EndpointAddress: UpstreamHost] = [:]
        var outlier: OutlierDetector?
        var dirty = true
        var sets: [PriorityHostSet] = []
        var load = PriorityLoad([], overprovisioningFactor: 140, weightedPriorityHealth: false, panicThreshold: 50)
        var roundRobinIndexes: [SourceKey: UInt64] = [:]
        var schedulers: [SourceKey: EDFScheduler<UpstreamHost>] = [:]
        var rings: [RingHashTable] = []
        var maglevs: [MaglevTable] = []
        /// When each host still in (or past) slow start was added; hosts of the first assignment are absent.
        var addedAt: [ObjectIdentifier: ContinuousClock.Instant] = [:]
        var latestHostAdded: ContinuousClock.Instant?
        var initialized = false
        /// ORIGINAL_DST and dynamic-forward-proxy hosts by address, with when they were last handed out.
        var providedHosts: [EndpointAddress: (host: UpstreamHost, lastUsed: ContinuousClock.Instant)] = [:]
        var lastProvidedSweep: ContinuousClock.Instant?
        let seed: UInt64
    }

    /// - Parameters:
    ///   - configuration: The cluster from CDS.
    ///   - endpoints: Its endpoints (EDS, or the cluster's own `load_assignment`); nil starts empty
    ///     or with the inline endpoints of STATIC and DNS clusters.
    ///   - clock: The monotonic time source (outlier ejection and recovery).
    ///   - random: The random source (priority and host picks, enforcement percentages, jitter).
    public init(
        configuration: ClusterConfiguration,
        endpoints: EndpointSet? = nil,
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        random: @escaping @Sendable () -> UInt64 = { UInt64.random(in: .min ... .max) }
    ) {
        self.clock = clock
        self.random = random
        let counters = CircuitBreakerCounters(thresholds: configuration.circuitBreakers)
        self.circuitBreakers = counters
        self.stats = UpstreamClusterStats(clusterName: configuration.statName, circuitBreakers: counters)
        counters.attach(stats: stats)
        let initial = endpoints ?? configuration.discovery.inlineEndpoints ?? EndpointSet(clusterName: configuration.name, localities: [])
        var state = State(configuration: configuration, endpoints: EndpointSet(clusterName: initial.clusterName, localities: []), seed: random())
        if let policy = configuration.outlierDetection {
            state.outlier = OutlierDetector(policy: policy, now: clock())
        }
        self.state = Mutex(state)
        update(endpoints: initial)
    }

    /// The configuration in force.
    public var configuration: ClusterConfiguration { state.withLock { $0.configuration } }

    /// Whether some priority other than `excluded` has healthy or degraded hosts to take load
    /// (what a `previous_priorities` retry needs; without one it starts over).
    func hasAvailablePriority(excluding excluded: Set<UInt32>) -> Bool {
        state.withLock { $0.load.availability(excluding: excluded) > 0 }
    }

    /// How the cluster finds its hosts (without copying the whole configuration).
    var discovery: ClusterConfiguration.Discovery { state.withLock { $0.configuration.discovery } }

    /// Whether any connection of the cluster may use TLS (its transport socket or a
    /// `transport_socket_matches` entry), read without copying the whole configuration.
    var mayUseTLS: Bool { state.withLock { !$0.configuration.transportSocketMatches.isEmpty || $0.configuration.transportSocket != .plaintext } }

    /// The endpoints in force.
    public var endpoints: EndpointSet { state.withLock { $0.endpoints } }

    /// The hosts, in assignment order.
    public var hosts: [UpstreamHost] { state.withLock { $0.hosts } }

    /// Applies a CDS update. Hosts, their counters and their outlier state are kept; load-balancer
    /// structures are rebuilt. (Envoy rebuilds a changed cluster from scratch; keeping host state
    /// lets in-flight accounting and ejections carry over.) A STATIC or DNS cluster also takes
    /// changed inline endpoints.
    /// - Parameter configuration: The new configuration (same cluster name).
    public func update(configuration: ClusterConfiguration) {
        let now = clock()
        let oldInline = state.withLock { $0.configuration.discovery.inlineEndpoints }
        state.withLock { state in
            let oldPolicy = state.configuration.outlierDetection
            state.configuration = configuration
            switch (oldPolicy, configuration.outlierDetection) {
            case (_, nil):
                state.outlier?.unejectAll(state.hosts)
                state.outlier = nil
                stats.set(.outlierEjectionsActive, to: 0)
            case (nil, let policy?):
                var detector = OutlierDetector(policy: policy, now: now)
                for host in state.hosts { detector.addHost(host) }
                state.outlier = detector
            case (_?, let policy?):
                state.outlier?.policy = policy
            }
            state.roundRobinIndexes = [:]
            state.dirty = true
        }
        circuitBreakers.update(thresholds: configuration.circuitBreakers)
        // Unchanged inline endpoints keep the hosts in force (a DNS cluster's resolved addresses).
        if let inline = configuration.discovery.inlineEndpoints, inline != oldInline {
            update(endpoints: inline)
        }
    }

    /// Applies an EDS update (or resolved DNS results). Hosts whose address stays keep their
    /// identity, counters and outlier state; their weight, locality, priority, health and metadata
    /// are updated in place.
    /// - Parameter endpoints: The new assignment.
    public func update(endpoints: EndpointSet) {
        let now = clock()
        state.withLock { state in
            stats.increment(.updateAttempt)
            var hosts: [UpstreamHost] = []
            var byAddress: [EndpointAddress: UpstreamHost] = [:]
            for (endpoint, locality) in endpoints.allEndpoints where byAddress[endpoint.address] == nil {
                let host: UpstreamHost
                if let existing = state.hostsByAddress[endpoint.address] {
                    existing.update(endpoint: endpoint, locality: locality)
                    host = existing
                } else {
                    host = UpstreamHost(endpoint: endpoint, locality: locality)
                    state.outlier?.addHost(host)
                    if state.initialized, state.configuration.slowStart != nil, host.healthStatus.coarseHealth == .healthy {
                        state.addedAt[ObjectIdentifier(host)] = now
                        state.latestHostAdded = now
                    }
                }
                byAddress[endpoint.address] = host
                hosts.append(host)
            }
            var membershipChanged = hosts.count != state.hosts.count
            for old in state.hosts where byAddress[old.address] !== old {
                state.outlier?.removeHost(old)
                state.addedAt[ObjectIdentifier(old)] = nil
                membershipChanged = true
            }
            if membershipChanged { stats.increment(.membershipChange) }
            if hosts.isEmpty { stats.increment(.updateEmpty) }
            state.hosts = hosts
            state.hostsByAddress = byAddress
            state.endpoints = endpoints
            state.initialized = true
            state.dirty = true
            if let outlier = state.outlier { stats.set(.outlierEjectionsActive, to: outlier.ejectedCount) }
            rebuild(&state)
            stats.increment(.updateSuccess)
        }
    }

    /// Picks a host for a request, or nil when there is none (Envoy's "no healthy upstream").
    ///
    /// With ``HostSelectionContext/previousHosts``, a pick that was already tried is redrawn up to
    /// ``HostSelectionContext/hostSelectionRetryMaxAttempts`` times; the last pick is used anyway.
    /// - Parameter context: The request hash and previous attempts.
    public func chooseHost(_ context: HostSelectionContext = HostSelectionContext()) -> UpstreamHost? {
        let now = clock()
        return state.withLock { state -> UpstreamHost? in
            refresh(&state, now: now)
            let attempts = context.hasPredicates ? context.hostSelectionRetryMaxAttempts + 1 : 1
            let load = context.excludedPriorities.isEmpty ? state.load : state.load.excluding(context.excludedPriorities) ?? state.load
            switch state.configuration.loadBalancer {
            case .clusterProvided:
                return nil
            case .ringHash, .maglev:
                let hash = context.hash ?? random()
                let priority = load.choose(hash).priority
                if load.panic[priority] { stats.increment(.lbHealthyPanic) }
                var host: UpstreamHost?
                for attempt in 0..<attempts {
                    if case .maglev = state.configuration.loadBalancer {
                        host = state.maglevs[priority].choose(hash: hash, attempt: attempt)
                    } else {
                        host = state.rings[priority].choose(hash: hash, attempt: attempt)
                    }
                    guard let chosen = host, context.rejects(chosen) else { break }
                }
                return host
            case .roundRobin, .leastRequest, .random:
                var host: UpstreamHost?
                for _ in 0..<attempts {
                    host = chooseOnce(&state, load: load, now: now)
                    guard let chosen = host, context.rejects(chosen) else { break }
                }
                return host
            }
        }
    }

    /// The host for a destination the cluster itself provides: the original destination of an
    /// `ORIGINAL_DST` cluster (with `upstream_port_override` applied) or a resolved address of the
    /// dynamic forward proxy. The same address yields the same host, so connection pools, stats and
    /// outlier state attach to it; a host unused for `cleanup_interval` with no requests or
    /// connections is forgotten, as Envoy's cleanup timer does.
    /// - Parameters:
    ///   - address: The destination.
    ///   - hostname: The requested hostname (dynamic forward proxy), for SNI and host rewrites.
    /// - Returns: The host, or nil when the cluster is not `CLUSTER_PROVIDED`.
    public func providedHost(for address: EndpointAddress, hostname: String = "") -> UpstreamHost? {
        let now = clock()
        return state.withLock { state -> UpstreamHost? in
            guard state.configuration.loadBalancer == .clusterProvided else { return nil }
            var target = address
            if case .originalDestination = state.configuration.discovery,
               let port = state.configuration.originalDestination.upstreamPortOverride,
               case .socket(let host, _) = address {
                target = .socket(host: host, port: Int(port))
            }
            let interval = state.configuration.cleanupInterval
            if now - (state.lastProvidedSweep ?? now) >= interval {
                for (key, entry) in state.providedHosts
                where now - entry.lastUsed >= interval && entry.host.activeRequests == 0 && entry.host.activeConnections == 0 && key != target {
                    state.providedHosts[key] = nil
                    state.outlier?.removeHost(entry.host)
                }
                state.lastProvidedSweep = now
            } else if state.lastProvidedSweep == nil {
                state.lastProvidedSweep = now
            }
            if let existing = state.providedHosts[target] {
                state.providedHosts[target] = (existing.host, now)
                return existing.host
            }
            let host = UpstreamHost(endpoint: UpstreamEndpoint(address: target, hostname: hostname), locality: LocalityEndpoints(endpoints: []))
            state.providedHosts[target] = (host, now)
            state.outlier?.addHost(host)
            stats.set(.membershipTotal, to: state.providedHosts.count)
            stats.set(.membershipHealthy, to: state.providedHosts.count)
            return host
        }
    }

    /// Counts a request attempt's outcome for outlier detection; may eject the host.
    /// - Parameters:
    ///   - outcome: What happened.
    ///   - host: The host the attempt went to.
    public func record(_ outcome: UpstreamOutcome, for host: UpstreamHost) {
        host.count(outcome)
        let now = clock()
        state.withLock { state in
            guard state.outlier != nil else { return }
            refresh(&state, now: now, rebuild: false)
            let total = state.hosts.count + state.providedHosts.count
            if state.outlier!.record(outcome, for: host, now: now, totalHosts: total, random: random, stats: stats) {
                state.dirty = true
            }
        }
    }

    /// Whether outlier detection currently ejects `host` (evaluated at the injected clock's now).
    /// - Parameter host: A host of this cluster.
    public func isEjected(_ host: UpstreamHost) -> Bool {
        let now = clock()
        return state.withLock { state in
            refresh(&state, now: now, rebuild: false)
            return host.isEjected
        }
    }

    /// How many times outlier detection has ejected `host` (0 for unknown hosts).
    /// - Parameter host: A host of this cluster.
    public func ejectionCount(_ host: UpstreamHost) -> Int {
        state.withLock { $0.outlier?.state(of: host)?.numberOfEjections ?? 0 }
    }

    /// The drop category when `policy.drop_overloads` drops this request, else nil (counts
    /// `upstream_rq_drop_overload`).
    public func dropOverloadCategory() -> String? {
        let drops = state.withLock { $0.endpoints.dropOverloads }
        for drop in drops where drop.numerator > 0 {
            if random() % UInt64(drop.denominator) < UInt64(drop.numerator) {
                stats.increment(.upstreamRqDropOverload)
                return drop.category
            }
        }
        return nil
    }

    /// The per-priority healthy and degraded load percentages and panic flags (for `/clusters`).
    public var priorityLoad: (healthy: [Int], degraded: [Int], panic: [Bool]) {
        let now = clock()
        return state.withLock { state in
            refresh(&state, now: now)
            return (state.load.healthy, state.load.degraded, state.load.panic)
        }
    }

    /// The cluster as Envoy's admin `/clusters` text lists it: thresholds, then one line per host
    /// counter and attribute (`<cluster>::<address>::<name>::<value>`).
    /// - Parameter addedViaAPI: Whether the cluster came from CDS (`added_via_api`).
    public func adminText(addedViaAPI: Bool = true) -> String {
        let configuration = configuration
        let name = configuration.name
        var lines = ["\(name)::observability_name::\(configuration.statName)"]
        for (label, limits) in [("default_priority", configuration.circuitBreakers), ("high_priority", configuration.highPriorityCircuitBreakers)] {
            lines.append("\(name)::\(label)::max_connections::\(limits.maxConnections)")
            lines.append("\(name)::\(label)::max_pending_requests::\(limits.maxPendingRequests)")
            lines.append("\(name)::\(label)::max_requests::\(limits.maxRequests)")
            lines.append("\(name)::\(label)::max_retries::\(limits.maxRetries)")
        }
        lines.append("\(name)::added_via_api::\(addedViaAPI)")
        let now = clock()
        let all: [UpstreamHost] = state.withLock { state in
            refresh(&state, now: now, rebuild: false)
            return state.hosts + state.providedHosts.values.map(\.host).sorted { $0.address.description < $1.address.description }
        }
        for host in all {
            let prefix = "\(name)::\(host.address)::"
            let counters = host.counters
            let locality = host.locality
            lines += [
                "cx_active::\(host.activeConnections)", "cx_connect_fail::\(counters.connectFailures)",
                "cx_total::\(counters.connectionsTotal)", "rq_active::\(host.activeRequests)",
                "rq_error::\(counters.requestErrors)", "rq_success::\(counters.requestSuccesses)",
                "rq_timeout::\(counters.requestTimeouts)", "rq_total::\(counters.requestsTotal)",
                "hostname::\(host.hostname)", "health_flags::\(host.healthFlags)", "weight::\(host.weight)",
                "region::\(locality.region)", "zone::\(locality.zone)", "sub_zone::\(locality.subZone)",
                "canary::\(host.isCanary)", "priority::\(host.priority)", "success_rate::-1", "local_origin_success_rate::-1",
            ].map { prefix + $0 }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Internals

    private func refresh(_ state: inout State, now: ContinuousClock.Instant, rebuild: Bool = true) {
        if var outlier = state.outlier {
            if outlier.advance(to: now, hosts: state.hosts, stats: stats) { state.dirty = true }
            state.outlier = outlier
        }
        if rebuild && state.dirty { self.rebuild(&state) }
    }

    private func rebuild(_ state: inout State) {
        let configuration = state.configuration
        let factor = state.endpoints.overprovisioningFactor
        var weights: [Locality: UInt32] = [:]
        var maxPriority = 0
        for locality in state.endpoints.localities {
            maxPriority = max(maxPriority, Int(locality.priority))
            if let weight = locality.loadBalancingWeight, weights[locality.locality] == nil { weights[locality.locality] = weight }
        }
        var sets = Array(repeating: PriorityHostSet(), count: state.hosts.isEmpty ? 1 : maxPriority + 1)
        var healthyCount = 0, degradedCount = 0, excludedCount = 0
        for host in state.hosts {
            let priority = Int(host.priority)
            if priority >= sets.count { sets += Array(repeating: PriorityHostSet(), count: priority + 1 - sets.count) }
            sets[priority].add(host, localityWeight: weights[host.locality])
        }
        for index in sets.indices {
            sets[index].buildLocalitySchedulers(overprovisioningFactor: factor)
            healthyCount += sets[index].healthy.count
            degradedCount += sets[index].degraded.count
            excludedCount += sets[index].excluded.count
        }
        state.sets = sets
        state.load = PriorityLoad(sets, overprovisioningFactor: factor, weightedPriorityHealth: state.endpoints.weightedPriorityHealth, panicThreshold: configuration.healthyPanicThreshold)
        state.schedulers = [:]
        state.rings = []
        state.maglevs = []
        switch configuration.loadBalancer {
        case .ringHash(let minimum, let maximum, let function):
            state.rings = sets.indices.map { RingHashTable(hashWeights(sets[$0], panic: state.load.panic[$0], configuration), minimumRingSize: minimum, maximumRingSize: maximum, function: function, useHostname: configuration.useHostnameForHashing) }
        case .maglev(let size):
            state.maglevs = sets.indices.map { MaglevTable(hashWeights(sets[$0], panic: state.load.panic[$0], configuration), size: size, useHostname: configuration.useHostnameForHashing) }
        default:
            break
        }
        stats.set(.membershipTotal, to: state.hosts.count)
        stats.set(.membershipHealthy, to: healthyCount)
        stats.set(.membershipDegraded, to: degradedCount)
        stats.set(.membershipExcluded, to: excludedCount)
        state.dirty = false
    }

    /// The thread-aware balancers' host weights: all hosts in panic, else the healthy ones, by
    /// locality weight when locality-weighted balancing is on.
    private func hashWeights(_ set: PriorityHostSet, panic: Bool, _ configuration: ClusterConfiguration) -> NormalizedHostWeights {
        if configuration.localityWeightedBalancing {
            return NormalizedHostWeights.byLocality(panic ? set.hostsPerLocality : set.healthyPerLocality, localityWeights: set.localityWeights)
        }
        var weights = NormalizedHostWeights()
        weights.add(panic ? set.hosts : set.healthy)
        return weights
    }

    private func hosts(_ source: SourceKey, _ state: State) -> [UpstreamHost] {
        switch source {
        case .all(let p): state.sets[p].hosts
        case .healthy(let p): state.sets[p].healthy
        case .degraded(let p): state.sets[p].degraded
        case .localityHealthy(let p, let l): state.sets[p].healthyPerLocality[l]
        case .localityDegraded(let p, let l): state.sets[p].degradedPerLocality[l]
        }
    }

    private func chooseOnce(_ state: inout State, load: PriorityLoad, now: ContinuousClock.Instant) -> UpstreamHost? {
        let configuration = state.configuration
        // A constant: a `var` captured by `warmed` below would be boxed on the heap for every pick.
        let slowStart: ClusterConfiguration.SlowStart? =
            if let config = configuration.slowStart, let latest = state.latestHostAdded, now - latest <= config.window { config } else { nil }
        let (priority, degraded) = load.choose(random())
        let source: SourceKey
        if load.panic[priority] {
            stats.increment(.lbHealthyPanic)
            source = .all(priority)
        } else if configuration.localityWeightedBalancing,
                  let locality = state.sets[priority].chooseLocality(degraded: degraded) {
            source = degraded ? .localityDegraded(priority, locality) : .localityHealthy(priority, locality)
        } else {
            source = degraded ? .degraded(priority) : .healthy(priority)
        }
        let candidates = hosts(source, state)
        guard !candidates.isEmpty else { return nil }
        // Envoy uses the EDF schedule when weights differ or any host is warming up.
        let equalWeights = slowStart == nil && candidates.allSatisfy { $0.weight == candidates[0].weight }
        let addedAt = state.addedAt
        func warmed(_ host: UpstreamHost, _ weight: Double) -> Double {
            guard let slowStart, let added = addedAt[ObjectIdentifier(host)] else { return weight }
            return weight * slowStart.factor(elapsed: now - added)
        }
        switch configuration.loadBalancer {
        case .random:
            return candidates[Int(random() % UInt64(candidates.count))]
        case .roundRobin:
            if equalWeights {
                let index = state.roundRobinIndexes[source] ?? state.seed
                state.roundRobinIndexes[source] = index &+ 1
                return candidates[Int(index % UInt64(candidates.count))]
            }
            return pickScheduled(&state, source, candidates) { warmed($0, Double($0.weight)) }
        case .leastRequest(let choiceCount, let bias):
            if equalWeights {
                var best: UpstreamHost?
                for _ in 0..<choiceCount {
                    let sampled = candidates[Int(random() % UInt64(candidates.count))]
                    if let current = best, sampled.activeRequests >= current.activeRequests { continue }
                    best = sampled
                }
                return best
            }
            return pickScheduled(&state, source, candidates) { host in
                let active = Double(max(0, host.activeRequests) + 1)
                if bias == 0 { return warmed(host, Double(host.weight)) }
                return warmed(host, bias == 1 ? Double(host.weight) / active : Double(host.weight) / pow(active, bias))
            }
        case .ringHash, .maglev, .clusterProvided:
            return nil
        }
    }

    private func pickScheduled(_ state: inout State, _ source: SourceKey, _ candidates: [UpstreamHost], weight: (UpstreamHost) -> Double) -> UpstreamHost? {
        if state.schedulers[source] == nil {
            var scheduler = EDFScheduler<UpstreamHost>()
            for host in candidates { scheduler.add(host, weight: weight(host)) }
            // A random number of initial picks, so proxies do not all start on the same host.
            for _ in 0..<Int(state.seed % UInt64(candidates.count)) { _ = scheduler.pickAndAdd(weight: weight) }
            state.schedulers[source] = scheduler
        }
        return state.schedulers[source]!.pickAndAdd(weight: weight)
    }
}
