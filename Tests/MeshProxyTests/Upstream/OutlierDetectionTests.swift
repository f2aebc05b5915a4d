import MeshProxy
import Testing

@Suite struct OutlierDetectionTests {
    private func cluster(
        hosts: Int,
        policy: OutlierDetectionPolicy,
        clock: ManualUpstreamClock = ManualUpstreamClock(),
        random: @escaping @Sendable () -> UInt64 = SeededRandom().function,
        panic: Double = 0
    ) -> UpstreamCluster {
        var configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"))
        configuration.outlierDetection = policy
        configuration.healthyPanicThreshold = panic
        return UpstreamCluster(configuration: configuration, endpoints: Fixtures.set(Fixtures.endpoints(1...hosts)), clock: clock.function, random: random)
    }

    private func policy(_ configure: (inout OutlierDetectionPolicy) -> Void = { _ in }) -> OutlierDetectionPolicy {
        var policy = OutlierDetectionPolicy()
        policy.maxEjectionPercent = 100
        configure(&policy)
        return policy
    }

    private func fail(_ cluster: UpstreamCluster, _ host: UpstreamHost, _ count: Int, status: Int = 500) {
        for _ in 0..<count { cluster.record(.httpStatus(status), for: host) }
    }

    @Test func consecutive5xxEjectsAndSuccessResetsTheCount() {
        let upstream = cluster(hosts: 2, policy: policy())
        let host = upstream.hosts[0]
        fail(upstream, host, 4)
        upstream.record(.httpStatus(200), for: host)
        fail(upstream, host, 4)
        #expect(!upstream.isEjected(host))
        fail(upstream, host, 1)
        #expect(upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsActive) == 1)
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutive5xx) == 1)
        #expect(upstream.stats.value(.outlierEjectionsDetectedConsecutive5xx) == 1)
        #expect(upstream.stats.value(.outlierEjectionsEnforcedTotal) == 1)
        // The ejected host gets no traffic.
        #expect(Fixtures.distribution(upstream, picks: 20) == ["10.0.0.2:8080": 20])
    }

    @Test func ejectionTimeGrowsWithEachEjectionAndDecaysWhenHealthy() {
        let clock = ManualUpstreamClock()
        let upstream = cluster(hosts: 2, policy: policy(), clock: clock)
        let host = upstream.hosts[0]
        // First ejection at t=0 lasts 30 s: back at the sweep at t=30.
        fail(upstream, host, 5)
        clock.advance(by: .seconds(29))
        #expect(upstream.isEjected(host))
        clock.advance(by: .seconds(1))
        #expect(!upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsActive) == 0)
        // Second ejection at t=31 lasts 2 × 30 s: it ends at 91, the next sweep is at t=100.
        clock.advance(by: .seconds(1))
        fail(upstream, host, 5)
        clock.advance(by: .seconds(68))
        #expect(upstream.isEjected(host))
        clock.advance(by: .seconds(1))
        #expect(!upstream.isEjected(host))
        #expect(upstream.ejectionCount(host) == 2)
        // Two healthy sweeps (t=110, 120) bring the multiplier back to zero: the next ejection is 30 s again.
        clock.advance(by: .seconds(25))
        fail(upstream, host, 5)
        clock.advance(by: .seconds(34))
        #expect(upstream.isEjected(host))
        clock.advance(by: .seconds(1))
        #expect(!upstream.isEjected(host))
    }

    @Test func ejectionTimeIsCappedAtMaxEjectionTime() {
        let clock = ManualUpstreamClock()
        let upstream = cluster(hosts: 2, policy: policy { $0.baseEjectionTime = .seconds(10); $0.maxEjectionTime = .seconds(20); $0.interval = .seconds(1) }, clock: clock)
        let host = upstream.hosts[0]
        for _ in 0..<4 {
            fail(upstream, host, 5)
            #expect(upstream.isEjected(host))
            clock.advance(by: .seconds(20))
            #expect(!upstream.isEjected(host))
        }
        #expect(upstream.ejectionCount(host) == 4)
    }

    @Test func gatewayFailuresNeedEnforcementToEject() {
        // Envoy's default enforcing_consecutive_gateway_failure is 0: detected, not ejected.
        let detectOnly = cluster(hosts: 2, policy: policy { $0.consecutiveGatewayFailure = 3 })
        fail(detectOnly, detectOnly.hosts[0], 3, status: 503)
        #expect(!detectOnly.isEjected(detectOnly.hosts[0]))
        #expect(detectOnly.stats.value(.outlierEjectionsDetectedConsecutiveGatewayFailure) == 1)
        #expect(detectOnly.stats.value(.outlierEjectionsEnforcedConsecutiveGatewayFailure) == 0)

        // consecutive_5xx is raised so that only the gateway-failure detector can fire here.
        let enforced = cluster(hosts: 2, policy: policy { $0.consecutiveGatewayFailure = 3; $0.enforcingConsecutiveGatewayFailure = 100; $0.consecutive5xx = 100 })
        let host = enforced.hosts[0]
        fail(enforced, host, 2, status: 502)
        fail(enforced, host, 1, status: 500)  // a non-gateway 5xx resets the gateway count
        fail(enforced, host, 2, status: 504)
        #expect(!enforced.isEjected(host))
        fail(enforced, host, 1, status: 503)
        #expect(enforced.isEjected(host))
        #expect(enforced.stats.value(.outlierEjectionsEnforcedConsecutiveGatewayFailure) == 1)
    }

    @Test func localOriginFailuresCountAsGatewayErrorsWithoutTheSplit() {
        let upstream = cluster(hosts: 2, policy: policy())
        let host = upstream.hosts[0]
        for _ in 0..<3 { upstream.record(.localOriginFailure(.connectFailed), for: host) }
        upstream.record(.localOriginFailure(.reset), for: host)
        #expect(!upstream.isEjected(host))
        upstream.record(.localOriginFailure(.timeout), for: host)
        #expect(upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutive5xx) == 1)
    }

    @Test func splitLocalOriginErrorsHaveTheirOwnCounter() {
        let upstream = cluster(hosts: 2, policy: policy { $0.splitExternalLocalOriginErrors = true; $0.consecutiveLocalOriginFailure = 2 })
        let host = upstream.hosts[0]
        upstream.record(.localOriginFailure(.connectFailed), for: host)
        upstream.record(.connectionEstablished, for: host)
        upstream.record(.localOriginFailure(.timeout), for: host)
        // 5xx responses do not touch the local-origin count.
        fail(upstream, host, 4)
        #expect(!upstream.isEjected(host))
        upstream.record(.localOriginFailure(.reset), for: host)
        #expect(upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutiveLocalOriginFailure) == 1)
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutive5xx) == 0)
    }

    @Test func enforcementPercentageUsesTheRandomSource() {
        // Calls: the cluster's seed, then per detection the enforcement draw and (if ejected) the jitter draw.
        let random = ScriptedRandom([0, 70, 10, 0])
        let upstream = cluster(hosts: 2, policy: policy { $0.enforcingConsecutive5xx = 50 }, random: random.function)
        let host = upstream.hosts[0]
        fail(upstream, host, 5)  // draw 70: 70 % 100 ≥ 50, not enforced
        #expect(!upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsDetectedConsecutive5xx) == 1)
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutive5xx) == 0)
        fail(upstream, host, 5)  // draw 10: enforced
        #expect(upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsDetectedConsecutive5xx) == 2)
        #expect(upstream.stats.value(.outlierEjectionsEnforcedConsecutive5xx) == 1)
    }

    @Test func maxEjectionPercentIsHonoured() {
        let upstream = cluster(hosts: 10, policy: policy { $0.maxEjectionPercent = 20 })
        let hosts = upstream.hosts
        for host in hosts.prefix(3) { fail(upstream, host, 5) }
        #expect(hosts.prefix(3).map { upstream.isEjected($0) } == [true, true, false])
        #expect(upstream.stats.value(.outlierEjectionsOverflow) == 1)
        #expect(upstream.stats.value(.outlierEjectionsActive) == 2)
    }

    @Test func defaultTenPercentEjectsNothingInSmallClustersUnlessAlwaysEjectOneHost() {
        var defaults = OutlierDetectionPolicy()
        let small = cluster(hosts: 5, policy: defaults)
        fail(small, small.hosts[0], 5)
        #expect(!small.isEjected(small.hosts[0]))
        #expect(small.stats.value(.outlierEjectionsOverflow) == 1)
        defaults.alwaysEjectOneHost = true
        let always = cluster(hosts: 5, policy: defaults)
        fail(always, always.hosts[0], 5)
        fail(always, always.hosts[1], 5)
        #expect(always.isEjected(always.hosts[0]))
        #expect(!always.isEjected(always.hosts[1]))
    }

    @Test func ejectedHostsCountAsUnhealthyForPanic() {
        let upstream = cluster(hosts: 4, policy: policy(), panic: 50)
        for host in upstream.hosts.prefix(3) { fail(upstream, host, 5) }
        // One of four available: panic, so every host (ejected ones too) is eligible again.
        #expect(upstream.priorityLoad.panic == [true])
        #expect(Fixtures.distribution(upstream, picks: 40).count == 4)
    }

    @Test func ejectionSurvivesEndpointUpdatesWhileTheHostStays() {
        let upstream = cluster(hosts: 3, policy: policy())
        let host = upstream.hosts[0]
        fail(upstream, host, 5)
        upstream.update(endpoints: Fixtures.set(Fixtures.endpoints(1...4)))
        #expect(upstream.hosts[0] === host)
        #expect(upstream.isEjected(host))
        #expect(upstream.stats.value(.outlierEjectionsActive) == 1)
        upstream.update(endpoints: Fixtures.set(Fixtures.endpoints(2...4)))
        #expect(upstream.stats.value(.outlierEjectionsActive) == 0)
    }

    @Test func removingOutlierDetectionReturnsEjectedHosts() {
        let upstream = cluster(hosts: 2, policy: policy())
        let host = upstream.hosts[0]
        fail(upstream, host, 5)
        #expect(upstream.isEjected(host))
        upstream.update(configuration: ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c")))
        #expect(!upstream.isEjected(host))
        #expect(Fixtures.distribution(upstream, picks: 10).count == 2)
    }
}
