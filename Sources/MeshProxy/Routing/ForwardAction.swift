internal import MeshXDS
public import SwiftProtobuf

/// One cluster of a `weighted_clusters` split.
public struct WeightedCluster: Sendable {
    /// The cluster name; empty when ``clusterHeader`` names it.
    public let name: String
    /// A request header whose value names the cluster (`cluster_header`), instead of ``name``.
    public let clusterHeader: String?
    /// The cluster's weight.
    public let weight: UInt32
    /// Request header operations for this cluster only.
    public let requestHeaderMutations: HeaderMutationLevel
    /// Response header operations for this cluster only.
    public let responseHeaderMutations: HeaderMutationLevel
    /// Filter configurations for this cluster, overriding the route's.
    public let typedPerFilterConfig: [String: Google_Protobuf_Any]
    /// The authority sent upstream when this cluster is chosen (`host_rewrite_literal`).
    public let hostRewriteLiteral: String?
}

/// The cluster a forwarded request goes to, and the weighted entry that chose it.
public struct ClusterSelection: Sendable {
    /// The cluster's name.
    public let cluster: String
    /// The weighted entry, when the route splits traffic.
    public let weightedCluster: WeightedCluster?
}

/// A route's `route` action: where and how to forward.
public final class ForwardAction: Sendable {
    /// How the upstream cluster is chosen.
    public enum ClusterSpecifier: Sendable {
        /// One cluster.
        case cluster(String)
        /// A weighted split. `randomHeader` names a request header whose integer value replaces the
        /// request's random value (`weighted_clusters.header_name`).
        case weighted([WeightedCluster], totalWeight: UInt64, randomHeader: String?)
        /// The cluster named by a request header's value.
        case clusterHeader(String)
    }

    /// How the authority sent upstream is rewritten.
    public enum HostRewrite: Sendable {
        /// A fixed authority (`host_rewrite_literal`).
        case literal(String)
        /// The chosen upstream host's hostname (`auto_host_rewrite`), applied by the engine after
        /// load balancing (strict and logical DNS clusters only).
        case auto
        /// The value of a request header (`host_rewrite_header`), when present.
        case header(String)
        /// A regex substitution on the path (`host_rewrite_path_regex`).
        case pathRegex
    }

    /// `max_stream_duration` settings.
    public struct MaxStreamDuration: Sendable, Hashable {
        /// The longest a stream may last, nil for no limit.
        public let maxStreamDuration: Duration?
        /// Honour the `grpc-timeout` header up to this cap; `.zero` means uncapped; nil ignores the header.
        public let grpcTimeoutHeaderMax: Duration?
        /// Subtracted from a `grpc-timeout` header value.
        public let grpcTimeoutHeaderOffset: Duration?
    }

    /// One `upgrade_configs` entry.
    public struct Upgrade: Sendable, Hashable {
        /// The upgrade type, lowercased (`websocket`, `connect`).
        public let type: String
        /// Whether the route enables it; nil defers to the connection manager.
        public let enabled: Bool?
        /// For CONNECT: also terminate POST requests (`connect_config.allow_post`).
        public let allowPost: Bool
    }

    /// How the cluster is chosen.
    public let clusterSpecifier: ClusterSpecifier
    /// The status when the cluster does not exist (`cluster_not_found_response_code`: 503, 404 or 500).
    public let clusterNotFoundResponseCode: Int
    /// Whether the path is rewritten (`prefix_rewrite` or `regex_rewrite`).
    public var rewritesPath: Bool { pathRewrite != nil }
    /// How the authority is rewritten, if it is.
    public let hostRewrite: HostRewrite?
    /// Whether a rewritten authority's original goes into `x-forwarded-host`.
    public let appendXForwardedHost: Bool
    /// The route timeout; nil when disabled (`0s`). Envoy's default is 15 s.
    public let timeout: Duration?
    /// The stream idle timeout for this route; nil defers to the connection manager.
    public let idleTimeout: Duration?
    /// `max_stream_duration`, if set.
    public let maxStreamDuration: MaxStreamDuration?
    /// The retry policy (the route's, else the virtual host's), nil for no retries.
    public let retryPolicy: RetryPolicy?
    /// ``retryPolicy`` as each stream's router applies it.
    let retryPlan: RetryPlan?
    /// `hash_policy`, for consistent-hash load balancers.
    public let hashPolicies: [HashPolicy]
    /// Mirrors (the route's, else the virtual host's, else the route configuration's).
    public let requestMirrorPolicies: [RequestMirrorPolicy]
    /// `upgrade_configs`.
    public let upgrades: [Upgrade]

    let pathRewrite: PathRewrite?
    let hostPathRegex: (regex: CompiledRegex, substitution: RegexSubstitution)?
    let pathMatcher: PathMatcher

    /// Envoy's default route timeout.
    public static let defaultTimeout: Duration = .seconds(15)

    init(
        _ proto: Envoy_Config_Route_V3_RouteAction,
        _ field: String,
        pathMatcher: PathMatcher,
        virtualHostRetryPolicy: RetryPolicy?,
        inheritedMirrors: [RequestMirrorPolicy],
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) {
        self.pathMatcher = pathMatcher
        switch proto.clusterSpecifier {
        case .cluster(let name):
            guard !name.isEmpty else { throw context.invalid(field + ".cluster", "cluster name is empty") }
            clusterSpecifier = .cluster(name)
        case .clusterHeader(let header):
            let name = ASCII.lowercased(header)
            guard !name.isEmpty else {
                throw context.invalid(field + ".cluster_header", "\"\(header)\" is not a usable header name")
            }
            clusterSpecifier = .clusterHeader(name)
        case .weightedClusters(let weighted):
            clusterSpecifier = try Self.weighted(weighted, field + ".weighted_clusters", context)
        case nil:
            throw context.unsupported(field, "a route action needs cluster, cluster_header or weighted_clusters (cluster specifier plugins are not supported)")
        }
        switch proto.clusterNotFoundResponseCode {
        case .serviceUnavailable: clusterNotFoundResponseCode = 503
        case .notFound: clusterNotFoundResponseCode = 404
        case .internalServerError: clusterNotFoundResponseCode = 500
        case .UNRECOGNIZED(let raw): throw context.invalid(field + ".cluster_not_found_response_code", "unknown code \(raw)")
        }
        guard !proto.hasMetadataMatch else {
            throw context.unsupported(field + ".metadata_match", "endpoint subset selection by metadata is not supported")
        }
        guard !proto.hasPathRewritePolicy else {
            throw context.unsupported(field + ".path_rewrite_policy", "path rewrite policy \"\(proto.pathRewritePolicy.name)\" (URI templates) is not supported")
        }
        if !proto.prefixRewrite.isEmpty, proto.hasRegexRewrite {
            throw context.invalid(field, "prefix_rewrite and regex_rewrite are both set")
        }
        if !proto.prefixRewrite.isEmpty {
            if case .connect = pathMatcher.specifier {
                throw context.invalid(field + ".prefix_rewrite", "a CONNECT route cannot rewrite the path")
            }
            pathRewrite = .prefix(proto.prefixRewrite)
        } else if proto.hasRegexRewrite {
            let (regex, substitution) = try RouteRegexRewrite.compile(proto.regexRewrite, field + ".regex_rewrite", context)
            pathRewrite = .regex(regex, substitution)
        } else {
            pathRewrite = nil
        }
        var pathRegex: (CompiledRegex, RegexSubstitution)?
        switch proto.hostRewriteSpecifier {
        case .hostRewriteLiteral(let literal):
            guard !literal.isEmpty else { throw context.invalid(field + ".host_rewrite_literal", "must not be empty") }
            hostRewrite = .literal(literal)
        case .autoHostRewrite(let flag):
            hostRewrite = flag.value ? .auto : nil
        case .hostRewriteHeader(let header):
            guard !header.isEmpty else { throw context.invalid(field + ".host_rewrite_header", "must not be empty") }
            hostRewrite = .header(ASCII.lowercased(header))
        case .hostRewritePathRegex(let rewrite):
            pathRegex = try RouteRegexRewrite.compile(rewrite, field + ".host_rewrite_path_regex", context)
            hostRewrite = .pathRegex
        case nil:
            hostRewrite = nil
        }
        hostPathRegex = pathRegex
        appendXForwardedHost = proto.appendXForwardedHost
        if proto.hasTimeout {
            let value = try context.duration(proto.timeout, field + ".timeout")
            timeout = value == .zero ? nil : value
        } else {
            timeout = Self.defaultTimeout
        }
        idleTimeout = try proto.hasIdleTimeout ? context.duration(proto.idleTimeout, field + ".idle_timeout") : nil
        if proto.hasMaxStreamDuration {
            let m = proto.maxStreamDuration
            let f = field + ".max_stream_duration"
            maxStreamDuration = MaxStreamDuration(
                maxStreamDuration: try m.hasMaxStreamDuration ? context.duration(m.maxStreamDuration, f + ".max_stream_duration").nonZero : nil,
                grpcTimeoutHeaderMax: try m.hasGrpcTimeoutHeaderMax ? context.duration(m.grpcTimeoutHeaderMax, f + ".grpc_timeout_header_max") : nil,
                grpcTimeoutHeaderOffset: try m.hasGrpcTimeoutHeaderOffset ? context.duration(m.grpcTimeoutHeaderOffset, f + ".grpc_timeout_header_offset") : nil
            )
        } else {
            maxStreamDuration = nil
        }
        retryPolicy = try proto.hasRetryPolicy ? RetryPolicy(proto.retryPolicy, field + ".retry_policy", context) : virtualHostRetryPolicy
        retryPlan = retryPolicy.map(RetryPlan.init)
        if proto.hasHedgePolicy, Self.hedges(proto.hedgePolicy) {
            throw context.unsupported(field + ".hedge_policy", "request hedging is not supported")
        }
        guard !proto.hasInternalRedirectPolicy else {
            throw context.unsupported(field + ".internal_redirect_policy", "internal redirects are not supported")
        }
        guard !proto.hasCors else {
            throw context.unsupported(field + ".cors", "route-action CORS is not supported; configure typed_per_filter_config[envoy.filters.http.cors]")
        }
        guard proto.priority == .default else {
            throw context.unsupported(field + ".priority", "only the DEFAULT routing priority is supported")
        }
        var hashes: [HashPolicy] = []
        for (i, policy) in proto.hashPolicy.enumerated() {
            hashes.append(try HashPolicy(policy, field + ".hash_policy[\(i)]", context))
        }
        hashPolicies = hashes
        if proto.requestMirrorPolicies.isEmpty {
            requestMirrorPolicies = inheritedMirrors
        } else {
            var mirrors: [RequestMirrorPolicy] = []
            for (i, mirror) in proto.requestMirrorPolicies.enumerated() {
                mirrors.append(try RequestMirrorPolicy(mirror, field + ".request_mirror_policies[\(i)]", context))
            }
            requestMirrorPolicies = mirrors
        }
        var upgrades: [Upgrade] = []
        for (i, upgrade) in proto.upgradeConfigs.enumerated() {
            guard !upgrade.upgradeType.isEmpty else {
                throw context.invalid(field + ".upgrade_configs[\(i)].upgrade_type", "must not be empty")
            }
            if upgrade.connectConfig.hasProxyProtocolConfig {
                throw context.unsupported(field + ".upgrade_configs[\(i)].connect_config.proxy_protocol_config", "PROXY protocol on CONNECT upstreams is not supported")
            }
            upgrades.append(Upgrade(
                type: ASCII.lowercased(upgrade.upgradeType),
                enabled: upgrade.hasEnabled ? upgrade.enabled.value : nil,
                allowPost: upgrade.connectConfig.allowPost
            ))
        }
        self.upgrades = upgrades
    }

    static func hedges(_ policy: Envoy_Config_Route_V3_HedgePolicy) -> Bool {
        (policy.hasInitialRequests && policy.initialRequests.value > 1)
            || (policy.hasAdditionalRequestChance && policy.additionalRequestChance.numerator > 0)
            || policy.hedgeOnPerTryTimeout
    }

    private static func weighted(
        _ proto: Envoy_Config_Route_V3_WeightedCluster,
        _ field: String,
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) -> ClusterSpecifier {
        guard !proto.clusters.isEmpty else { throw context.invalid(field + ".clusters", "a weighted split needs at least one cluster") }
        var clusters: [WeightedCluster] = []
        var total: UInt64 = 0
        for (i, entry) in proto.clusters.enumerated() {
            let f = "\(field).clusters[\(i)]"
            if entry.name.isEmpty == entry.clusterHeader.isEmpty {
                throw context.invalid(f, "exactly one of name and cluster_header must be set")
            }
            guard !entry.hasMetadataMatch else {
                throw context.unsupported(f + ".metadata_match", "endpoint subset selection by metadata is not supported")
            }
            let weight = entry.hasWeight ? entry.weight.value : 0
            total += UInt64(weight)
            var literal: String?
            if case .hostRewriteLiteral(let value) = entry.hostRewriteSpecifier {
                guard !value.isEmpty else { throw context.invalid(f + ".host_rewrite_literal", "must not be empty") }
                literal = value
            }
            clusters.append(WeightedCluster(
                name: entry.name,
                clusterHeader: entry.clusterHeader.isEmpty ? nil : ASCII.lowercased(entry.clusterHeader),
                weight: weight,
                requestHeaderMutations: try HeaderMutationLevel(add: entry.requestHeadersToAdd, remove: entry.requestHeadersToRemove, field: f + ".", direction: "request", context),
                responseHeaderMutations: try HeaderMutationLevel(add: entry.responseHeadersToAdd, remove: entry.responseHeadersToRemove, field: f + ".", direction: "response", context),
                typedPerFilterConfig: entry.typedPerFilterConfig,
                hostRewriteLiteral: literal
            ))
        }
        guard total > 0 else { throw context.invalid(field + ".clusters", "the sum of the weights must be greater than zero") }
        guard total <= UInt64(UInt32.max) else {
            throw context.invalid(field + ".clusters", "the sum of the weights (\(total)) exceeds \(UInt32.max)")
        }
        if proto.hasTotalWeight, UInt64(proto.totalWeight.value) != total {
            throw context.invalid(field + ".total_weight", "total_weight \(proto.totalWeight.value) differs from the sum of the weights (\(total))")
        }
        var randomHeader: String?
        switch proto.randomValueSpecifier {
        case .headerName(let name):
            guard !name.isEmpty else { throw context.invalid(field + ".header_name", "must not be empty") }
            randomHeader = ASCII.lowercased(name)
        case .useHashPolicy(let flag) where flag.value:
            throw context.unsupported(field + ".use_hash_policy", "choosing a weighted cluster by the hash policy is not supported")
        case .useHashPolicy, nil:
            randomHeader = nil
        }
        guard proto.runtimeKeyPrefix.isEmpty else {
            throw context.unsupported(field + ".runtime_key_prefix", "runtime-overridden weights are not supported")
        }
        return .weighted(clusters, totalWeight: total, randomHeader: randomHeader)
    }

    /// Picks the weighted entry for a random value exactly as Envoy does: `random % total`, then the
    /// first entry whose cumulative weight exceeds it.
    public static func selectWeighted(_ clusters: [WeightedCluster], totalWeight: UInt64, random: UInt64) -> WeightedCluster? {
        guard totalWeight > 0 else { return nil }
        let selected = random % totalWeight
        var end: UInt64 = 0
        for cluster in clusters {
            end += UInt64(cluster.weight)
            if selected < end { return cluster }
        }
        return nil
    }

    /// The cluster for a request, or nil when the request lacks the header that names it (Envoy then
    /// answers with ``clusterNotFoundResponseCode``).
    public func selectCluster(for request: RouteRequest) -> ClusterSelection? {
        switch clusterSpecifier {
        case .cluster(let name):
            return ClusterSelection(cluster: name, weightedCluster: nil)
        case .clusterHeader(let header):
            guard let name = request.pseudoHeader(header) ?? request.headers.first(name: header), !name.isEmpty else { return nil }
            return ClusterSelection(cluster: name, weightedCluster: nil)
        case .weighted(let clusters, let total, let randomHeader):
            var random = request.randomValue
            if let randomHeader, let text = request.headers.first(name: randomHeader), let value = UInt64(text) {
                random = value
            }
            guard let entry = Self.selectWeighted(clusters, totalWeight: total, random: random) else { return nil }
            if let header = entry.clusterHeader {
                guard let name = request.headers.first(name: header), !name.isEmpty else { return nil }
                return ClusterSelection(cluster: name, weightedCluster: entry)
            }
            return ClusterSelection(cluster: entry.name, weightedCluster: entry)
        }
    }

    /// The path sent upstream: `prefix_rewrite` replaces the matched prefix (the whole path for exact
    /// and regex matches); `regex_rewrite` replaces every match in the path without its query, and the
    /// query is kept. The request's own path when nothing is rewritten.
    public func rewrittenPath(for request: RouteRequest) -> String {
        pathRewrite?.apply(to: request.path, matcher: pathMatcher) ?? request.path
    }

    /// The authority sent upstream, or nil to keep the request's (and for ``HostRewrite/auto``, which
    /// the engine resolves from the chosen host). A weighted cluster's `host_rewrite_literal` wins.
    public func rewrittenAuthority(for request: RouteRequest, cluster: WeightedCluster? = nil) -> String? {
        if let literal = cluster?.hostRewriteLiteral { return literal }
        switch hostRewrite {
        case .literal(let literal): return literal
        case .header(let header):
            guard let value = request.headers.first(name: header), !value.isEmpty else { return nil }
            return value
        case .pathRegex:
            guard let rewrite = hostPathRegex else { return nil }
            return rewrite.regex.replaceAll(in: ASCII.pathWithoutQuery(request.path), with: rewrite.substitution)
        case .auto, nil:
            return nil
        }
    }
}
