import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import NIOCore
import Testing

@testable import MeshProxy

/// Istio's exchange header, the stats filter's configuration and the metrics exposition.
@Suite struct IstioTelemetryTests {
    static let node = Envoy_Config_Core_V3_Node.with {
        $0.id = "sidecar~127.0.0.21~reviews-v2-x.bookinfo~bookinfo.svc.cluster.local"
        $0.metadata = Google_Protobuf_Struct(fields: [
            "NAME": .init(stringValue: "reviews-v2-x"), "NAMESPACE": .init(stringValue: "bookinfo"),
            "WORKLOAD_NAME": .init(stringValue: "reviews-v2"), "CLUSTER_ID": .init(stringValue: "Kubernetes"),
            "LABELS": .init(structValue: .init(fields: ["app": .init(stringValue: "reviews"), "version": .init(stringValue: "v2")])),
        ])
    }

    @Test func exchangeHeaderRoundTrips() throws {
        let local = LocalWorkload(node: Self.node)
        #expect(local.workload.workloadName == "reviews-v2" && local.workload.canonicalService == "reviews" && local.workload.canonicalRevision == "v2")
        let decoded = try #require(PeerWorkload(exchangeHeaderValue: local.exchangeHeaderValue))
        #expect(decoded.workloadName == "reviews-v2" && decoded.namespace == "bookinfo" && decoded.app == "reviews" && decoded.version == "v2")
        #expect(decoded.clusterID == "Kubernetes" && decoded.instanceName == "reviews-v2-x")
        // Istio decodes without padding; so do we.
        #expect(PeerWorkload(exchangeHeaderValue: local.exchangeHeaderValue.replacingOccurrences(of: "=", with: "")) != nil)
        #expect(PeerWorkload(exchangeHeaderValue: "not base64!") == nil)
        #expect(PeerWorkload(endpointWorkload: "ratings-v1;default;ratings;version-1;server-cluster")?.canonicalRevision == "version-1")
        #expect(PeerWorkload(endpointWorkload: "only;three;parts") == nil)
    }

    @Test func statsConfigurationFromTypedStruct() throws {
        // istiod sends Istio's filters as TypedStruct; the proxy reads both forms.
        let value = try Google_Protobuf_Struct(jsonString: #"{"disable_host_header_fallback": true, "metrics": [{"name": "requests_total", "tags_to_remove": ["source_version"], "dimensions": {"tier": "'web'"}}, {"name": "tcp_sent_bytes_total", "drop": true}]}"#)
        let typed = Udpa_Type_V1_TypedStruct.with { $0.typeURL = IstioStatsConfiguration.typeURL; $0.value = value }
        let configuration = try IstioStatsConfiguration(config: try Google_Protobuf_Any(message: typed))
        #expect(configuration.disableHostHeaderFallback)
        #expect(configuration.plans["requests_total"]?.removed == ["source_version"])
        #expect(configuration.plans["requests_total"]?.dimensions.map(\.name) == ["tier"])
        #expect(configuration.plans["tcp_sent_bytes_total"]?.dropped == true)
        let bad = Stats_PluginConfig.with { $0.metrics = [.with { $0.dimensions = ["no-dashes": "'x'"] }] }
        #expect(throws: FilterConfigurationError.self) { try IstioStatsConfiguration(config: try Google_Protobuf_Any(message: bad)) }
    }

    @Test func recordsAndExposesRequestsByLabels() throws {
        let store = IstioMetricsStore()
        var plugin = Stats_PluginConfig()
        plugin.metrics = [.with { $0.name = "request_bytes"; $0.drop = true }]
        let runtime = IstioStatsRuntime(configuration: try IstioStatsConfiguration(plugin), inbound: true, local: LocalWorkload(node: Self.node), store: store)
        var report = IstioReport()
        report.request = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["host": "reviews:9080"])
        report.downstreamPeer = PeerWorkload(endpointWorkload: "productpage-v1;bookinfo;productpage;v1;Kubernetes").map(PeerIdentity.init)
        report.downstreamTLS = DownstreamTLSInfo(peerCertificatePresented: true, peerURISANs: ["spiffe://cluster.local/ns/bookinfo/sa/productpage"],
                                                 localURISANs: ["spiffe://cluster.local/ns/bookinfo/sa/reviews"])
        report.responseCode = 200
        for _ in 0..<3 { runtime.recordRequest(report, durationNanoseconds: 2_000_000, requestBytes: 100, responseBytes: 2000) }
        report.responseCode = 503
        report.flags = [.upstreamConnectionFailure]
        runtime.recordRequest(report, durationNanoseconds: 40_000_000, requestBytes: 100, responseBytes: 20)

        #expect(store.counterValue(.requestsTotal, matching: ["response_code": "200", "reporter": "destination", "source_workload": "productpage-v1",
                                                              "source_principal": "spiffe://cluster.local/ns/bookinfo/sa/productpage",
                                                              "connection_security_policy": "mutual_tls", "destination_workload": "reviews-v2"]) == 3)
        #expect(store.counterValue(.requestsTotal, matching: ["response_code": "503", "response_flags": "UF"]) == 1)
        let text = store.prometheusText()
        #expect(text.contains("# TYPE istio_requests_total counter"))
        #expect(text.contains("# TYPE istio_request_duration_milliseconds histogram"))
        #expect(!text.contains("istio_request_bytes"), "request_bytes is dropped")
        // The cluster named no service, and this configuration allows the Host-header fallback.
        #expect(text.contains("destination_service=\"reviews:9080\"") && text.contains("destination_service_name=\"reviews:9080\""))
        let buckets = text.split(separator: "\n").filter { $0.hasPrefix("istio_request_duration_milliseconds_bucket") && $0.contains("response_code=\"200\"") }
        #expect(buckets.contains { $0.contains("le=\"1\"") && $0.hasSuffix(" 0") })
        #expect(buckets.contains { $0.contains("le=\"5\"") && $0.hasSuffix(" 3") })
        #expect(buckets.contains { $0.contains("le=\"+Inf\"") && $0.hasSuffix(" 3") })
        #expect(text.contains("istio_response_bytes_sum{") && text.contains("} 6000\n"))
    }

    /// Istio's gRPC message counters: reported for gRPC requests only, with the messages each way.
    @Test func grpcRequestsReportTheirMessages() throws {
        let store = IstioMetricsStore()
        let runtime = IstioStatsRuntime(configuration: try IstioStatsConfiguration(Stats_PluginConfig()), inbound: true, local: LocalWorkload(node: Self.node), store: store)
        var report = IstioReport()
        report.request = HTTPRequestHead(version: .http2, method: .POST, uri: "/echo.Echo/Collect", headers: ["content-type": "application/grpc", "host": "echo:9090"])
        report.responseCode = 200
        report.grpcStatus = "0"
        runtime.recordRequest(report, durationNanoseconds: 1_000_000, requestBytes: 60, responseBytes: 20, messages: (request: 3, response: 1))
        runtime.recordRequest(report, durationNanoseconds: 1_000_000, requestBytes: 40, responseBytes: 20, messages: (request: 2, response: 1))
        #expect(store.counterValue(.requestMessages, matching: ["request_protocol": "grpc"]) == 5)
        #expect(store.counterValue(.responseMessages, matching: ["request_protocol": "grpc"]) == 2)
        var plain = report
        plain.request = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["host": "web:80"])
        plain.grpcStatus = nil
        runtime.recordRequest(plain, durationNanoseconds: 1_000_000, requestBytes: 10, responseBytes: 10)
        let lines = store.prometheusText().split(separator: "\n")
        let requestMessages = lines.filter { $0.hasPrefix("istio_request_messages_total{") }
        #expect(requestMessages.count == 1 && requestMessages[0].contains("request_protocol=\"grpc\"") && requestMessages[0].hasSuffix(" 5"), "\(requestMessages)")
        #expect(lines.contains("# TYPE istio_response_messages_total counter"))
    }

    /// Message boundaries anywhere in the body chunks: prefixes split across chunks, several
    /// messages in one chunk, empty messages.
    @Test func grpcMessagesAreCountedAcrossChunks() {
        func message(_ payload: Int) -> [UInt8] {
            [0, UInt8(payload >> 24 & 0xff), UInt8(payload >> 16 & 0xff), UInt8(payload >> 8 & 0xff), UInt8(payload & 0xff)] + Array(repeating: 7, count: payload)
        }
        let stream = message(3) + message(0) + message(300) + message(70_000) + message(1)
        for chunkSize in [1, 2, 4, 5, 6, 64, 1000, stream.count] {
            var counter = GRPCMessageCounter()
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                counter.consume(ByteBuffer(bytes: stream[offset..<end]))
                offset = end
            }
            #expect(counter.messages == 5, "chunks of \(chunkSize)")
        }
    }

    @Test func aReplacedRuntimeNeverReusesItsPredecessorsSeries() throws {
        // Runtimes come and go with LDS updates; the per-thread cache must not map a new one
        // (which may reuse the old one's address) to the old one's series.
        let store = IstioMetricsStore()
        var report = IstioReport()
        report.responseCode = 200
        for round in 0..<20 {
            let inbound = round % 2 == 0
            let runtime = IstioStatsRuntime(
                configuration: try IstioStatsConfiguration(Stats_PluginConfig()), inbound: inbound, local: LocalWorkload(node: Self.node), store: store)
            runtime.recordRequest(report, durationNanoseconds: 1_000_000, requestBytes: 1, responseBytes: 1)
        }
        #expect(store.counterValue(.requestsTotal, matching: ["reporter": "destination"]) == 10)
        #expect(store.counterValue(.requestsTotal, matching: ["reporter": "source"]) == 10)
    }

    @Test func newLabelSetsBeyondTheLimitAreCountedNotKept() throws {
        // Label values partly come from clients: the store stops at its limit and says so.
        let store = IstioMetricsStore(maxSeries: 2)
        let runtime = IstioStatsRuntime(
            configuration: try IstioStatsConfiguration(Stats_PluginConfig()), inbound: true, local: LocalWorkload(node: Self.node), store: store)
        var report = IstioReport()
        for code in [200, 201, 202, 203] {
            report.responseCode = code
            runtime.recordRequest(report, durationNanoseconds: 1_000_000, requestBytes: 1, responseBytes: 1)
        }
        #expect(store.counterValue(.requestsTotal, matching: ["reporter": "destination"]) == 2)
        #expect(store.overflowCount == 2)
        #expect(store.prometheusText().contains("istio_stats_series_overflow_total 2\n"))
    }
}
