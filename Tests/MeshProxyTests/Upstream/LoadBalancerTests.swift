@testable import MeshProxy
import SwiftProtobuf
import Testing

@Suite struct LoadBalancerTests {
    private func cluster(_ kind: LoadBalancerKind, _ endpoints: EndpointSet, panic: Double = 50, localityWeighted: Bool = false, random: SeededRandom = SeededRandom()) -> UpstreamCluster {
        var configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"), loadBalancer: kind)
        configuration.healthyPanicThreshold = panic
        configuration.localityWeightedBalancing = localityWeighted
        return UpstreamCluster(configuration: configuration, endpoints: endpoints, random: random.function)
    }

    @Test func roundRobinRotatesOverEqualWeights() {
        let upstream = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...3)))
        let picks = (0..<9).map { _ in upstream.chooseHost()!.address.description }
        #expect(Fixtures.distribution(upstream, picks: 300) == ["10.0.0.1:8080": 100, "10.0.0.2:8080": 100, "10.0.0.3:8080": 100])
        // A strict rotation: every window of three has all three hosts.
        for start in stride(from: 0, to: 9, by: 3) { #expect(Set(picks[start..<start + 3]).count == 3) }
    }

    @Test func weightedRoundRobinFollowsWeightsSmoothly() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1, weight: 5), Fixtures.endpoint(2, weight: 3), Fixtures.endpoint(3, weight: 2)])
        let upstream = cluster(.roundRobin, Fixtures.set(locality))
        let counts = Fixtures.distribution(upstream, picks: 1000)
        #expect(approximately(counts["10.0.0.1:8080"], 500) && approximately(counts["10.0.0.2:8080"], 300) && approximately(counts["10.0.0.3:8080"], 200), "\(counts)")
        // Smooth: the heaviest host never runs more than twice in a row.
        let sequence = (0..<20).map { _ in upstream.chooseHost()!.address.description }
        for index in 2..<sequence.count { #expect(!(sequence[index] == sequence[index - 1] && sequence[index] == sequence[index - 2])) }
    }

    @Test func leastRequestPrefersIdleHost() {
        let upstream = cluster(.leastRequest(choiceCount: 2, activeRequestBias: 1), Fixtures.set(Fixtures.endpoints(1...2)))
        let busy = upstream.hosts[0]
        for _ in 0..<10 { busy.requestStarted() }
        let counts = Fixtures.distribution(upstream, picks: 1000)
        // With two choices the busy host wins only when both samples land on it (about 1 in 4).
        let busyShare = counts["10.0.0.1:8080", default: 0]
        #expect(busyShare < 350 && busyShare > 150, "\(counts)")
        // With more choices than hosts it is almost never chosen.
        let many = cluster(.leastRequest(choiceCount: 10, activeRequestBias: 1), Fixtures.set(Fixtures.endpoints(1...2)))
        for _ in 0..<10 { many.hosts[0].requestStarted() }
        #expect(Fixtures.distribution(many, picks: 1000)["10.0.0.1:8080", default: 0] < 5)
    }

    @Test func weightedLeastRequestDividesWeightByActiveRequests() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1, weight: 2), Fixtures.endpoint(2, weight: 1)])
        let upstream = cluster(.leastRequest(choiceCount: 2, activeRequestBias: 1), Fixtures.set(locality))
        // Idle: 2:1 by weight.
        let idle = Fixtures.distribution(upstream, picks: 300)
        #expect(approximately(idle["10.0.0.1:8080"], 200) && approximately(idle["10.0.0.2:8080"], 100), "\(idle)")
        // Host 1 with 3 active requests has effective weight 2/4 against 1/1: host 2 gets about 2/3.
        for _ in 0..<3 { upstream.hosts[0].requestStarted() }
        let loaded = Fixtures.distribution(upstream, picks: 300)
        #expect(loaded["10.0.0.2:8080", default: 0] > loaded["10.0.0.1:8080", default: 0])
    }

    @Test func randomIsRoughlyUniform() {
        let upstream = cluster(.random, Fixtures.set(Fixtures.endpoints(1...4)))
        let counts = Fixtures.distribution(upstream, picks: 4000)
        #expect(counts.count == 4)
        for (_, count) in counts { #expect(count > 850 && count < 1150, "\(counts)") }
    }

    @Test(arguments: [LoadBalancerKind.ringHash(minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: .xxHash), .ringHash(minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: .murmurHash2), .maglev(tableSize: 65537)])
    func consistentHashingIsStableAndMovesLittle(_ kind: LoadBalancerKind) {
        let upstream = cluster(kind, Fixtures.set(Fixtures.endpoints(1...5)))
        let hashes = (0..<2000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        let before = hashes.map { upstream.chooseHost(HostSelectionContext(hash: $0))!.address }
        // Same hash, same host.
        #expect(hashes.map { upstream.chooseHost(HostSelectionContext(hash: $0))!.address } == before)
        // Spread over all hosts, roughly evenly.
        let spread = Dictionary(grouping: before, by: { $0 }).mapValues(\.count)
        #expect(spread.count == 5)
        for (_, count) in spread { #expect(count > 250 && count < 550, "\(spread)") }
        // Removing one host moves all of its requests and few others. (Envoy's ring gives the
        // remaining hosts more points when one leaves, so a small share moves between them too.)
        upstream.update(endpoints: Fixtures.set(LocalityEndpoints(endpoints: [1, 2, 3, 5].map { Fixtures.endpoint($0) })))
        let after = hashes.map { upstream.chooseHost(HostSelectionContext(hash: $0))!.address }
        let removed = EndpointAddress.socket(host: "10.0.0.4", port: 8080)
        var movedFromRemaining = 0
        for (old, new) in zip(before, after) {
            #expect(new != removed)
            if old != removed && old != new { movedFromRemaining += 1 }
        }
        let share = Double(movedFromRemaining) / Double(hashes.count)
        print("consistent hashing \(kind): \(movedFromRemaining) of \(hashes.count) requests moved between remaining hosts")
        #expect(share < 0.2, "\(movedFromRemaining) requests moved between remaining hosts")
        // Adding it back restores the original placement exactly.
        upstream.update(endpoints: Fixtures.set(Fixtures.endpoints(1...5)))
        #expect(hashes.map { upstream.chooseHost(HostSelectionContext(hash: $0))!.address } == before)
    }

    @Test func ringHashRetryAvoidsPreviousHost() {
        let upstream = cluster(.ringHash(minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: .xxHash), Fixtures.set(Fixtures.endpoints(1...3)))
        let first = upstream.chooseHost(HostSelectionContext(hash: 12345))!
        let retry = upstream.chooseHost(HostSelectionContext(hash: 12345, previousHosts: [first], hostSelectionRetryMaxAttempts: 5))!
        #expect(retry != first)
        let maglev = cluster(.maglev(tableSize: 65537), Fixtures.set(Fixtures.endpoints(1...3)))
        let firstMaglev = maglev.chooseHost(HostSelectionContext(hash: 12345))!
        #expect(maglev.chooseHost(HostSelectionContext(hash: 12345, previousHosts: [firstMaglev], hostSelectionRetryMaxAttempts: 5))! != firstMaglev)
    }

    @Test func roundRobinRetryAvoidsPreviousHost() {
        let upstream = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...2)))
        let host = upstream.hosts[0]
        for _ in 0..<10 {
            #expect(upstream.chooseHost(HostSelectionContext(previousHosts: [host], hostSelectionRetryMaxAttempts: 1)) != host)
        }
        // With no extra attempts allowed the previous host can come back.
        let single = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...1)))
        #expect(single.chooseHost(HostSelectionContext(previousHosts: single.hosts)) == single.hosts[0])
    }

    @Test func canaryAndMetadataPredicatesSkipHosts() {
        let canary = Google_Protobuf_Struct(fields: ["canary": Google_Protobuf_Value(boolValue: true), "stage": Google_Protobuf_Value(stringValue: "beta")])
        let endpoints = [
            UpstreamEndpoint(address: .socket(host: "10.0.0.1", port: 8080), healthStatus: .healthy, metadata: ["envoy.lb": canary]),
            Fixtures.endpoint(2),
        ]
        let upstream = cluster(.roundRobin, Fixtures.set(LocalityEndpoints(endpoints: endpoints)))
        let marked = upstream.hosts.first { $0.isCanary }
        #expect(marked?.address == .socket(host: "10.0.0.1", port: 8080))
        // Applied from the first attempt on, for as many picks as allowed.
        var omitCanary = HostSelectionContext(hostSelectionRetryMaxAttempts: 3)
        omitCanary.predicates = [.omitCanaryHosts]
        var omitBeta = HostSelectionContext(hostSelectionRetryMaxAttempts: 3)
        omitBeta.predicates = [.omitHostMetadata(["stage": Google_Protobuf_Value(stringValue: "beta")])]
        var omitOther = HostSelectionContext(hostSelectionRetryMaxAttempts: 3)
        omitOther.predicates = [.omitHostMetadata(["stage": Google_Protobuf_Value(stringValue: "ga")])]
        var chosenWithoutCanary: Set<String> = [], chosenWithoutBeta: Set<String> = [], chosenOtherwise: Set<String> = []
        for _ in 0..<10 { chosenWithoutCanary.insert(upstream.chooseHost(omitCanary)!.description) }
        for _ in 0..<10 { chosenWithoutBeta.insert(upstream.chooseHost(omitBeta)!.description) }
        for _ in 0..<10 { chosenOtherwise.insert(upstream.chooseHost(omitOther)!.description) }
        // A list on the host matches when any element does.
        let listed = Google_Protobuf_Struct(fields: ["stage": Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: [
            Google_Protobuf_Value(stringValue: "alpha"), Google_Protobuf_Value(stringValue: "beta")]))])
        let listHost = cluster(.roundRobin, Fixtures.set(LocalityEndpoints(endpoints: [
            UpstreamEndpoint(address: .socket(host: "10.0.0.3", port: 8080), healthStatus: .healthy, metadata: ["envoy.lb": listed])])))
        #expect(RetryHostPredicate.omitHostMetadata(["stage": Google_Protobuf_Value(stringValue: "beta")]).rejects(listHost.hosts[0], previousHosts: []))
        #expect(!RetryHostPredicate.omitHostMetadata(["stage": Google_Protobuf_Value(stringValue: "ga")]).rejects(listHost.hosts[0], previousHosts: []))
        #expect(chosenWithoutCanary == ["10.0.0.2:8080"])
        #expect(chosenWithoutBeta == ["10.0.0.2:8080"])
        #expect(chosenOtherwise == ["10.0.0.1:8080", "10.0.0.2:8080"])
    }

    /// `previous_priorities`: the load of the priorities left out goes to the others by health.
    @Test func excludedPrioritiesSpreadTheLoadOverTheRest() {
        let p0 = LocalityEndpoints(priority: 0, endpoints: [Fixtures.endpoint(1)])
        let p1 = LocalityEndpoints(priority: 1, endpoints: [Fixtures.endpoint(2), Fixtures.endpoint(3, health: .unhealthy)])
        let p2 = LocalityEndpoints(priority: 2, endpoints: [Fixtures.endpoint(4)])
        let upstream = cluster(.roundRobin, Fixtures.set(p0, p1, p2))
        #expect(upstream.priorityLoad.healthy == [100, 0, 0])
        var context = HostSelectionContext()
        context.excludedPriorities = [0]
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[upstream.chooseHost(context)!.description, default: 0] += 1 }
        // Priority 1 has health 70 (140 × 1/2), priority 2 has 100: 70 % and 30 % after capping at 100.
        #expect(counts["10.0.0.1:8080"] == nil)
        #expect((counts["10.0.0.2:8080"] ?? 0) > 100 && (counts["10.0.0.4:8080"] ?? 0) > 25, "\(counts)")
        #expect(upstream.hasAvailablePriority(excluding: [0]))
        #expect(!upstream.hasAvailablePriority(excluding: [0, 1, 2]))
        // Every priority left out: the unmodified load applies.
        context.excludedPriorities = [0, 1, 2]
        #expect(upstream.chooseHost(context)?.description == "10.0.0.1:8080")
    }

    @Test func weightedMaglevFollowsWeights() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1, weight: 3), Fixtures.endpoint(2, weight: 1)])
        let upstream = cluster(.maglev(tableSize: 65537), Fixtures.set(locality))
        let counts = Dictionary(grouping: (0..<4000).map { upstream.chooseHost(HostSelectionContext(hash: UInt64($0) &* 0x9E37_79B9_7F4A_7C15))!.address.description }, by: { $0 }).mapValues(\.count)
        #expect(counts["10.0.0.1:8080", default: 0] > 2700 && counts["10.0.0.1:8080", default: 0] < 3300, "\(counts)")
    }

    @Test func healthyPriorityTakesAllTraffic() {
        let upstream = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...2, priority: 0), Fixtures.endpoints(3...4, priority: 1)))
        #expect(upstream.priorityLoad.healthy == [100, 0])
        #expect(Set(Fixtures.distribution(upstream, picks: 100).keys) == ["10.0.0.1:8080", "10.0.0.2:8080"])
    }

    @Test func prioritySpillsOverWithOverprovisioning() {
        // P0: 1 of 2 healthy → health 140 × 1/2 = 70 %; P1 takes the other 30 %.
        let p0 = LocalityEndpoints(priority: 0, endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2, health: .unhealthy)])
        let upstream = cluster(.roundRobin, Fixtures.set(p0, Fixtures.endpoints(3...4, priority: 1)))
        #expect(upstream.priorityLoad.healthy == [70, 30])
        #expect(upstream.priorityLoad.panic == [false, false])
        let counts = Fixtures.distribution(upstream, picks: 10000)
        #expect(counts["10.0.0.2:8080"] == nil)
        let p0Share = counts["10.0.0.1:8080", default: 0]
        #expect(p0Share > 6700 && p0Share < 7300, "\(counts)")
        // Three of four healthy: 140 × 3/4 = 105 → capped at 100, nothing spills.
        let mostly = cluster(.roundRobin, Fixtures.set(LocalityEndpoints(priority: 0, endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2), Fixtures.endpoint(3), Fixtures.endpoint(4, health: .unhealthy)]), Fixtures.endpoints(5...6, priority: 1)))
        #expect(mostly.priorityLoad.healthy == [100, 0])
    }

    @Test func priorityLoadIsScaledWhenTotalHealthIsLow() {
        // P0 1/4 healthy → 35; P1 1/4 healthy → 35; total 70 → scaled to 50/50.
        let p0 = LocalityEndpoints(priority: 0, endpoints: [Fixtures.endpoint(1)] + (2...4).map { Fixtures.endpoint($0, health: .unhealthy) })
        let p1 = LocalityEndpoints(priority: 1, endpoints: [Fixtures.endpoint(5)] + (6...8).map { Fixtures.endpoint($0, health: .unhealthy) })
        let upstream = cluster(.roundRobin, Fixtures.set(p0, p1), panic: 0)
        #expect(upstream.priorityLoad.healthy == [50, 50])
        #expect(Set(Fixtures.distribution(upstream, picks: 200).keys) == ["10.0.0.1:8080", "10.0.0.5:8080"])
    }

    @Test func panicThresholdBalancesOverAllHosts() {
        // 1 of 4 healthy: 25 % < 50 % panic threshold, and total health 35 < 100 → panic.
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1)] + (2...4).map { Fixtures.endpoint($0, health: .unhealthy) })
        let upstream = cluster(.roundRobin, Fixtures.set(locality))
        #expect(upstream.priorityLoad.panic == [true])
        #expect(Fixtures.distribution(upstream, picks: 400).count == 4)
        #expect(upstream.stats.value(.lbHealthyPanic) == 400)
        // With the threshold at 0 panic is off: only the healthy host serves.
        let noPanic = cluster(.roundRobin, Fixtures.set(locality), panic: 0)
        #expect(Fixtures.distribution(noPanic, picks: 40) == ["10.0.0.1:8080": 40])
        // All unhealthy and panic disabled: nothing to choose.
        let dead = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...2, health: .unhealthy)), panic: 0)
        #expect(dead.chooseHost() == nil)
    }

    @Test func degradedHostsTakeTheLoadHealthyHostsCannot() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2, health: .degraded), Fixtures.endpoint(3, health: .degraded), Fixtures.endpoint(4, health: .degraded)])
        let upstream = cluster(.roundRobin, Fixtures.set(locality))
        // Healthy health 35, degraded health 100 → total capped 100: healthy 35, degraded 65.
        #expect(upstream.priorityLoad.healthy == [35])
        #expect(upstream.priorityLoad.degraded == [65])
    }

    @Test func drainingHostsAreExcludedFromHealthAndSelection() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2, health: .draining), Fixtures.endpoint(3, health: .draining)])
        let upstream = cluster(.roundRobin, Fixtures.set(locality, Fixtures.endpoints(4...4, priority: 1)))
        #expect(upstream.priorityLoad.healthy == [100, 0])
        #expect(Fixtures.distribution(upstream, picks: 10) == ["10.0.0.1:8080": 10])
        #expect(upstream.stats.value(.membershipExcluded) == 2)
    }

    @Test func localityWeightedBalancingSplitsByLocalityWeight() {
        let a = LocalityEndpoints(locality: Locality(region: "r", zone: "a"), loadBalancingWeight: 3, endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2)])
        let b = LocalityEndpoints(locality: Locality(region: "r", zone: "b"), loadBalancingWeight: 1, endpoints: [Fixtures.endpoint(3)])
        let upstream = cluster(.roundRobin, Fixtures.set(a, b), localityWeighted: true)
        let counts = Fixtures.distribution(upstream, picks: 400)
        #expect(approximately(counts["10.0.0.3:8080"], 100), "\(counts)")
        #expect(approximately(counts["10.0.0.1:8080"], 150) && approximately(counts["10.0.0.2:8080"], 150), "\(counts)")
        // Without locality weighting every host gets a third.
        let flat = cluster(.roundRobin, Fixtures.set(a, b))
        #expect(approximately(Fixtures.distribution(flat, picks: 300)["10.0.0.3:8080"], 100))
    }

    @Test func localityWeightFollowsLocalityHealth() {
        // Locality a: 1 of 4 healthy → availability min(1, 1.4 × 1/4) = 0.35 → effective 0.35; b: 1.
        let a = LocalityEndpoints(locality: Locality(zone: "a"), loadBalancingWeight: 1, endpoints: [Fixtures.endpoint(1)] + (2...4).map { Fixtures.endpoint($0, health: .unhealthy) })
        let b = LocalityEndpoints(locality: Locality(zone: "b"), loadBalancingWeight: 1, endpoints: (5...8).map { Fixtures.endpoint($0) })
        let upstream = cluster(.roundRobin, Fixtures.set(a, b), localityWeighted: true)
        let counts = Fixtures.distribution(upstream, picks: 1350)
        #expect(approximately(counts["10.0.0.1:8080"], 350), "\(counts)")
    }

    @Test func hostIdentityAndStateSurviveEndpointUpdates() {
        let upstream = cluster(.roundRobin, Fixtures.set(Fixtures.endpoints(1...3)))
        let original = upstream.hosts
        original[1].requestStarted()
        upstream.update(endpoints: Fixtures.set(LocalityEndpoints(endpoints: [Fixtures.endpoint(2, weight: 7), Fixtures.endpoint(3), Fixtures.endpoint(4)])))
        let updated = upstream.hosts
        #expect(updated[0] === original[1])
        #expect(updated[1] === original[2])
        #expect(updated[0].activeRequests == 1)
        #expect(updated[0].weight == 7)
        #expect(!updated.contains(original[0]))
        #expect(upstream.stats.value(.membershipTotal) == 3)
        #expect(upstream.stats.value(.membershipChange) >= 1)
    }

    @Test func emptyClusterChoosesNothing() {
        let upstream = cluster(.roundRobin, Fixtures.set())
        #expect(upstream.chooseHost() == nil)
        let provided = UpstreamCluster(configuration: ClusterConfiguration(name: "o", discovery: .originalDestination, loadBalancer: .clusterProvided))
        #expect(provided.chooseHost() == nil)
    }

    @Test func dropOverloadDropsItsShare() {
        var set = Fixtures.set(Fixtures.endpoints(1...1))
        set.dropOverloads = [.init(category: "lb", numerator: 25, denominator: 100)]
        let upstream = cluster(.roundRobin, set)
        let dropped = (0..<4000).filter { _ in upstream.dropOverloadCategory() != nil }.count
        #expect(dropped > 850 && dropped < 1150)
        #expect(upstream.stats.value(.upstreamRqDropOverload) == UInt64(dropped))
    }

    private func approximately(_ value: Int?, _ expected: Int, tolerance: Int = 2) -> Bool {
        guard let value else { return false }
        return abs(value - expected) <= tolerance
    }
}
