import MeshProxy
import Testing

@Suite struct ProvidedHostTests {
    @Test func originalDestinationHostsAreReusedAndCleanedUp() throws {
        let clock = ManualUpstreamClock()
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"{"name":"PassthroughCluster","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","cleanup_interval":"10s"}"#))
        #expect(configuration.cleanupInterval == .seconds(10))
        let upstream = UpstreamCluster(configuration: configuration, clock: clock.function)
        let first = try #require(upstream.providedHost(for: .socket(host: "10.0.0.1", port: 80)))
        #expect(upstream.providedHost(for: .socket(host: "10.0.0.1", port: 80)) === first)
        let busy = try #require(upstream.providedHost(for: .socket(host: "10.0.0.2", port: 80)))
        busy.connectionOpened()
        clock.advance(by: .seconds(10))
        _ = upstream.providedHost(for: .socket(host: "10.0.0.3", port: 80))
        // The idle host was forgotten; the one with an open connection stays.
        #expect(upstream.providedHost(for: .socket(host: "10.0.0.1", port: 80)) !== first)
        #expect(upstream.providedHost(for: .socket(host: "10.0.0.2", port: 80)) === busy)
        #expect(upstream.chooseHost() == nil)
    }

    @Test func upstreamPortOverrideApplies() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"{"name":"inbound|9080||","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","original_dst_lb_config":{"upstream_port_override":9080}}"#))
        let upstream = UpstreamCluster(configuration: configuration)
        #expect(upstream.providedHost(for: .socket(host: "127.0.0.1", port: 15006))?.address == .socket(host: "127.0.0.1", port: 9080))
    }

    @Test func balancedClustersDoNotProvideHosts() {
        let upstream = UpstreamCluster(configuration: ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c")))
        #expect(upstream.providedHost(for: .socket(host: "10.0.0.1", port: 80)) == nil)
    }
}
