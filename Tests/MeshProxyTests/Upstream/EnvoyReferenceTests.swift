@testable import MeshProxy
import Testing

/// Ring and table placements checked against the positions Envoy's own load-balancer tests publish
/// for hosts 127.0.0.1:90...95, so a request hash lands on the same host as in Envoy.
@Suite struct EnvoyReferenceTests {
    private func hosts() -> [UpstreamHost] {
        (90...95).map { port in
            UpstreamHost(endpoint: UpstreamEndpoint(address: .socket(host: "127.0.0.1", port: port)), locality: LocalityEndpoints(endpoints: []))
        }
    }

    @Test func ringHashPointsMatchEnvoy() {
        let hosts = hosts()
        var weights = NormalizedHostWeights()
        weights.add(hosts)
        let ring = RingHashTable(weights, minimumRingSize: 12, maximumRingSize: 8_388_608, function: .xxHash, useHostname: false)
        let expected: [(UInt64, Int)] = [
            (833_437_586_790_550_860, 94), (928_266_305_478_181_108, 92), (1_033_482_794_131_418_490, 90),
            (3_551_244_743_356_806_947, 95), (3_851_675_632_748_031_481, 93), (5_583_722_120_771_150_861, 91),
            (6_311_230_543_546_372_928, 91), (7_700_377_290_971_790_572, 93), (13_144_177_310_400_110_813, 95),
            (13_444_792_449_719_432_967, 92), (15_516_499_411_664_133_160, 94), (16_117_243_373_044_804_889, 90),
        ]
        #expect(ring.points.map(\.hash) == expected.map(\.0))
        #expect(ring.points.map { $0.host.address } == expected.map { EndpointAddress.socket(host: "127.0.0.1", port: $0.1) })

        let configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"), loadBalancer: .ringHash(minimumRingSize: 12, maximumRingSize: 8_388_608, hashFunction: .xxHash))
        let endpoints = EndpointSet(clusterName: "c", localities: [LocalityEndpoints(endpoints: (90...95).map { UpstreamEndpoint(address: .socket(host: "127.0.0.1", port: $0)) })])
        let cluster = UpstreamCluster(configuration: configuration, endpoints: endpoints)
        func pick(_ hash: UInt64) -> EndpointAddress? { cluster.chooseHost(HostSelectionContext(hash: hash))?.address }
        #expect(pick(0) == .socket(host: "127.0.0.1", port: 94))
        #expect(pick(.max) == .socket(host: "127.0.0.1", port: 94))
        #expect(pick(3_551_244_743_356_806_947) == .socket(host: "127.0.0.1", port: 95))
        #expect(pick(3_551_244_743_356_806_948) == .socket(host: "127.0.0.1", port: 93))
    }

    @Test func maglevTableMatchesEnvoy() {
        let configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"), loadBalancer: .maglev(tableSize: 7))
        let endpoints = EndpointSet(clusterName: "c", localities: [LocalityEndpoints(endpoints: (90...95).map { UpstreamEndpoint(address: .socket(host: "127.0.0.1", port: $0)) })])
        let cluster = UpstreamCluster(configuration: configuration, endpoints: endpoints)
        let expectedPorts = [92, 94, 90, 91, 95, 90, 93]
        for hash in 0..<21 {
            #expect(cluster.chooseHost(HostSelectionContext(hash: UInt64(hash)))?.address == .socket(host: "127.0.0.1", port: expectedPorts[hash % 7]))
        }
    }
}
