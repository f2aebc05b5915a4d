internal import MeshXDS
public import SwiftProtobuf

/// One compiled route: how it matches, what it does, and the header operations and filter
/// configuration that apply when it is chosen.
public final class RouteEntry: Sendable {
    /// What the route does.
    public enum Action: Sendable {
        /// Forward upstream.
        case forward(ForwardAction)
        /// Answer with a redirect.
        case redirect(RedirectAction)
        /// Answer directly with a status and optional body.
        case directResponse(status: Int, body: String?)
    }

    /// The route's `decorator`: the tracing span's operation name.
    public struct Decorator: Sendable, Hashable {
        /// The operation name.
        public let operation: String
        /// Whether the operation travels in `x-envoy-decorator-operation` (default true): upstream
        /// from a traced outbound listener, in the response from any other traced listener.
        public let propagate: Bool
    }

    /// The route's name (may be empty).
    public let name: String
    /// What the route does.
    public let action: Action
    /// Request header operations of the route, virtual host and route configuration, in application
    /// order (use ``requestHeaderMutations(for:)`` to include a weighted cluster's).
    public let requestHeaderMutations: HeaderMutations
    /// Response header operations, ordered like ``requestHeaderMutations``.
    public let responseHeaderMutations: HeaderMutations
    /// Filter configurations by filter name: the route's over the virtual host's over the route
    /// configuration's (use ``typedPerFilterConfig(for:)`` to include a weighted cluster's).
    public let typedPerFilterConfig: [String: Google_Protobuf_Any]
    /// The tracing decorator, if any.
    public let decorator: Decorator?

    let matcher: RouteMatcher?
    let mostSpecificHeaderMutationsWins: Bool

    init(
        name: String,
        action: Action,
        requestHeaderMutations: HeaderMutations,
        responseHeaderMutations: HeaderMutations,
        typedPerFilterConfig: [String: Google_Protobuf_Any],
        decorator: Decorator?,
        matcher: RouteMatcher?,
        mostSpecificHeaderMutationsWins: Bool
    ) {
        self.name = name
        self.action = action
        self.requestHeaderMutations = requestHeaderMutations
        self.responseHeaderMutations = responseHeaderMutations
        self.typedPerFilterConfig = typedPerFilterConfig
        self.decorator = decorator
        self.matcher = matcher
        self.mostSpecificHeaderMutationsWins = mostSpecificHeaderMutationsWins
    }

    /// The request header operations with a weighted cluster's own, placed where Envoy applies them
    /// (first by default, last with `most_specific_header_mutations_wins`).
    public func requestHeaderMutations(for cluster: WeightedCluster?) -> HeaderMutations {
        merged(requestHeaderMutations, cluster?.requestHeaderMutations)
    }

    /// The response header operations with a weighted cluster's own.
    public func responseHeaderMutations(for cluster: WeightedCluster?) -> HeaderMutations {
        merged(responseHeaderMutations, cluster?.responseHeaderMutations)
    }

    /// Filter configurations with a weighted cluster's overriding the route's.
    public func typedPerFilterConfig(for cluster: WeightedCluster?) -> [String: Google_Protobuf_Any] {
        guard let cluster, !cluster.typedPerFilterConfig.isEmpty else { return typedPerFilterConfig }
        return typedPerFilterConfig.merging(cluster.typedPerFilterConfig) { _, specific in specific }
    }

    private func merged(_ base: HeaderMutations, _ level: HeaderMutationLevel?) -> HeaderMutations {
        guard let level, !level.isEmpty else { return base }
        return HeaderMutations(levels: mostSpecificHeaderMutationsWins ? base.levels + [level] : [level] + base.levels)
    }
}

/// A route's `match`, compiled. All conditions must hold.
struct RouteMatcher: Sendable {
    let path: PathMatcher
    let headers: [HeaderMatcher]
    let queryParameters: [QueryParameterMatcher]
    let runtimeFraction: RuntimeFraction?
    let grpc: Bool
    /// `dynamic_metadata`: what filters before the router set (Istio's JWT claim routes read the
    /// `jwt_authn` payload). The request is first routed with no metadata (only inverted matchers
    /// can hold then) and again when a filter that set some clears the route cache.
    let dynamicMetadata: [DynamicMetadataMatcher]

    init(_ proto: Envoy_Config_Route_V3_RouteMatch, _ field: String, ignorePathParameters: Bool, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        path = try PathMatcher(proto, field, ignorePathParameters: ignorePathParameters, context)
        var headers: [HeaderMatcher] = []
        for (i, matcher) in proto.headers.enumerated() {
            headers.append(try HeaderMatcher(matcher, field + ".headers[\(i)]", context))
        }
        self.headers = headers
        var parameters: [QueryParameterMatcher] = []
        for (i, matcher) in proto.queryParameters.enumerated() {
            parameters.append(try QueryParameterMatcher(matcher, field + ".query_parameters[\(i)]", context))
        }
        queryParameters = parameters
        if proto.hasRuntimeFraction {
            guard proto.runtimeFraction.hasDefaultValue else {
                throw context.invalid(field + ".runtime_fraction.default_value", "default_value is required")
            }
            // The runtime key is not consulted: this proxy has no runtime layer, so the default applies.
            runtimeFraction = try context.fraction(proto.runtimeFraction.defaultValue, field + ".runtime_fraction.default_value")
        } else {
            runtimeFraction = nil
        }
        grpc = proto.hasGrpc
        if proto.hasTlsContext, proto.tlsContext.hasPresented || proto.tlsContext.hasValidated {
            throw context.unsupported(field + ".tls_context", "matching on the downstream TLS context is not supported")
        }
        var metadata: [DynamicMetadataMatcher] = []
        for (i, matcher) in proto.dynamicMetadata.enumerated() {
            do {
                metadata.append(try DynamicMetadataMatcher(matcher, field: field + ".dynamic_metadata[\(i)]"))
            } catch {
                throw context.invalid(error.field, error.message)
            }
        }
        dynamicMetadata = metadata
    }

    func matches(_ request: RouteRequest) -> Bool {
        guard path.matches(request) else { return false }
        if let runtimeFraction, !runtimeFraction.admits(request.randomValue) { return false }
        if grpc, !Self.isGRPC(request) { return false }
        for matcher in headers where !matcher.matches(value: request.headerValue(matcher.name)) { return false }
        if !queryParameters.isEmpty {
            let query = ASCII.query(request.path)
            for matcher in queryParameters where !matcher.matches(query: query) { return false }
        }
        if !dynamicMetadata.isEmpty {
            for matcher in dynamicMetadata where !matcher.matches(request.dynamicMetadata) { return false }
        }
        return true
    }

    /// Envoy's gRPC request test: `content-type` is `application/grpc` or starts with
    /// `application/grpc+` or `application/grpc;`.
    static func isGRPC(_ request: RouteRequest) -> Bool {
        guard let contentType = request.headers.first(name: "content-type") else { return false }
        let prefix = "application/grpc"
        let value = contentType[...]
        guard ASCII.hasPrefix(value, prefix, ignoringCase: false) else { return false }
        let utf8 = value.utf8
        guard utf8.count > prefix.utf8.count else { return true }
        let next = utf8[utf8.index(utf8.startIndex, offsetBy: prefix.utf8.count)]
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }
}
