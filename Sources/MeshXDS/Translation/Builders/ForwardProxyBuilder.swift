extension ClusterName {
    /// The destination of unknown hosts through an HTTP_PROXY egress listener under ALLOW_ANY:
    /// Envoy's dynamic forward proxy, resolving the request's authority.
    public static let forwardProxy = "ForwardProxyCluster"
}

/// `outboundTrafficPolicy: ALLOW_ANY` for explicit HTTP proxy listeners (Sidecar egress
/// `protocol: HTTP_PROXY`).
///
/// A transparent sidecar sends unknown destinations to `PassthroughCluster`, an ORIGINAL_DST
/// cluster, because iptables kept the address the application dialled. An application that calls
/// the proxy explicitly dials the proxy itself: the original destination is the listener, so
/// ORIGINAL_DST would loop, and ORIGINAL_DST's `use_http_header` only takes an `IP:port`, not a
/// host name. The request line (`GET http://host:port/path`) or `:authority` names the target, so
/// SwiftMesh uses Envoy's dynamic forward proxy: the HTTP filter resolves the authority through a
/// DNS cache (IP literals need no lookup) and `ForwardProxyCluster` connects to the address found,
/// on the authority's port (80 when none). Under REGISTRY_ONLY the catch-all virtual host answers
/// 502 as Istio's `block_all` does, and neither the filter nor the cluster is generated.
public struct ForwardProxyBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    /// The DNS cache the filter and the cluster share (Envoy requires identical settings).
    public var dnsCache: Envoy_Extensions_Common_DynamicForwardProxy_V3_DnsCacheConfig {
        .with {
            $0.name = "outbound_forward_proxy"
            $0.dnsLookupFamily = .v4Preferred
        }
    }

    /// `ForwardProxyCluster`: a dynamic forward proxy cluster on ``dnsCache``, speaking the
    /// downstream's HTTP version as `PassthroughCluster` does. Envoy requires `auto_sni` and
    /// `auto_san_validation` on such clusters (they only matter should the cluster speak TLS).
    public func cluster() -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = ClusterBuilder(options: options).passthroughCluster()
        cluster.name = ClusterName.forwardProxy
        let key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        typealias Options = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions
        var protocolOptions = cluster.typedExtensionProtocolOptions[key].flatMap { try? Options(unpackingAny: $0) } ?? Options()
        protocolOptions.upstreamHTTPProtocolOptions = .with { $0.autoSni = true; $0.autoSanValidation = true }
        cluster.typedExtensionProtocolOptions[key] = Proto.any(protocolOptions)
        cluster.clusterType = .with {
            $0.name = "envoy.clusters.dynamic_forward_proxy"
            $0.typedConfig = Proto.any(Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig.with {
                $0.dnsCacheConfig = dnsCache
            })
        }
        cluster.lbPolicy = .clusterProvided
        return cluster
    }

    /// The dynamic forward proxy HTTP filter; it acts only on routes to ``ClusterName/forwardProxy``.
    public var httpFilter: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter {
        .with {
            $0.name = "envoy.filters.http.dynamic_forward_proxy"
            $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig.with {
                $0.dnsCacheConfig = dnsCache
            })
        }
    }

    /// ``ListenerBuilder/httpConnectionManager(statPrefix:routeName:)`` with ``httpFilter`` first.
    public func httpConnectionManager(statPrefix: String, routeName: String) -> Envoy_Config_Listener_V3_Filter {
        typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
        var filter = ListenerBuilder(options: options).httpConnectionManager(statPrefix: statPrefix, routeName: routeName)
        guard var hcm = try? HCM(unpackingAny: filter.typedConfig) else { return filter }
        hcm.httpFilters.insert(httpFilter, at: 0)
        filter.typedConfig = Proto.any(hcm)
        return filter
    }
}
