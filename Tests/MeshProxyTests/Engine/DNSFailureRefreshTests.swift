@testable import MeshProxy
import Testing

/// `dns_failure_refresh_rate` on STRICT_DNS / LOGICAL_DNS clusters: validation as Envoy's, and
/// the wait before the next resolution after failures (Envoy's jittered exponential backoff,
/// reset by a success).
@Suite struct DNSFailureRefreshTests {
    private static func cluster(_ extra: String, type: String = "STRICT_DNS") throws -> ClusterConfiguration {
        try ClusterConfiguration(Fixtures.cluster(#"{"name":"ext","type":"\#(type)","dns_refresh_rate":"30s"\#(extra),"load_assignment":{"cluster_name":"ext","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"a.example.com","port_value":80}}}}]}]}}"#))
    }

    private static func resolution(_ configuration: ClusterConfiguration) -> ClusterConfiguration.DNSResolution? {
        configuration.discovery.dnsResolution?.1
    }

    @Test func settingsAndValidation() throws {
        #expect(Self.resolution(try Self.cluster(""))?.failureRefresh == nil)
        let defaulted = Self.resolution(try Self.cluster(#","dns_failure_refresh_rate":{"base_interval":"2s"}"#, type: "LOGICAL_DNS"))
        #expect(defaulted?.failureRefresh == ClusterConfiguration.FailureRefreshRate(base: .seconds(2), max: .seconds(20)))
        let explicit = Self.resolution(try Self.cluster(#","dns_failure_refresh_rate":{"base_interval":"0.5s","max_interval":"4s"}"#))
        #expect(explicit?.failureRefresh == ClusterConfiguration.FailureRefreshRate(base: .milliseconds(500), max: .seconds(4)))
        for bad in [#"{"max_interval":"4s"}"#, #"{"base_interval":"0.001s"}"#, #"{"base_interval":"5s","max_interval":"4s"}"#] {
            #expect(throws: ProxyConfigurationError.self, "\(bad)") { _ = try Self.cluster(#","dns_failure_refresh_rate":"# + bad) }
        }
    }

    @Test func failuresBackOffExponentiallyWithJitterAndASuccessResets() throws {
        let resolution = try #require(Self.resolution(try Self.cluster(#","dns_failure_refresh_rate":{"base_interval":"1s","max_interval":"5s"}"#)))
        var next: UInt64?
        // The largest random value shows each bound: random % interval < interval.
        let largest: () -> UInt64 = { UInt64.max }
        var waits: [Duration] = []
        for _ in 0..<5 { waits.append(ClusterRuntime.nextRefresh(resolution, failed: true, &next, random: largest)) }
        // Bounds 1 s, 2 s, 4 s, then capped at 5 s.
        #expect(waits == [1000, 2000, 4000, 5000, 5000].map { .milliseconds(UInt64.max % $0) })
        for wait in waits { #expect(wait < .seconds(5)) }
        #expect(ClusterRuntime.nextRefresh(resolution, failed: false, &next) == .seconds(30))
        #expect(next == nil)
        #expect(ClusterRuntime.nextRefresh(resolution, failed: true, &next, random: { 999 }) == .milliseconds(999))
        #expect(ClusterRuntime.nextRefresh(resolution, failed: true, &next, random: { 1999 }) == .milliseconds(1999))
    }

    @Test func withoutAFailureRateFailuresWaitTheRefreshRate() async throws {
        let runtime = ClusterRuntime(configuration: try Self.cluster(""), endpoints: nil, resolvesDNS: false)
        defer { runtime.shutdown() }
        #expect(await runtime.refreshDNS(resolver: { _, _ in [] }) == .seconds(30))
        let backingOff = ClusterRuntime(configuration: try Self.cluster(#","dns_failure_refresh_rate":{"base_interval":"2s"}"#), endpoints: nil, resolvesDNS: false)
        defer { backingOff.shutdown() }
        let failedWait = try #require(await backingOff.refreshDNS(resolver: { _, _ in [] }))
        #expect(failedWait < .seconds(2))
        #expect(await backingOff.refreshDNS(resolver: { _, _ in ["10.0.0.1"] }) == .seconds(30))
        #expect(backingOff.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.1", port: 80)])
    }
}
