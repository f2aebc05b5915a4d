import MeshXDS
public import SwiftProtobuf

/// Envoy's dynamic forward proxy filter (`envoy.filters.http.dynamic_forward_proxy`), which Istio
/// puts on HTTP_PROXY listeners under `ALLOW_ANY` so requests for hosts outside the registry go
/// to `ForwardProxyCluster`. The Swift proxy resolves the request's host when that cluster opens a
/// connection (SwiftNIO runs `getaddrinfo` off the event loop), so the filter itself only
/// validates its DNS cache settings and lets requests through.
public struct DynamicForwardProxyFilterFactory: HTTPFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig"

    public init(config: Google_Protobuf_Any) throws {
        let filter = try Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig(unpackingAny: config)
        guard case .dnsCacheConfig(let cache)? = filter.implementationSpecifier, !cache.name.isEmpty else {
            throw DynamicForwardProxyConfigurationError(description: "dns_cache_config.name is required")
        }
    }

    public func makeFilter() -> any HTTPFilter { DynamicForwardProxyFilter() }
}

/// Why a dynamic forward proxy configuration is rejected.
public struct DynamicForwardProxyConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Lets the request through: the forward-proxy cluster connects to the request's authority.
final class DynamicForwardProxyFilter: HTTPFilter {}
