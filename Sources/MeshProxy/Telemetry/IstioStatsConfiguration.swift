import MeshTelemetry
import MeshXDS
import NIOHTTP1
public import SwiftProtobuf

/// Istio's stats filter (`istio.stats`, `stats.PluginConfig`) as the Swift proxy runs it: which
/// standard metrics are reported and with which labels. The reporter (`source` or
/// `destination`) comes from the listener's direction.
public struct IstioStatsConfiguration: Sendable, Hashable {
    /// The configuration type the HTTP and network stats filters take.
    public static let typeURL = "type.googleapis.com/stats.PluginConfig"

    /// How one metric is reported.
    struct MetricPlan: Sendable, Hashable {
        var dropped = false
        /// Standard labels left out.
        var removed: Set<String> = []
        /// Labels added or replaced, with the expressions computing their values, sorted by name.
        var dimensions: [(name: String, expression: TagExpression)] = []

        static func == (a: MetricPlan, b: MetricPlan) -> Bool {
            a.dropped == b.dropped && a.removed == b.removed
                && a.dimensions.map(\.name) == b.dimensions.map(\.name) && a.dimensions.map(\.expression) == b.dimensions.map(\.expression)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(dropped)
            hasher.combine(removed)
            for dimension in dimensions { hasher.combine(dimension.name); hasher.combine(dimension.expression) }
        }
    }

    /// Do not fall back to the Host header for `destination_service`.
    var disableHostHeaderFallback: Bool
    /// How often open TCP connections report their bytes.
    var tcpReportingInterval: Duration
    /// Plans by the metric's short name (`requests_total`, `tcp_sent_bytes_total`, ...).
    var plans: [String: MetricPlan]

    /// The short names of the standard metrics (`istio_` dropped), as overrides name them.
    static let httpMetrics = ["requests_total", "request_duration_milliseconds", "request_bytes", "response_bytes"]
    static let tcpMetrics = ["tcp_connections_opened_total", "tcp_connections_closed_total", "tcp_sent_bytes_total", "tcp_received_bytes_total"]

    /// Parses the filter's configuration.
    /// - Throws: ``FilterConfigurationError`` naming the field that cannot be honoured.
    public init(config: Google_Protobuf_Any) throws {
        let plugin: Stats_PluginConfig
        do { plugin = try Self.decode(config) } catch {
            throw FilterConfigurationError(field: "typed_config", "cannot decode stats.PluginConfig: \(error)")
        }
        try self.init(plugin)
    }

    /// The message in `config`, sent as itself or (as istiod sends Istio's filters) as a `TypedStruct`.
    static func decode<Message: SwiftProtobuf.Message>(_ config: Google_Protobuf_Any) throws -> Message {
        if let inner = config.typedStruct {
            // A control plane may send fields these trimmed protos leave out: skip them.
            var options = JSONDecodingOptions()
            options.ignoreUnknownFields = true
            return try Message(jsonString: try inner.value.jsonString(), options: options)
        }
        return try Message(unpackingAny: config)
    }

    /// True when `config` (or the `TypedStruct` inside it) has type `typeURL`.
    static func isType(_ config: Google_Protobuf_Any, _ typeURL: String) -> Bool {
        HTTPFilterRegistry.typeName(config.typedStruct?.typeURL ?? config.typeURL) == HTTPFilterRegistry.typeName(typeURL)
    }

    init(_ plugin: Stats_PluginConfig) throws {
        disableHostHeaderFallback = plugin.disableHostHeaderFallback
        tcpReportingInterval = plugin.hasTcpReportingDuration && plugin.tcpReportingDuration.swiftDuration > .zero
            ? plugin.tcpReportingDuration.swiftDuration : .seconds(15)
        let known = Self.httpMetrics + Self.tcpMetrics
        var plans = Dictionary(uniqueKeysWithValues: known.map { ($0, MetricPlan()) })
        for (index, override) in plugin.metrics.enumerated() {
            let targets: [String]
            if override.name.isEmpty {
                targets = known
            } else if known.contains(override.name) {
                targets = [override.name]
            } else {
                // Custom metrics (MetricDefinition) are not supported; an override naming one
                // changes nothing, as in Istio when the definition is missing.
                continue
            }
            var dimensions: [(String, TagExpression)] = []
            for (name, text) in override.dimensions.sorted(by: { $0.key < $1.key }) {
                guard PrometheusText.isValidName(name, label: true), !["le", "quantile"].contains(name), !name.hasPrefix("__") else {
                    throw FilterConfigurationError(field: "metrics[\(index)].dimensions", "\"\(name)\" is not a valid label name")
                }
                dimensions.append((name, TagExpression(text)))
            }
            for target in targets {
                if override.drop { plans[target]?.dropped = true }
                plans[target]?.removed.formUnion(override.tagsToRemove)
                for (name, expression) in dimensions {
                    plans[target]?.dimensions.removeAll { $0.name == name }
                    plans[target]?.dimensions.append((name, expression))
                    plans[target]?.dimensions.sort { $0.name < $1.name }
                }
            }
        }
        self.plans = plans
    }
}

/// The value of a custom tag (`Telemetry` `tagOverrides` with `UPSERT`). The proxy evaluates a
/// subset of CEL: a string literal, `request.headers['name']`, `request.method`, `request.host`,
/// `request.url_path`; anything else reports `unknown`, as Istio reports an expression that
/// fails to evaluate.
enum TagExpression: Sendable, Hashable {
    case literal(String)
    case requestHeader(String)
    case requestMethod
    case requestHost
    case requestPath
    case unsupported(String)

    init(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func quoted(_ value: Substring) -> String? {
            guard value.count >= 2, let first = value.first, first == "'" || first == "\"", value.last == first else { return nil }
            return String(value.dropFirst().dropLast())
        }
        if let literal = quoted(Substring(trimmed)) {
            self = .literal(literal)
        } else if trimmed.hasPrefix("request.headers["), trimmed.hasSuffix("]"),
                  let name = quoted(trimmed.dropFirst("request.headers[".count).dropLast()) {
            self = .requestHeader(name.lowercased())
        } else if trimmed == "request.method" {
            self = .requestMethod
        } else if trimmed == "request.host" {
            self = .requestHost
        } else if trimmed == "request.url_path" {
            self = .requestPath
        } else {
            self = .unsupported(trimmed)
        }
    }

    /// The value for a request (nil for TCP connections, where only literals apply).
    func value(request: HTTPRequestHead?) -> String {
        switch self {
        case .literal(let value): return value
        case .requestHeader(let name): return request?.headers.first(name: name) ?? "unknown"
        case .requestMethod: return request?.method.rawValue ?? "unknown"
        case .requestHost: return request?.headers.first(name: "host") ?? "unknown"
        case .requestPath:
            guard let uri = request?.uri else { return "unknown" }
            return String(uri.prefix { $0 != "?" })
        case .unsupported: return "unknown"
        }
    }
}

/// Istio's peer metadata filter (`istio.metadata_exchange`, `io.istio.http.peer_metadata.Config`)
/// as the Swift proxy runs it.
public struct PeerMetadataConfiguration: Sendable, Hashable {
    /// The configuration type.
    public static let typeURL = "type.googleapis.com/io.istio.http.peer_metadata.Config"

    /// Discovery methods, in order.
    enum Method: Sendable, Hashable {
        /// The exchange headers.
        case headers
        /// The upstream endpoint's `istio.workload` metadata (upstream only).
        case workloadMetadata
    }

    var downstreamDiscovery: [Method]
    var upstreamDiscovery: [Method]
    /// Answer with this proxy's metadata when the request carried the exchange headers.
    var downstreamPropagation: Bool
    /// Send this proxy's metadata with every upstream request.
    var upstreamPropagation: Bool
    /// Leave the headers out for clusters marked `istio.external` and PassthroughCluster.
    var skipExternalClusters: Bool

    /// Parses the filter's configuration.
    public init(config: Google_Protobuf_Any) throws {
        let parsed: Io_Istio_Http_PeerMetadata_Config
        do { parsed = try IstioStatsConfiguration.decode(config) } catch {
            throw FilterConfigurationError(field: "typed_config", "cannot decode io.istio.http.peer_metadata.Config: \(error)")
        }
        func methods(_ list: [Io_Istio_Http_PeerMetadata_Config.DiscoveryMethod]) -> [Method] {
            list.compactMap { method in
                switch method.methodSpecifier {
                case .istioHeaders?: .headers
                case .workloadDiscovery?: .workloadMetadata
                case nil: nil
                }
            }
        }
        downstreamDiscovery = methods(parsed.downstreamDiscovery)
        upstreamDiscovery = methods(parsed.upstreamDiscovery)
        downstreamPropagation = parsed.downstreamPropagation.contains { $0.methodSpecifier != nil }
        upstreamPropagation = parsed.upstreamPropagation.contains { $0.methodSpecifier != nil }
        skipExternalClusters = (parsed.downstreamPropagation + parsed.upstreamPropagation).contains {
            if case .istioHeaders(let headers)? = $0.methodSpecifier { return headers.skipExternalClusters }
            return false
        }
    }
}
