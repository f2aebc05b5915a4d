public import MeshCore
import SwiftProtobuf

/// Istio's standard metrics, configured as Istio configures them: the peer metadata filter
/// (`istio.metadata_exchange`) first in every HTTP connection manager, the stats filter
/// (`istio.stats`) just before the router, and the network stats filter before every TCP proxy.
///
/// Upstream Envoy has neither filter (Istio's proxy build adds them), so they are only sent to a
/// proxy whose node lists them among its `extensions`; the Swift proxy does. Telemetry resources
/// (`metrics`) turn metrics off per direction or change their tags.
public struct IstioTelemetryBuilder: Sendable {
    /// The stats filter's configuration type.
    public static let statsTypeURL = "type.googleapis.com/stats.PluginConfig"
    /// The peer metadata filter's configuration type.
    public static let peerMetadataTypeURL = "type.googleapis.com/io.istio.http.peer_metadata.Config"
    /// The stats filters' name (HTTP and network).
    public static let statsFilterName = "istio.stats"
    /// The peer metadata filter's name.
    public static let peerMetadataFilterName = "istio.metadata_exchange"

    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias TCPProxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy

    /// The stats configuration for client (outbound) traffic; nil when metrics are off for it.
    var client: Stats_PluginConfig?
    /// The stats configuration for server (inbound) traffic; nil when metrics are off for it.
    var server: Stats_PluginConfig?
    let proxyType: ProxyType
    let exchangesPeerMetadata: Bool

    /// The telemetry settings for `proxy`, or nil when it has no stats filter or metrics are off
    /// in both directions.
    public init?(snapshot: MeshSnapshot, proxy: ProxyView) {
        guard proxy.supportsExtension(Self.statsTypeURL) else { return nil }
        let settings = Self.metricSettings(snapshot.telemetries(for: proxy))
        guard settings.reportsToPrometheus(mesh: snapshot.mesh) else { return nil }
        client = settings.pluginConfig(for: .CLIENT)
        server = settings.pluginConfig(for: .SERVER)
        guard client != nil || server != nil else { return nil }
        // Istio: no Host-header fallback for destination_service at gateways and on inbound.
        client?.disableHostHeaderFallback = proxy.type == .router
        server?.disableHostHeaderFallback = true
        proxyType = proxy.type
        exchangesPeerMetadata = proxy.supportsExtension(Self.peerMetadataTypeURL)
    }

    /// `listeners` with the telemetry filters added to every HTTP connection manager and TCP proxy.
    public func decorate(_ listeners: [Envoy_Config_Listener_V3_Listener]) -> [Envoy_Config_Listener_V3_Listener] {
        listeners.map { listener in
            // Gateways report as clients (`reporter="source"`), as in Istio.
            let inbound = listener.trafficDirection == .inbound && proxyType != .router
            guard let stats = inbound ? server : client else { return listener }
            return listener.mappingFilterChains { decorate($0, inbound: inbound, stats: stats) }
        }
    }

    private func decorate(
        _ chain: Envoy_Config_Listener_V3_FilterChain, inbound: Bool, stats: Stats_PluginConfig
    ) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = chain
        var filters: [Envoy_Config_Listener_V3_Filter] = []
        for filter in chain.filters {
            guard case .typedConfig(let typed) = filter.configType else {
                filters.append(filter)
                continue
            }
            if typed.isA(HCM.self), var hcm = try? HCM(unpackingAny: typed) {
                var httpFilters = hcm.httpFilters
                let router = httpFilters.lastIndex { $0.name == "envoy.filters.http.router" } ?? httpFilters.endIndex
                httpFilters.insert(.with { $0.name = Self.statsFilterName; $0.typedConfig = Proto.any(stats) }, at: router)
                if exchangesPeerMetadata {
                    httpFilters.insert(.with {
                        $0.name = Self.peerMetadataFilterName
                        $0.typedConfig = Proto.any(Self.peerMetadata(inbound: inbound))
                    }, at: 0)
                }
                hcm.httpFilters = httpFilters
                var filter = filter
                filter.typedConfig = Proto.any(hcm)
                filters.append(filter)
            } else if typed.isA(TCPProxy.self) {
                filters.append(.with { $0.name = Self.statsFilterName; $0.typedConfig = Proto.any(stats) })
                filters.append(filter)
            } else {
                filters.append(filter)
            }
        }
        chain.filters = filters
        return chain
    }

    /// Istio's peer metadata configuration: inbound learns the client from the exchange headers
    /// and answers with its own; outbound sends its own and learns the server from the response
    /// headers, else from the endpoint's workload metadata.
    static func peerMetadata(inbound: Bool) -> Io_Istio_Http_PeerMetadata_Config {
        typealias Config = Io_Istio_Http_PeerMetadata_Config
        let headers = Config.DiscoveryMethod.with { $0.istioHeaders = .init() }
        // Outbound, the workload's metadata does not go to services outside the mesh.
        let propagate = Config.PropagationMethod.with { $0.istioHeaders = .with { $0.skipExternalClusters = !inbound } }
        return .with {
            if inbound {
                $0.downstreamDiscovery = [headers, .with { $0.workloadDiscovery = .init() }]
                $0.downstreamPropagation = [propagate]
            } else {
                $0.upstreamDiscovery = [headers, .with { $0.workloadDiscovery = .init() }]
                $0.upstreamPropagation = [propagate]
            }
        }
    }

    // MARK: Telemetry API

    /// The Telemetry `metrics` that apply to a workload: the mesh-wide resource, then the
    /// namespace's, then the workload's own. The most specific `providers` win; overrides apply
    /// in that order, each field overriding what came before for the metrics and mode it
    /// matches, so a workload can re-enable what the mesh disabled.
    struct MetricSettings {
        var providers: [String]?
        var overrides: [Telemetry.MetricsOverrides] = []

        /// Metrics go to Prometheus unless the providers that apply (or MeshConfig's default
        /// metrics providers) name none of kind `prometheus`.
        func reportsToPrometheus(mesh: MeshConfig) -> Bool {
            guard let names = providers ?? mesh.defaultProviders?.metrics else { return true }
            return names.contains { name in
                if let provider = mesh.extensionProviders?.first(where: { $0.name == name }) { return provider.prometheus != nil }
                return name == "prometheus"
            }
        }

        /// The stats configuration for one direction, nil when every metric is disabled there.
        func pluginConfig(for mode: WorkloadMode) -> Stats_PluginConfig? {
            let standard = IstioTelemetryBuilder.standardMetricNames
            var dropped: [String: Bool] = [:]
            var tags: [String: [String: Telemetry.MetricsOverrides.TagOverride]] = [:]
            var order = standard
            for override in overrides {
                let selectorMode = override.match?.mode ?? .CLIENT_AND_SERVER
                guard selectorMode.covers(mode) else { continue }
                let targets: [String]
                if let custom = override.match?.customMetric, !custom.isEmpty {
                    targets = [custom]
                    if !order.contains(custom) { order.append(custom) }
                } else {
                    let name = IstioTelemetryBuilder.metricName(override.match?.metric ?? .ALL_METRICS)
                    targets = name.isEmpty ? standard : [name]
                }
                for target in targets {
                    if let disabled = override.disabled { dropped[target] = disabled }
                    for (tag, change) in override.tagOverrides ?? [:] { tags[target, default: [:]][tag] = change }
                }
            }
            if standard.allSatisfy({ dropped[$0] == true }) { return nil }
            var config = Stats_PluginConfig()
            for name in order {
                let isDropped = dropped[name] == true
                let changes = tags[name] ?? [:]
                guard isDropped || !changes.isEmpty else { continue }
                config.metrics.append(.with {
                    $0.name = name
                    $0.drop = isDropped
                    for (tag, change) in changes.sorted(by: { $0.key < $1.key }) {
                        if change.operation == .REMOVE {
                            $0.tagsToRemove.append(tag)
                        } else if let value = change.value {
                            $0.dimensions[tag] = value
                        }
                    }
                })
            }
            return config
        }
    }

    typealias WorkloadMode = Telemetry.WorkloadMode

    /// The stats filter's names of the standard metrics (gRPC message counts included).
    static let standardMetricNames = Telemetry.MetricSelector.IstioMetric.allCases.map(metricName).filter { !$0.isEmpty }

    /// The stats filter's name for a Telemetry metric: the standard name without `istio_`;
    /// empty for `ALL_METRICS`.
    static func metricName(_ metric: Telemetry.MetricSelector.IstioMetric) -> String {
        switch metric {
        case .ALL_METRICS: ""
        case .REQUEST_COUNT: "requests_total"
        case .REQUEST_DURATION: "request_duration_milliseconds"
        case .REQUEST_SIZE: "request_bytes"
        case .RESPONSE_SIZE: "response_bytes"
        case .TCP_OPENED_CONNECTIONS: "tcp_connections_opened_total"
        case .TCP_CLOSED_CONNECTIONS: "tcp_connections_closed_total"
        case .TCP_SENT_BYTES: "tcp_sent_bytes_total"
        case .TCP_RECEIVED_BYTES: "tcp_received_bytes_total"
        case .GRPC_REQUEST_MESSAGES: "request_messages_total"
        case .GRPC_RESPONSE_MESSAGES: "response_messages_total"
        }
    }

    static func metricSettings(_ telemetries: [Resource<Telemetry>]) -> MetricSettings {
        var settings = MetricSettings()
        for telemetry in telemetries {
            for metrics in telemetry.spec.metrics ?? [] {
                if let providers = metrics.providers { settings.providers = providers.compactMap(\.name) }
                settings.overrides += metrics.overrides ?? []
            }
        }
        return settings
    }

    // MARK: Cluster and endpoint metadata

    /// `filter_metadata.istio.services` naming the services behind a cluster, which the stats
    /// filter reports as `destination_service`, and `istio.external` for a service outside the
    /// mesh (the peer metadata filter sends it no workload metadata).
    static func serviceMetadata(_ services: [MeshService], domainSuffix: String) -> Envoy_Config_Core_V3_Metadata {
        let entries = services.map { service in
            Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: [
                "host": .init(stringValue: service.hostname),
                "name": .init(stringValue: shortName(service, domainSuffix: domainSuffix)),
                "namespace": .init(stringValue: service.namespace),
            ]))
        }
        var fields = ["services": Google_Protobuf_Value(listValue: .init(values: entries))]
        if services.contains(where: { $0.location == .meshExternal }) { fields["external"] = .init(boolValue: true) }
        return .with { $0.filterMetadata = ["istio": Google_Protobuf_Struct(fields: fields)] }
    }

    /// A Kubernetes service's name (`reviews` for `reviews.default.svc.cluster.local`); other
    /// services are named by their host, as Istio names ServiceEntry services.
    static func shortName(_ service: MeshService, domainSuffix: String) -> String {
        let suffix = ".\(service.namespace).svc.\(domainSuffix)"
        guard service.hostname.hasSuffix(suffix) else { return service.hostname }
        return String(service.hostname.dropLast(suffix.count))
    }

    /// `filter_metadata.istio.workload` of an endpoint: `name;namespace;canonical service;canonical
    /// revision;cluster`, the upstream peer when the response carries no exchange headers.
    static func workloadMetadataValue(_ instance: WorkloadInstance, clusterID: String) -> String {
        let labels = instance.labels
        let workload = labels["app"] ?? labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? instance.name
        let canonical = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? workload
        let revision = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest"
        return [workload, instance.namespace, canonical, revision, clusterID].joined(separator: ";")
    }
}

extension MeshSnapshot {
    /// The Telemetry resources that apply to a proxy, least specific first, as Istio selects
    /// them: the root namespace's mesh-wide one, the namespace-wide one, then those whose
    /// selector matches the workload (a root-namespace Telemetry with a selector applies only to
    /// workloads in the root namespace).
    func telemetries(for proxy: ProxyView) -> [Resource<Telemetry>] {
        let root = rootNamespace
        func rank(_ telemetry: Resource<Telemetry>) -> Int {
            let selects = telemetry.spec.selectorLabels?.isEmpty == false
            if telemetry.meta.namespace == root && !selects { return 0 }
            return selects ? 2 : 1
        }
        return telemetries.policies(for: proxy.workload)
            .filter { $0.meta.namespace != root || proxy.namespace == root || $0.spec.selectorLabels?.isEmpty != false }
            .sorted { rank($0) < rank($1) }
    }
}

extension Telemetry.WorkloadMode {
    /// True when a setting for this mode applies to traffic of `mode` (CLIENT or SERVER).
    func covers(_ mode: Telemetry.WorkloadMode) -> Bool { self == .CLIENT_AND_SERVER || self == mode }
}
