import MeshProxy
import Testing

@Suite struct CircuitBreakerAndStatsTests {
    @Test func limitsOverflowAndRelease() {
        let upstream = UpstreamCluster(configuration: {
            var configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"))
            configuration.circuitBreakers = CircuitBreakerThresholds(maxConnections: 1, maxPendingRequests: 1, maxRequests: 2, maxRetries: 1, trackRemaining: true)
            return configuration
        }())
        let breakers = upstream.circuitBreakers
        #expect(breakers.tryAcquire(.request))
        #expect(breakers.tryAcquire(.request))
        #expect(breakers.remaining(.request) == 0)
        #expect(breakers.isOpen(.request))
        #expect(!breakers.tryAcquire(.request))
        #expect(upstream.stats.value(.upstreamRqPendingOverflow) == 1)
        breakers.release(.request)
        #expect(breakers.tryAcquire(.request))
        #expect(breakers.tryAcquire(.connection))
        #expect(!breakers.tryAcquire(.connection))
        #expect(upstream.stats.value(.upstreamCxOverflow) == 1)
        #expect(breakers.tryAcquire(.retry))
        #expect(!breakers.tryAcquire(.retry))
        #expect(upstream.stats.value(.upstreamRqRetryOverflow) == 1)
        breakers.release(.retry)
        breakers.release(.retry)  // releasing more than acquired never goes below zero
        #expect(breakers.usage(.retry) == 0)
        #expect(breakers.tryAcquire(.connectionPool))
        let names = Dictionary(uniqueKeysWithValues: upstream.stats.entries().map { ($0.name, $0.value) })
        #expect(names["cluster.c.circuit_breakers.default.remaining_rq"] == 0)
        #expect(names["cluster.c.circuit_breakers.default.rq_open"] == 1)
        #expect(names["cluster.c.circuit_breakers.default.remaining_pending"] == 1)
        #expect(names["cluster.c.circuit_breakers.default.cx_open"] == 1)
    }

    /// Concurrent acquisitions never exceed the limit: exactly `max_requests` of many racing tasks win.
    @Test func concurrentAcquisitionsRespectTheLimit() async {
        let counters = CircuitBreakerCounters(thresholds: CircuitBreakerThresholds(maxRequests: 10))
        let granted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { counters.tryAcquire(.request) } }
            var count = 0
            for await won in group where won { count += 1 }
            return count
        }
        #expect(granted == 10)
        #expect(counters.usage(.request) == 10)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { counters.release(.request) } }
        }
        #expect(counters.usage(.request) == 0)
    }

    @Test func remainingGaugesOnlyWithTrackRemaining() {
        let upstream = UpstreamCluster(configuration: ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c")))
        let names = Set(upstream.stats.entries().map(\.name))
        #expect(names.contains("cluster.c.circuit_breakers.default.rq_open"))
        #expect(!names.contains("cluster.c.circuit_breakers.default.remaining_rq"))
    }

    @Test func retryBudgetScalesWithLoad() {
        let thresholds = CircuitBreakerThresholds(retryBudget: .init(budgetPercent: 20, minRetryConcurrency: 3))
        #expect(thresholds.retryLimit(activeRequests: 0, pendingRequests: 0) == 3)
        #expect(thresholds.retryLimit(activeRequests: 90, pendingRequests: 10) == 20)
        let counters = CircuitBreakerCounters(thresholds: thresholds)
        for _ in 0..<3 { #expect(counters.tryAcquire(.retry)) }
        #expect(!counters.tryAcquire(.retry))
        for _ in 0..<50 { _ = counters.tryAcquire(.request) }
        #expect(counters.limit(.retry) == 10)
        #expect(counters.tryAcquire(.retry))
    }

    @Test func statsUseEnvoyNames() {
        let stats = UpstreamClusterStats(clusterName: "outbound|9080||reviews.default.svc.cluster.local")
        stats.increment(.upstreamRqTotal, by: 3)
        stats.increment(.upstreamRqActive)
        stats.recordResponse(code: 200)
        stats.recordResponse(code: 200)
        stats.recordResponse(code: 503)
        let entries = Dictionary(uniqueKeysWithValues: stats.entries().map { ($0.name, $0.value) })
        let prefix = "cluster.outbound|9080||reviews.default.svc.cluster.local."
        #expect(entries[prefix + "upstream_rq_total"] == 3)
        #expect(entries[prefix + "upstream_rq_active"] == 1)
        #expect(entries[prefix + "upstream_rq_200"] == 2)
        #expect(entries[prefix + "upstream_rq_2xx"] == 2)
        #expect(entries[prefix + "upstream_rq_5xx"] == 1)
        #expect(entries[prefix + "upstream_rq_completed"] == 3)
        #expect(entries[prefix + "outlier_detection.ejections_active"] == 0)
        #expect(stats.responseCount(codeClass: 2) == 2)

        let lines = Set(stats.prometheusSamples().map(\.line))
        let label = #"envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local""#
        #expect(lines.contains("envoy_cluster_upstream_rq_total{\(label)} 3"))
        #expect(lines.contains(#"envoy_cluster_upstream_rq{envoy_response_code="200","# + label + "} 2"))
        #expect(lines.contains(#"envoy_cluster_upstream_rq_xx{envoy_response_code_class="5","# + label + "} 1"))
        #expect(lines.contains("envoy_cluster_outlier_detection_ejections_active{\(label)} 0"))
        let kinds = Dictionary(stats.prometheusSamples().map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["envoy_cluster_upstream_rq_active"] == .gauge)
        #expect(kinds["envoy_cluster_upstream_rq_total"] == .counter)
    }

    @Test func prometheusLabelValuesAreEscaped() {
        let stats = UpstreamClusterStats(clusterName: #"a"b\c"#)
        #expect(stats.prometheusSamples().first?.line.contains(#"envoy_cluster_name="a\"b\\c""#) == true)
    }

    @Test func membershipGauges() {
        let locality = LocalityEndpoints(endpoints: [Fixtures.endpoint(1), Fixtures.endpoint(2, health: .degraded), Fixtures.endpoint(3, health: .unhealthy), Fixtures.endpoint(4, health: .draining)])
        let upstream = UpstreamCluster(configuration: ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c")), endpoints: Fixtures.set(locality))
        #expect(upstream.stats.value(.membershipTotal) == 4)
        #expect(upstream.stats.value(.membershipHealthy) == 1)
        #expect(upstream.stats.value(.membershipDegraded) == 1)
        #expect(upstream.stats.value(.membershipExcluded) == 1)
    }
}
