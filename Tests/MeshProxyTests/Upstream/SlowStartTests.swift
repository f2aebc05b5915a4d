import MeshProxy
import Testing

@Suite struct SlowStartTests {
    @Test func convertsIstioWarmup() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"c","type":"EDS","eds_cluster_config":{"eds_config":{"ads":{}}},
             "round_robin_lb_config":{"slow_start_config":{"slow_start_window":"60s","aggression":{"default_value":1.5,"runtime_key":"istio.warmup.aggression"},"min_weight_percent":{"value":20}}}}
            """#))
        #expect(configuration.slowStart == .init(window: .seconds(60), aggression: 1.5, minimumWeightPercent: 20))
        let leastRequest = try ClusterConfiguration(Fixtures.cluster(#"{"name":"c","type":"STATIC","lb_policy":"LEAST_REQUEST","least_request_lb_config":{"slow_start_config":{"slow_start_window":"10s"}}}"#))
        #expect(leastRequest.slowStart == .init(window: .seconds(10)))
        let zero = try ClusterConfiguration(Fixtures.cluster(#"{"name":"c","type":"STATIC","round_robin_lb_config":{"slow_start_config":{"slow_start_window":"0s"}}}"#))
        #expect(zero.slowStart == nil)
    }

    @Test func factorRampsFromTheFloorToFullWeight() {
        let linear = ClusterConfiguration.SlowStart(window: .seconds(60))
        #expect(linear.factor(elapsed: .seconds(3)) == 0.1)
        #expect(linear.factor(elapsed: .seconds(30)) == 0.5)
        #expect(linear.factor(elapsed: .seconds(60)) == 1)
        let aggressive = ClusterConfiguration.SlowStart(window: .seconds(100), aggression: 2)
        #expect(abs(aggressive.factor(elapsed: .seconds(25)) - 0.5) < 1e-9)
    }

    @Test func newHostWarmsUpUnderRoundRobin() {
        let clock = ManualUpstreamClock()
        var configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"))
        configuration.slowStart = .init(window: .seconds(60))
        let upstream = UpstreamCluster(configuration: configuration, endpoints: Fixtures.set(Fixtures.endpoints(1...2)), clock: clock.function, random: SeededRandom().function)
        upstream.update(endpoints: Fixtures.set(Fixtures.endpoints(1...3)))
        clock.advance(by: .seconds(30))
        // Host 3 at half weight: 0.5 / 2.5 = 20 % of picks.
        let warming = Fixtures.distribution(upstream, picks: 1000)
        #expect(abs(warming["10.0.0.3:8080", default: 0] - 200) <= 10, "\(warming)")
        clock.advance(by: .seconds(31))
        let warm = Fixtures.distribution(upstream, picks: 900)
        #expect(abs(warm["10.0.0.3:8080", default: 0] - 300) <= 10, "\(warm)")
    }
}
