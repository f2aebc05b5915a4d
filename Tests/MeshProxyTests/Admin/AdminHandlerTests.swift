@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

/// The admin endpoint's paths, driven through the handler on an `EmbeddedChannel`.
@Suite struct AdminHandlerTests {
    final class FakeSource: AdminDataSource {
        let stats = StatsStore()
        let ready = Mutex(false)
        let shutdowns = Mutex(0)
        var isReady: Bool { ready.withLock { $0 } }
        func configDump() -> String { "{\"configs\": []}" }
        func clustersText() -> String { "outbound|80||a::127.0.0.1:80::rq_total::3\n" }
        func serverInfo() -> String { "{\"state\": \"LIVE\"}" }
        func requestShutdown() { shutdowns.withLock { $0 += 1 } }
        func statsText() -> String { stats.text() }
        func prometheusText() -> String { stats.prometheusText() }
    }

    static func exchange(_ source: FakeSource, _ method: HTTPMethod, _ uri: String) throws -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        let channel = EmbeddedChannel(handler: AdminHandler(source: source))
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri)))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        guard case .head(let head)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else { throw AdminTestError() }
        var body = ""
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
        }
        _ = try channel.finish()
        return (head.status, head.headers, body)
    }

    struct AdminTestError: Error {}

    @Test func readyFollowsTheSource() throws {
        let source = FakeSource()
        let before = try Self.exchange(source, .GET, "/ready")
        #expect(before.status == .serviceUnavailable && before.body == "PRE_INITIALIZING\n")
        source.ready.withLock { $0 = true }
        let after = try Self.exchange(source, .GET, "/ready")
        #expect(after.status == .ok && after.body == "LIVE\n")
    }

    @Test func statsFilterAndPrometheus() throws {
        let source = FakeSource()
        let label = StatsStore.PrometheusName.Label(name: "envoy_cluster_name", value: "outbound|9080||reviews")
        source.stats.counter("cluster.outbound|9080||reviews.upstream_rq_total", prometheus: .init(name: "envoy_cluster_upstream_rq_total", labels: [label])).increment(by: 7)
        source.stats.counter("cluster.outbound|9080||other.upstream_rq_total", prometheus: .init(name: "envoy_cluster_upstream_rq_total", labels: [.init(name: "envoy_cluster_name", value: "other\"q")])).increment()
        let filtered = try Self.exchange(source, .GET, "/stats?filter=outbound%7C9080%7C%7Creviews")
        #expect(filtered.body == "cluster.outbound|9080||reviews.upstream_rq_total: 7\n")
        let prometheus = try Self.exchange(source, .GET, "/stats/prometheus")
        #expect(prometheus.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(prometheus.body == """
            # TYPE envoy_cluster_upstream_rq_total counter
            envoy_cluster_upstream_rq_total{envoy_cluster_name="other\\"q"} 1
            envoy_cluster_upstream_rq_total{envoy_cluster_name="outbound|9080||reviews"} 7

            """)
    }

    @Test func quitNeedsPostAndUnknownPathsAre404() throws {
        let source = FakeSource()
        #expect(try Self.exchange(source, .GET, "/quitquitquit").status == .methodNotAllowed)
        #expect(source.shutdowns.withLock { $0 } == 0)
        #expect(try Self.exchange(source, .POST, "/quitquitquit").status == .ok)
        #expect(source.shutdowns.withLock { $0 } == 1)
        #expect(try Self.exchange(source, .GET, "/nope").status == .notFound)
        #expect(try Self.exchange(source, .GET, "/config_dump").body == "{\"configs\": []}")
    }
}
