import Foundation
import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// Istio's telemetry filters in translation: sent only to proxies that list them, placed where
/// Istio places them, shaped by Telemetry resources.
@Suite struct IstioTelemetryTranslationTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static func proxy(extensions: [String]) throws -> ProxyView {
        var node = Envoy_Config_Core_V3_Node.with {
            $0.id = "sidecar~127.0.0.11~productpage.bookinfo~bookinfo.svc.cluster.local"
            $0.metadata = Google_Protobuf_Struct(fields: ["LABELS": .init(structValue: .init(fields: ["app": .init(stringValue: "productpage")]))])
        }
        node.extensions = extensions.map { url in .with { $0.name = url; $0.typeUrls = [url] } }
        return try ProxyView(node: node)
    }

    static let both = [IstioTelemetryBuilder.statsTypeURL, IstioTelemetryBuilder.peerMetadataTypeURL]

    static func listeners() -> [Envoy_Config_Listener_V3_Listener] {
        let builder = ListenerBuilder(options: TranslationOptions())
        let http = builder.httpConnectionManager(statPrefix: "outbound_0.0.0.0_9080", routeName: "9080")
        return [
            builder.listener(address: "0.0.0.0", port: 9080, direction: .outbound, bindToPort: true, filters: [http]),
            builder.listener(address: "0.0.0.0", port: 3306, direction: .inbound, bindToPort: true, filters: [builder.tcpProxy(cluster: "inbound|3306||")]),
        ]
    }

    static func names(_ listener: Envoy_Config_Listener_V3_Listener) throws -> [String] {
        var names: [String] = []
        for filter in listener.filterChains[0].filters {
            names.append(filter.name)
            if filter.typedConfig.isA(HCM.self) { names += try HCM(unpackingAny: filter.typedConfig).httpFilters.map { "  " + $0.name } }
        }
        return names
    }

    static func snapshot(_ yaml: String = "", mesh: MeshConfig = MeshConfig()) throws -> MeshSnapshot {
        let output = ConfigDecoder().decode(yaml, file: "telemetry.yaml")
        #expect(!output.hasErrors, "\(output.diagnostics)")
        return MeshSnapshot(resources: output.resources, mesh: mesh)
    }

    @Test func proxiesWithoutTheExtensionsGetNothing() throws {
        // Upstream Envoy lists neither filter: a NACK-free configuration has none of them.
        #expect(IstioTelemetryBuilder(snapshot: try Self.snapshot(), proxy: try Self.proxy(extensions: [])) == nil)
    }

    @Test func filtersGoWhereIstioPutsThem() throws {
        let builder = try #require(IstioTelemetryBuilder(snapshot: try Self.snapshot(), proxy: try Self.proxy(extensions: Self.both)))
        let decorated = builder.decorate(Self.listeners())
        #expect(try Self.names(decorated[0]) == [
            "envoy.filters.network.http_connection_manager", "  istio.metadata_exchange", "  envoy.filters.http.fault",
            "  envoy.filters.http.cors", "  istio.stats", "  envoy.filters.http.router",
        ])
        #expect(try Self.names(decorated[1]) == ["istio.stats", "envoy.filters.network.tcp_proxy"])

        let hcm = try HCM(unpackingAny: decorated[0].filterChains[0].filters[0].typedConfig)
        let exchange = try Io_Istio_Http_PeerMetadata_Config(unpackingAny: hcm.httpFilters[0].typedConfig)
        #expect(exchange.upstreamDiscovery.count == 2 && exchange.upstreamPropagation.count == 1 && exchange.downstreamDiscovery.isEmpty)
        let inboundStats = try Stats_PluginConfig(unpackingAny: decorated[1].filterChains[0].filters[0].typedConfig)
        #expect(inboundStats.disableHostHeaderFallback, "inbound never falls back to the Host header")

        // Without the peer metadata extension, only the stats filter.
        let statsOnly = try #require(IstioTelemetryBuilder(snapshot: try Self.snapshot(), proxy: try Self.proxy(extensions: [IstioTelemetryBuilder.statsTypeURL])))
        #expect(!(try Self.names(statsOnly.decorate(Self.listeners())[0])).contains("  istio.metadata_exchange"))
    }

    @Test func telemetryResourcesDisableAndRetagMetrics() throws {
        let yaml = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              metrics:
              - providers: [{name: prometheus}]
                overrides:
                - match: {metric: ALL_METRICS, mode: CLIENT}
                  disabled: true
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: productpage, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: productpage}}
              metrics:
              - overrides:
                - match: {metric: REQUEST_COUNT}
                  tagOverrides:
                    request_protocol: {operation: REMOVE}
                    tier: {value: "'front'"}
                - match: {metric: TCP_SENT_BYTES, mode: SERVER}
                  disabled: true
            """
        let builder = try #require(IstioTelemetryBuilder(snapshot: try Self.snapshot(yaml), proxy: try Self.proxy(extensions: Self.both)))
        let decorated = builder.decorate(Self.listeners())
        // Client (outbound) metrics are off mesh-wide: the outbound HCM has no stats filter.
        #expect(!(try Self.names(decorated[0])).contains("  istio.stats"))
        let server = try Stats_PluginConfig(unpackingAny: decorated[1].filterChains[0].filters[0].typedConfig)
        #expect(server.metrics.map(\.name) == ["requests_total", "tcp_sent_bytes_total"])
        #expect(server.metrics[0].tagsToRemove == ["request_protocol"] && server.metrics[0].dimensions == ["tier": "'front'"])
        #expect(server.metrics[1].drop)

        // The workload re-enables what the mesh disabled for clients; REMOVE after UPSERT wins.
        let reenabled = yaml + """

            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: productpage-client, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: productpage, tier: web}}
              metrics:
              - overrides:
                - match: {metric: ALL_METRICS, mode: CLIENT}
                  disabled: false
                - match: {metric: REQUEST_COUNT}
                  tagOverrides: {tier: {operation: REMOVE}}
            """
        var webProxy = try Self.proxy(extensions: ["stats.PluginConfig"])
        webProxy.labels["tier"] = "web"
        let again = try #require(IstioTelemetryBuilder(snapshot: try Self.snapshot(reenabled), proxy: webProxy))
        #expect(try Self.names(again.decorate(Self.listeners())[0]).contains("  istio.stats"), "bare proto names in node.extensions count too")
        let serverAgain = try Stats_PluginConfig(unpackingAny: again.decorate(Self.listeners())[1].filterChains[0].filters[0].typedConfig)
        #expect(serverAgain.metrics[0].name == "requests_total" && serverAgain.metrics[0].dimensions.isEmpty)
        #expect(Set(serverAgain.metrics[0].tagsToRemove) == ["request_protocol", "tier"])

        // A Telemetry naming another provider only: no Prometheus metrics at all.
        let elsewhere = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              metrics:
              - providers: [{name: stackdriver}]
            """
        #expect(IstioTelemetryBuilder(snapshot: try Self.snapshot(elsewhere), proxy: try Self.proxy(extensions: Self.both)) == nil)
    }

    @Test func endpointAndClusterMetadataNameTheWorkloadAndService() throws {
        let instance = WorkloadInstance(
            serviceHostname: "reviews.bookinfo.svc.cluster.local", serviceNamespace: "bookinfo", name: "reviews-v2-abc", namespace: "bookinfo",
            address: "10.0.0.2", endpointPorts: [:], labels: ["app": "reviews", "version": "v2"], serviceAccount: "reviews")
        let assignment = EndpointBuilder().loadAssignment(
            clusterName: "outbound|9080||reviews.bookinfo.svc.cluster.local", port: ServicePortInfo(name: "http", port: 9080, protocol: .http),
            instances: [instance])
        let metadata = assignment.endpoints[0].lbEndpoints[0].metadata.filterMetadata["istio"]
        #expect(metadata?.fields["workload"]?.stringValue == "reviews;bookinfo;reviews;v2;Kubernetes")
    }

    @Test func accessLoggingFiltersBecomeEnvoysNativeFilters() throws {
        let ge = try #require(TelemetryAccessLogging.filter("response.code >= 400"))
        #expect(ge.statusCodeFilter.comparison.op == .ge && ge.statusCodeFilter.comparison.value.defaultValue == 400)
        let gt = try #require(TelemetryAccessLogging.filter("response.code > 499"))
        #expect(gt.statusCodeFilter.comparison.op == .ge && gt.statusCodeFilter.comparison.value.defaultValue == 500)
        let either = try #require(TelemetryAccessLogging.filter("response.code == 404 || (response.code >= 500)"))
        #expect(either.orFilter.filters.count == 2 && either.orFilter.filters[1].statusCodeFilter.comparison.value.defaultValue == 500)
        #expect(TelemetryAccessLogging.filter("request.headers['x'] == 'y'") == nil)
        #expect(TelemetryAccessLogging.filter("response.code >= 400 && connection.mtls") == nil)
    }

    @Test func accessLoggingByModeWithProvidersAndFallbacks() throws {
        let yaml = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging:
              - providers: [{name: envoy}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: productpage, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: productpage}}
              accessLogging:
              - match: {mode: CLIENT}
                disabled: true
              - match: {mode: SERVER}
                providers: [{name: missing}]
                filter: {expression: "request.url_path.startsWith('/api')"}
            """
        let logging = TelemetryAccessLogging(snapshot: try Self.snapshot(yaml), proxy: try Self.proxy(extensions: []))
        #expect(logging.client?.isEmpty == true, "CLIENT is disabled for the workload")
        #expect(logging.server == nil, "the only SERVER provider is unknown: ignored, MeshConfig's accessLogFile applies")
        #expect(logging.unsupported.contains { $0.contains("provider \"missing\"") })
        #expect(logging.unsupported.contains { $0.contains("request.url_path") })

        let meshOnly = TelemetryAccessLogging(snapshot: try Self.snapshot(), proxy: try Self.proxy(extensions: []))
        #expect(meshOnly.client == nil && meshOnly.server == nil, "no Telemetry: MeshConfig's accessLogFile applies")

        let envoyDefault = TelemetryAccessLogging(snapshot: try Self.snapshot(yaml.components(separatedBy: "---")[0]), proxy: try Self.proxy(extensions: []))
        #expect(envoyDefault.client?.count == 1 && envoyDefault.server?.count == 1)
        let file = try Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog(unpackingAny: try #require(envoyDefault.client?.first).typedConfig)
        #expect(file.path == "/dev/stdout")

        // No providers named and no default: ignored (IST0157), so MeshConfig's accessLogFile applies.
        let unnamed = TelemetryAccessLogging(snapshot: try Self.snapshot(Self.errorsOnlyWithoutProviders), proxy: try Self.proxy(extensions: []))
        #expect(unnamed.client == nil && unnamed.server == nil)
    }

    /// A mesh-wide Telemetry whose access logging names no provider, only a filter.
    static let errorsOnlyWithoutProviders = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          accessLogging: [{filter: {expression: "response.code >= 500"}}]
        """

    /// MeshConfig `defaultProviders.accessLogging` applies with no Telemetry at all, and to
    /// entries that name no provider.
    @Test func defaultProvidersApplyWithoutTelemetry() throws {
        let mesh = try JSONDecoder().decode(MeshConfig.self, from: Data("""
            {"defaultProviders": {"accessLogging": ["json-file"]},
             "extensionProviders": [{"name": "json-file",
               "envoyFileAccessLog": {"path": "/tmp/access.json", "logFormat": {"labels": {"code": "%RESPONSE_CODE%"}}}}]}
            """.utf8))
        let none = TelemetryAccessLogging(snapshot: try Self.snapshot(mesh: mesh), proxy: try Self.proxy(extensions: []))
        let path = try none.client.map { try Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog(unpackingAny: try #require($0.first).typedConfig).path }
        #expect(path == "/tmp/access.json" && none.server?.count == 1)
        let filtered = TelemetryAccessLogging(snapshot: try Self.snapshot(Self.errorsOnlyWithoutProviders, mesh: mesh), proxy: try Self.proxy(extensions: []))
        #expect(filtered.client?.first?.filter.statusCodeFilter.comparison.value.defaultValue == 500)

        // An empty providers list keeps what the mesh-wide Telemetry named.
        let inherited = TelemetryAccessLogging(snapshot: try Self.snapshot("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging: [{providers: [{name: envoy}]}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: shop, namespace: bookinfo}
            spec:
              accessLogging: [{providers: [], filter: {expression: "response.code >= 500"}}]
            """, mesh: mesh), proxy: try Self.proxy(extensions: []))
        let inheritedPath = try inherited.client.map { try Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog(unpackingAny: try #require($0.first).typedConfig).path }
        #expect(inheritedPath == "/dev/stdout", "the mesh-wide envoy provider, not the json-file default")
    }
}
