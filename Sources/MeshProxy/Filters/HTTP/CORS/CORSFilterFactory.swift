import MeshXDS
public import SwiftProtobuf

/// Envoy's CORS filter (`envoy.filters.http.cors`): answers preflight requests and adds
/// `access-control-*` headers to responses, following the route's `CorsPolicy` (Istio's
/// VirtualService `corsPolicy` arrives that way). Without a policy it does nothing.
public struct CORSFilterFactory: HTTPFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"

    public init(config: Google_Protobuf_Any) throws {
        _ = try Envoy_Extensions_Filters_Http_Cors_V3_Cors(unpackingAny: config)
    }

    public func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
        try CORSPolicy(Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy(unpackingAny: config))
    }

    public func makeFilter() -> any HTTPFilter { CORSFilter() }

    /// CORS policies come only from routes and virtual hosts.
    public func isNeeded(hasPerRouteConfig: Bool) -> Bool { hasPerRouteConfig }
}

/// A validated `CorsPolicy`.
struct CORSPolicy: Sendable {
    var allowedOrigins: [StringMatcher]
    var allowMethods: String
    var allowHeaders: String
    var exposeHeaders: String
    var maxAge: String
    var allowCredentials: Bool
    var forwardNotMatchingPreflights: Bool
    /// Share of requests the policy applies to (parts per million); 100 % by default.
    var enabledPerMillion: UInt32

    init(_ policy: Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy) throws {
        let context = RouteConfigurationContext(resourceName: "cors")
        var origins: [StringMatcher] = []
        for (index, matcher) in policy.allowOriginStringMatch.enumerated() {
            origins.append(try StringMatcher(matcher, "allow_origin_string_match[\(index)]", context))
        }
        allowedOrigins = origins
        allowMethods = policy.allowMethods
        allowHeaders = policy.allowHeaders
        exposeHeaders = policy.exposeHeaders
        maxAge = policy.maxAge
        allowCredentials = policy.hasAllowCredentials && policy.allowCredentials.value
        forwardNotMatchingPreflights = policy.hasForwardNotMatchingPreflights ? policy.forwardNotMatchingPreflights.value : true
        enabledPerMillion = policy.hasFilterEnabled ? FaultFilterFactory.Settings.perMillion(policy.filterEnabled.defaultValue) : 1_000_000
    }

    func allows(origin: String) -> Bool {
        allowedOrigins.contains { $0.matches(Substring(origin)) }
    }
}
