public import MeshXDS
import SwiftProtobuf

/// Envoy's HTTP connection manager as the proxy runs it.
public struct HTTPConnectionManagerConfiguration: Sendable {
    /// Where the routes come from.
    public enum RouteSource: Sendable {
        /// A RouteConfiguration delivered over RDS, by name.
        case rds(String)
        /// A RouteConfiguration inside the listener.
        case inline(Envoy_Config_Route_V3_RouteConfiguration)
    }

    /// The downstream codec.
    public enum Codec: Sendable, Hashable {
        /// HTTP/1.1, or HTTP/2 when the connection starts with the h2c preface.
        case auto
        /// HTTP/1.1 only.
        case http1
        /// HTTP/2 only.
        case http2
    }

    /// One configured HTTP filter, before the router.
    public struct Filter: Sendable {
        /// The filter's name (used for `typed_per_filter_config` lookups).
        public var name: String
        /// The factory that makes it, with its validated configuration.
        public var factory: any HTTPFilterFactory
    }

    /// Prefix of this manager's stats (`http.<prefix>.downstream_rq_total`).
    public var statPrefix: String
    /// The codec.
    public var codec: Codec
    /// Where routes come from.
    public var routes: RouteSource
    /// The filters before the router, in order.
    public var filters: [Filter]
    /// Whether the remote address is the client (`use_remote_address`), which decides
    /// `x-forwarded-for` and `x-envoy-external-address`.
    public var useRemoteAddress: Bool
    /// Trusted `x-forwarded-for` hops.
    public var xffNumTrustedHops: Int
    /// Do not append to `x-forwarded-for`.
    public var skipXFFAppend: Bool
    /// Value appended to `via`, if any.
    public var via: String
    /// Whether to add `x-request-id` when missing (true by default).
    public var generateRequestID: Bool
    /// Keep an incoming `x-request-id` even from an external client.
    public var preserveExternalRequestID: Bool
    /// Echo `x-request-id` in every response.
    public var alwaysSetRequestIDInResponse: Bool
    /// What to do with `x-forwarded-client-cert`.
    public var forwardClientCertDetails: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.ForwardClientCertDetails
    /// The `server` response header's value (`envoy` by default).
    public var serverName: String
    /// Whether to overwrite, add when absent or pass through `server`.
    public var serverHeaderTransformation: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.ServerHeaderTransformation
    /// How long a stream may go without activity (5 minutes by default; nil disables).
    public var streamIdleTimeout: Duration?
    /// How long a whole request may take to arrive (disabled by default).
    public var requestTimeout: Duration?
    /// How long a connection with no streams stays open (1 hour by default; nil disables).
    public var idleTimeout: Duration?
    /// Limit on request header bytes (60 KiB by default).
    public var maxRequestHeadersBytes: Int
    /// Requests per downstream connection before it is closed (nil for no limit).
    public var maxRequestsPerConnection: Int?
    /// RFC 3986 path normalisation before routing.
    public var normalizePath: Bool
    /// Collapse `//` in paths before routing.
    public var mergeSlashes: Bool
    /// Upgrade types allowed through (`websocket`).
    public var upgradeTypes: Set<String>
    /// Strip the port from `host` before routing (`strip_any_host_port`).
    public var stripAnyHostPort: Bool
    /// How long any stream may last (`common_http_protocol_options.max_stream_duration`; nil for no limit).
    public var maxStreamDuration: Duration?
    /// How long a downstream connection may stay open before it is drained
    /// (`common_http_protocol_options.max_connection_duration`; nil for no limit).
    public var maxConnectionDuration: Duration?
    /// `internal_address_config.cidr_ranges`: downstream addresses whose requests are internal
    /// (`x-envoy-internal: true`, Envoy headers kept). Unset, no address is internal (Envoy's
    /// default since 1.32).
    public var internalAddresses: [CIDRRange] = []
    /// `proxy_100_continue`: `Expect: 100-continue` goes to the upstream and its `100 Continue`
    /// comes back; by default (false) the proxy answers `100 Continue` itself and removes the header.
    public var proxy100Continue: Bool = false
    /// `http_protocol_options.accept_http_10`: HTTP/1.0 requests are served. By default (false)
    /// they are answered `426 Upgrade Required` and the connection closes, as Envoy does.
    public var acceptHTTP10: Bool = false
    /// `http_protocol_options.default_host_for_http_10`: the host an accepted HTTP/1.0 request
    /// without a `host` header is routed by.
    public var defaultHostForHTTP10: String?
    /// `drain_timeout`: between the first and the final GOAWAY of a draining HTTP/2 connection
    /// (default 5 s).
    public var drainTimeout: Duration = .seconds(5)
    /// The Envoy resource, for `/config_dump`.
    public var source: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    /// Access logs written when each stream ends (`access_log`).
    public var accessLogs: [AccessLogConfiguration] = []
    /// Istio's stats filter (`istio.stats`), if configured.
    public var istioStats: IstioStatsConfiguration?
    /// Istio's peer metadata filter (`istio.metadata_exchange`), if configured.
    public var peerMetadata: PeerMetadataConfiguration?
    /// Whether `tracing` is set. The proxy reports no spans, but as in Envoy, route decorators
    /// travel in `x-envoy-decorator-operation` only on a traced connection manager.
    public var tracing: Bool = false

    init(_ manager: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager, field: String, context: ConfigurationContext, registry: HTTPFilterRegistry) throws(ProxyConfigurationError) {
        source = manager
        statPrefix = manager.statPrefix
        switch manager.codecType {
        case .auto: codec = .auto
        case .http1: codec = .http1
        case .http2: codec = .http2
        default: throw context.error(.unsupported, "\(field).codec_type", "codec \(manager.codecType) is not supported")
        }
        switch manager.routeSpecifier {
        case .rds(let rds):
            guard !rds.routeConfigName.isEmpty else { throw context.error(.invalid, "\(field).rds.route_config_name", "RDS needs a route configuration name") }
            let fromADS: Bool
            switch rds.configSource.configSourceSpecifier {
            case .none, .ads: fromADS = true
            default: fromADS = false
            }
            guard fromADS else {
                throw context.error(.unsupported, "\(field).rds.config_source", "only ADS route sources are supported")
            }
            routes = .rds(rds.routeConfigName)
        case .routeConfig(let config):
            routes = .inline(config)
        default:
            throw context.error(.unsupported, "\(field).route_specifier", "scoped routes are not supported; use rds or route_config")
        }
        var filters: [Filter] = []
        var sawRouter = false
        for (index, filter) in manager.httpFilters.enumerated() {
            let filterField = "\(field).http_filters[\(index)]"
            if sawRouter { throw context.error(.invalid, filterField, "filter \"\(filter.name)\" comes after the terminal router") }
            guard case .typedConfig(let typed) = filter.configType else {
                throw context.error(.unsupported, "\(filterField).config_discovery", "filter \"\(filter.name)\" needs ECDS, which is not supported")
            }
            if HTTPFilterRegistry.typeName(typed.typeURL) == "envoy.extensions.filters.http.router.v3.Router" {
                sawRouter = true
                continue
            }
            if filter.disabled { continue }
            // Istio's stats and peer metadata filters are part of the engine (they read the
            // stream's peers, cluster and TLS identities), not registry filters.
            if IstioStatsConfiguration.isType(typed, IstioStatsConfiguration.typeURL) {
                do { istioStats = try IstioStatsConfiguration(config: typed) } catch {
                    throw context.error(.invalid, "\(filterField).typed_config", "\(error)")
                }
                continue
            }
            if IstioStatsConfiguration.isType(typed, PeerMetadataConfiguration.typeURL) {
                do { peerMetadata = try PeerMetadataConfiguration(config: typed) } catch {
                    throw context.error(.invalid, "\(filterField).typed_config", "\(error)")
                }
                continue
            }
            guard let factoryType = registry.factory(for: typed) else {
                if filter.isOptional { continue }
                throw context.error(.unsupported, "\(filterField).typed_config", "HTTP filter \"\(filter.name)\" (\(typed.typeURL)) is not supported by the Swift proxy")
            }
            do {
                filters.append(Filter(name: filter.name, factory: try factoryType.init(config: typed)))
            } catch {
                throw context.error((error as? FilterConfigurationError)?.isUnsupported == true ? .unsupported : .invalid, "\(filterField).typed_config", "\(error)")
            }
        }
        guard sawRouter else { throw context.error(.invalid, "\(field).http_filters", "the last HTTP filter must be envoy.filters.http.router") }
        self.filters = filters
        useRemoteAddress = manager.hasUseRemoteAddress && manager.useRemoteAddress.value
        xffNumTrustedHops = Int(manager.xffNumTrustedHops)
        skipXFFAppend = manager.skipXffAppend
        via = manager.via
        generateRequestID = manager.hasGenerateRequestID ? manager.generateRequestID.value : true
        preserveExternalRequestID = manager.preserveExternalRequestID
        alwaysSetRequestIDInResponse = manager.alwaysSetRequestIDInResponse
        forwardClientCertDetails = manager.forwardClientCertDetails
        serverName = manager.serverName.isEmpty ? "envoy" : manager.serverName
        serverHeaderTransformation = manager.serverHeaderTransformation
        streamIdleTimeout = manager.hasStreamIdleTimeout ? manager.streamIdleTimeout.durationOrNil : .seconds(300)
        requestTimeout = manager.hasRequestTimeout ? manager.requestTimeout.durationOrNil : nil
        idleTimeout = manager.hasCommonHTTPProtocolOptions && manager.commonHTTPProtocolOptions.hasIdleTimeout
            ? manager.commonHTTPProtocolOptions.idleTimeout.durationOrNil : .seconds(3600)
        maxRequestHeadersBytes = manager.hasMaxRequestHeadersKb ? Int(manager.maxRequestHeadersKb.value) * 1024 : 60 * 1024
        maxRequestsPerConnection = manager.hasCommonHTTPProtocolOptions && manager.commonHTTPProtocolOptions.hasMaxRequestsPerConnection
            ? Int(manager.commonHTTPProtocolOptions.maxRequestsPerConnection.value) : nil
        normalizePath = manager.hasNormalizePath && manager.normalizePath.value
        mergeSlashes = manager.mergeSlashes
        var upgrades: Set<String> = []
        for (index, upgrade) in manager.upgradeConfigs.enumerated() {
            if !upgrade.filters.isEmpty {
                throw context.error(.unsupported, "\(field).upgrade_configs[\(index)].filters", "per-upgrade filter chains are not supported")
            }
            if !upgrade.hasEnabled || upgrade.enabled.value { upgrades.insert(upgrade.upgradeType.lowercased()) }
        }
        upgradeTypes = upgrades
        if case .stripAnyHostPort(let strip) = manager.stripPortMode { stripAnyHostPort = strip } else { stripAnyHostPort = false }
        let common = manager.commonHTTPProtocolOptions
        maxStreamDuration = manager.hasCommonHTTPProtocolOptions && common.hasMaxStreamDuration ? common.maxStreamDuration.durationOrNil : nil
        maxConnectionDuration = manager.hasCommonHTTPProtocolOptions && common.hasMaxConnectionDuration ? common.maxConnectionDuration.durationOrNil : nil
        if manager.hasDrainTimeout { drainTimeout = manager.drainTimeout.swiftDuration }
        proxy100Continue = manager.proxy100Continue
        acceptHTTP10 = manager.httpProtocolOptions.acceptHTTP10
        let defaultHost = manager.httpProtocolOptions.defaultHostForHTTP10
        defaultHostForHTTP10 = defaultHost.isEmpty ? nil : defaultHost
        for (index, range) in manager.internalAddressConfig.cidrRanges.enumerated() {
            internalAddresses.append(try CIDRRange(range, field: "\(field).internal_address_config.cidr_ranges[\(index)]", context: context))
        }
        tracing = manager.hasTracing
        accessLogs = try AccessLogConfiguration.list(manager.accessLog, field: "\(field).access_log", context: context)
    }
}

extension Google_Protobuf_Duration {
    /// The duration, or nil when it is zero (Envoy's "disabled").
    var durationOrNil: Duration? {
        let value = Duration.seconds(seconds) + .nanoseconds(Int64(nanos))
        return value == .zero ? nil : value
    }

    /// The duration as a Swift value.
    var swiftDuration: Duration { .seconds(seconds) + .nanoseconds(Int64(nanos)) }
}
