import MeshProxy
import Testing

@Suite struct AdminTextTests {
    @Test func clustersTextListsThresholdsAndHosts() {
        var configuration = ClusterConfiguration(name: "outbound|80||a", discovery: .eds(serviceName: "a"))
        configuration.outlierDetection = {
            var policy = OutlierDetectionPolicy()
            policy.maxEjectionPercent = 100
            return policy
        }()
        let endpoints = EndpointSet(clusterName: "a", localities: [
            LocalityEndpoints(locality: Locality(region: "r1", zone: "z1"), endpoints: [Fixtures.endpoint(1, port: 80), Fixtures.endpoint(2, port: 80, weight: 3, health: .degraded)]),
        ])
        let upstream = UpstreamCluster(configuration: configuration, endpoints: endpoints)
        let host = upstream.hosts[0]
        host.connectionOpened()
        host.requestStarted()
        upstream.record(.httpStatus(200), for: host)
        for _ in 0..<5 { upstream.record(.httpStatus(503), for: host) }
        upstream.record(.localOriginFailure(.timeout), for: host)
        let lines = Set(upstream.adminText().split(separator: "\n").map(String.init))
        for expected in [
            "outbound|80||a::observability_name::outbound|80||a",
            "outbound|80||a::default_priority::max_connections::1024",
            "outbound|80||a::high_priority::max_retries::3",
            "outbound|80||a::added_via_api::true",
            "outbound|80||a::10.0.0.1:80::cx_active::1",
            "outbound|80||a::10.0.0.1:80::cx_total::1",
            "outbound|80||a::10.0.0.1:80::rq_active::1",
            "outbound|80||a::10.0.0.1:80::rq_success::1",
            "outbound|80||a::10.0.0.1:80::rq_error::6",
            "outbound|80||a::10.0.0.1:80::rq_timeout::1",
            "outbound|80||a::10.0.0.1:80::health_flags::/failed_outlier_check",
            "outbound|80||a::10.0.0.1:80::region::r1",
            "outbound|80||a::10.0.0.1:80::zone::z1",
            "outbound|80||a::10.0.0.2:80::health_flags::/degraded_eds_health",
            "outbound|80||a::10.0.0.2:80::weight::3",
        ] {
            #expect(lines.contains(expected), "missing \(expected)")
        }
    }
}
