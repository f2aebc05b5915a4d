public import MeshXDS
public import SwiftProtobuf
internal import Foundation

/// A compiled virtual host: its routes and the settings requests through it inherit. Immutable;
/// a class so that a match hands out a reference rather than a copy of every field.
public final class VirtualHostEntry: Sendable {
    /// Whether plain-text requests are redirected to `https` (`require_tls`).
    public enum TLSRequirement: Sendable, Hashable {
        /// No requirement.
        case none
        /// Redirect plain-text requests unless they carry `x-envoy-internal: true`.
        case externalOnly
        /// Redirect every plain-text request.
        case all
    }

    /// The virtual host's name.
    public let name: String
    /// Its domains, as configured.
    public let domains: [String]
    /// `require_tls`.
    public let requireTLS: TLSRequirement
    /// Whether upstream requests carry `x-envoy-attempt-count`.
    public let includeRequestAttemptCount: Bool
    /// Whether downstream responses carry `x-envoy-attempt-count`.
    public let includeAttemptCountInResponse: Bool
    /// The virtual host's filter configurations (already merged into each route's).
    public let typedPerFilterConfig: [String: Google_Protobuf_Any]
    /// The virtual host's retry policy (already applied to routes that have none).
    public let retryPolicy: RetryPolicy?
    /// The routes, in match order.
    public let routes: [RouteEntry]
    let tlsRedirect: RouteEntry

    init(
        name: String, domains: [String], requireTLS: TLSRequirement, includeRequestAttemptCount: Bool, includeAttemptCountInResponse: Bool,
        typedPerFilterConfig: [String: Google_Protobuf_Any], retryPolicy: RetryPolicy?, routes: [RouteEntry], tlsRedirect: RouteEntry
    ) {
        self.name = name
        self.domains = domains
        self.requireTLS = requireTLS
        self.includeRequestAttemptCount = includeRequestAttemptCount
        self.includeAttemptCountInResponse = includeAttemptCountInResponse
        self.typedPerFilterConfig = typedPerFilterConfig
        self.retryPolicy = retryPolicy
        self.routes = routes
        self.tlsRedirect = tlsRedirect
    }
}

/// A route chosen for a request.
public struct RouteMatchResult: Sendable {
    /// The virtual host the authority selected.
    public let virtualHost: VirtualHostEntry
    /// The first route of that host that matched.
    public let route: RouteEntry
}

/// A compiled `RouteConfiguration`: built once per RDS update, used by every request.
///
/// Building validates the whole resource the way Envoy does and throws a ``ProxyConfigurationError``
/// (resource type `RouteConfiguration`) naming the offending field, so the proxy can NACK it.
/// Fields that change behaviour this proxy does not implement are rejected as unsupported rather
/// than ignored; `metadata`, `virtual_clusters`, `tracing`, `stat_prefix` and runtime keys are ignored
/// (a `runtime_fraction` always uses its `default_value`).
///
/// Regular expressions (`safe_regex` everywhere) are compiled once, here, with Swift `Regex`. Its
/// syntax covers RE2's; it also accepts backreferences and look-around, which Envoy would reject,
/// and it backtracks instead of running in linear time. A pattern that does not compile is an
/// invalid-configuration error naming the field.
///
/// ```swift
/// let table = try RouteTable(routeConfiguration)
/// if let match = table.route(for: request), case .forward(let forward) = match.route.action {
///     let cluster = forward.selectCluster(for: request)
/// }
/// ```
public final class RouteTable: Sendable {
    /// The route configuration's name.
    public let name: String
    /// The virtual hosts, in configuration order.
    public let virtualHosts: [VirtualHostEntry]
    /// Headers removed from requests that did not come from inside the mesh (`internal_only_headers`), lowercased.
    public let internalOnlyHeaders: [String]
    /// `validate_clusters`, nil when unset (Envoy then validates only static route tables).
    public let validateClusters: Bool?
    /// The largest direct response body accepted (`max_direct_response_body_size_bytes`, default 4096).
    public let maxDirectResponseBodySize: Int
    /// Whether the authority's port is ignored when choosing a virtual host (default false: an
    /// authority with a port matches only domains with that port, or wildcards).
    public let ignorePortInHostMatching: Bool
    /// Whether the most specific level's header operations are applied last.
    public let mostSpecificHeaderMutationsWins: Bool
    /// Every cluster a route names directly (not those named by request headers).
    public let referencedClusters: Set<String>

    private let selector: VirtualHostSelector<Int>

    /// Envoy's default limit for direct response bodies.
    public static let defaultMaxDirectResponseBodySize = 4096

    /// Compiles a route configuration.
    /// - Parameter config: The RDS resource.
    /// - Throws: ``ProxyConfigurationError`` naming the first field that is invalid or unsupported.
    public init(_ config: Envoy_Config_Route_V3_RouteConfiguration) throws(ProxyConfigurationError) {
        let context = RouteConfigurationContext(resourceName: config.name)
        name = config.name
        guard !config.hasVhds else {
            throw context.unsupported("vhds", "virtual host discovery (VHDS) is not supported")
        }
        internalOnlyHeaders = config.internalOnlyHeaders.map(ASCII.lowercased)
        validateClusters = config.hasValidateClusters ? config.validateClusters.value : nil
        maxDirectResponseBodySize = config.hasMaxDirectResponseBodySizeBytes
            ? Int(config.maxDirectResponseBodySizeBytes.value) : Self.defaultMaxDirectResponseBodySize
        ignorePortInHostMatching = config.ignorePortInHostMatching
        mostSpecificHeaderMutationsWins = config.mostSpecificHeaderMutationsWins

        let configRequest = try HeaderMutationLevel(add: config.requestHeadersToAdd, remove: config.requestHeadersToRemove, field: "", direction: "request", context)
        let configResponse = try HeaderMutationLevel(add: config.responseHeadersToAdd, remove: config.responseHeadersToRemove, field: "", direction: "response", context)
        var configMirrors: [RequestMirrorPolicy] = []
        for (i, mirror) in config.requestMirrorPolicies.enumerated() {
            configMirrors.append(try RequestMirrorPolicy(mirror, "request_mirror_policies[\(i)]", context))
        }
        let settings = Settings(
            requestLevel: configRequest,
            responseLevel: configResponse,
            typedPerFilterConfig: config.typedPerFilterConfig,
            mirrors: configMirrors,
            mostSpecificWins: config.mostSpecificHeaderMutationsWins,
            ignorePathParameters: config.ignorePathParametersInPathMatching,
            maxBodySize: maxDirectResponseBodySize
        )

        var hosts: [VirtualHostEntry] = []
        var seenDomains: [String: Int] = [:]
        var clusters: Set<String> = []
        for (index, vhost) in config.virtualHosts.enumerated() {
            let field = "virtual_hosts[\(index)]"
            guard !vhost.domains.isEmpty else { throw context.invalid(field + ".domains", "a virtual host needs at least one domain") }
            for (j, domain) in vhost.domains.enumerated() {
                let lower = ASCII.lowercased(domain)
                guard !lower.isEmpty else { throw context.invalid("\(field).domains[\(j)]", "domain is empty") }
                if let previous = seenDomains[lower] {
                    throw context.invalid("\(field).domains[\(j)]", "domain \"\(domain)\" is also in virtual_hosts[\(previous)]")
                }
                seenDomains[lower] = index
            }
            let entry = try Self.virtualHost(vhost, field, settings, context)
            for route in entry.routes {
                guard case .forward(let forward) = route.action else { continue }
                switch forward.clusterSpecifier {
                case .cluster(let name): clusters.insert(name)
                case .weighted(let entries, _, _): for e in entries where !e.name.isEmpty { clusters.insert(e.name) }
                case .clusterHeader: break
                }
                for mirror in forward.requestMirrorPolicies where !mirror.cluster.isEmpty { clusters.insert(mirror.cluster) }
            }
            hosts.append(entry)
        }
        virtualHosts = hosts
        referencedClusters = clusters
        do {
            selector = try VirtualHostSelector(hosts.enumerated().map { (domains: $0.element.domains, value: $0.offset) })
        } catch {
            throw context.invalid("virtual_hosts", error.description)
        }
    }

    /// The virtual host for an authority (Envoy's domain precedence), or nil.
    public func virtualHost(for authority: String) -> VirtualHostEntry? {
        let host = ignorePortInHostMatching ? String(ASCII.hostWithoutPort(authority)) : authority
        return selector.select(authority: host).map { virtualHosts[$0] }
    }

    /// The route for a request, or nil (Envoy answers 404 with response flag NR).
    ///
    /// A virtual host with `require_tls` answers plain-text requests with a 301 to `https` before
    /// looking at its routes; otherwise its routes are tried in order and the first match wins.
    public func route(for request: RouteRequest) -> RouteMatchResult? {
        guard let host = virtualHost(for: request.authority) else { return nil }
        if request.scheme != "https" {
            switch host.requireTLS {
            case .all:
                return RouteMatchResult(virtualHost: host, route: host.tlsRedirect)
            case .externalOnly where request.headers.first(name: "x-envoy-internal") != "true":
                return RouteMatchResult(virtualHost: host, route: host.tlsRedirect)
            default:
                break
            }
        }
        for route in host.routes where route.matcher?.matches(request) == true {
            return RouteMatchResult(virtualHost: host, route: route)
        }
        return nil
    }

    // MARK: - Compilation

    private struct Settings {
        let requestLevel: HeaderMutationLevel
        let responseLevel: HeaderMutationLevel
        let typedPerFilterConfig: [String: Google_Protobuf_Any]
        let mirrors: [RequestMirrorPolicy]
        let mostSpecificWins: Bool
        let ignorePathParameters: Bool
        let maxBodySize: Int
    }

    private static func virtualHost(
        _ proto: Envoy_Config_Route_V3_VirtualHost,
        _ field: String,
        _ settings: Settings,
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) -> VirtualHostEntry {
        let requireTLS: VirtualHostEntry.TLSRequirement
        switch proto.requireTls {
        case .none: requireTLS = .none
        case .externalOnly: requireTLS = .externalOnly
        case .all: requireTLS = .all
        case .UNRECOGNIZED(let raw): throw context.invalid(field + ".require_tls", "unknown TLS requirement \(raw)")
        }
        guard !proto.hasRetryPolicyTypedConfig else {
            throw context.unsupported(field + ".retry_policy_typed_config", "typed retry policies are not supported")
        }
        if proto.hasHedgePolicy, ForwardAction.hedges(proto.hedgePolicy) {
            throw context.unsupported(field + ".hedge_policy", "request hedging is not supported")
        }
        guard !proto.hasCors else {
            throw context.unsupported(field + ".cors", "virtual-host CORS is not supported; configure typed_per_filter_config[envoy.filters.http.cors]")
        }
        let retryPolicy = try proto.hasRetryPolicy ? RetryPolicy(proto.retryPolicy, field + ".retry_policy", context) : nil
        var mirrors: [RequestMirrorPolicy] = []
        for (i, mirror) in proto.requestMirrorPolicies.enumerated() {
            mirrors.append(try RequestMirrorPolicy(mirror, "\(field).request_mirror_policies[\(i)]", context))
        }
        if mirrors.isEmpty { mirrors = settings.mirrors }
        let vhostRequest = try HeaderMutationLevel(add: proto.requestHeadersToAdd, remove: proto.requestHeadersToRemove, field: field + ".", direction: "request", context)
        let vhostResponse = try HeaderMutationLevel(add: proto.responseHeadersToAdd, remove: proto.responseHeadersToRemove, field: field + ".", direction: "response", context)
        let vhostFilters = settings.typedPerFilterConfig.merging(proto.typedPerFilterConfig) { _, specific in specific }

        var routes: [RouteEntry] = []
        for (i, route) in proto.routes.enumerated() {
            let routeField = "\(field).routes[\(i)]"
            guard route.hasMatch else { throw context.invalid(routeField + ".match", "a route needs a match") }
            let matcher = try RouteMatcher(route.match, routeField + ".match", ignorePathParameters: settings.ignorePathParameters, context)
            let action: RouteEntry.Action
            switch route.action {
            case .route(let forward):
                action = .forward(try ForwardAction(
                    forward, routeField + ".route", pathMatcher: matcher.path,
                    virtualHostRetryPolicy: retryPolicy, inheritedMirrors: mirrors, context
                ))
            case .redirect(let redirect):
                action = .redirect(try RedirectAction(redirect, routeField + ".redirect", pathMatcher: matcher.path, context))
            case .directResponse(let direct):
                action = try directResponse(direct, routeField + ".direct_response", settings.maxBodySize, context)
            case .nonForwardingAction:
                throw context.unsupported(routeField + ".non_forwarding_action", "non-forwarding routes are not supported")
            case nil:
                throw context.invalid(routeField, "a route needs an action (route, redirect or direct_response)")
            }
            let routeRequest = try HeaderMutationLevel(add: route.requestHeadersToAdd, remove: route.requestHeadersToRemove, field: routeField + ".", direction: "request", context)
            let routeResponse = try HeaderMutationLevel(add: route.responseHeadersToAdd, remove: route.responseHeadersToRemove, field: routeField + ".", direction: "response", context)
            var decorator: RouteEntry.Decorator?
            if route.hasDecorator {
                guard !route.decorator.operation.isEmpty else {
                    throw context.invalid(routeField + ".decorator.operation", "must not be empty")
                }
                decorator = RouteEntry.Decorator(
                    operation: route.decorator.operation,
                    propagate: route.decorator.hasPropagate ? route.decorator.propagate.value : true
                )
            }
            routes.append(RouteEntry(
                name: route.name,
                action: action,
                requestHeaderMutations: HeaderMutations(levels: ordered([routeRequest, vhostRequest, settings.requestLevel], settings)),
                responseHeaderMutations: HeaderMutations(levels: ordered([routeResponse, vhostResponse, settings.responseLevel], settings)),
                typedPerFilterConfig: vhostFilters.merging(route.typedPerFilterConfig) { _, specific in specific },
                decorator: decorator,
                matcher: matcher,
                mostSpecificHeaderMutationsWins: settings.mostSpecificWins
            ))
        }
        let tlsRedirect = RouteEntry(
            name: "",
            action: .redirect(.httpsRequired),
            requestHeaderMutations: .none,
            responseHeaderMutations: .none,
            typedPerFilterConfig: [:],
            decorator: nil,
            matcher: nil,
            mostSpecificHeaderMutationsWins: false
        )
        return VirtualHostEntry(
            name: proto.name,
            domains: proto.domains,
            requireTLS: requireTLS,
            includeRequestAttemptCount: proto.includeRequestAttemptCount,
            includeAttemptCountInResponse: proto.includeAttemptCountInResponse,
            typedPerFilterConfig: proto.typedPerFilterConfig,
            retryPolicy: retryPolicy,
            routes: routes,
            tlsRedirect: tlsRedirect
        )
    }

    /// Levels listed most specific first, in application order.
    private static func ordered(_ levels: [HeaderMutationLevel], _ settings: Settings) -> [HeaderMutationLevel] {
        settings.mostSpecificWins ? Array(levels.reversed()) : levels
    }

    private static func directResponse(
        _ proto: Envoy_Config_Route_V3_DirectResponseAction,
        _ field: String,
        _ maxBodySize: Int,
        _ context: RouteConfigurationContext
    ) throws(ProxyConfigurationError) -> RouteEntry.Action {
        guard (200..<600).contains(proto.status) else {
            throw context.invalid(field + ".status", "\(proto.status) is not in [200, 600)")
        }
        guard !proto.hasBodyFormat else {
            throw context.unsupported(field + ".body_format", "formatted direct response bodies are not supported")
        }
        var body: String?
        if proto.hasBody {
            switch proto.body.specifier {
            case .inlineString(let text): body = text
            case .inlineBytes(let bytes):
                guard let text = String(data: bytes, encoding: .utf8) else {
                    throw context.unsupported(field + ".body.inline_bytes", "bodies that are not UTF-8 are not supported")
                }
                body = text
            case .filename:
                throw context.unsupported(field + ".body.filename", "bodies read from files are not supported")
            case .environmentVariable:
                throw context.unsupported(field + ".body.environment_variable", "bodies read from the environment are not supported")
            case nil:
                body = nil
            }
            if let text = body, text.utf8.count > maxBodySize {
                throw context.invalid(field + ".body", "the body has \(text.utf8.count) bytes, more than max_direct_response_body_size_bytes (\(maxBodySize))")
            }
        }
        return .directResponse(status: Int(proto.status), body: body)
    }
}
