/// Istio's HTTP/1.0 opt-in. Envoy answers an HTTP/1.0 request `426 Upgrade Required` unless its
/// connection manager sets `http_protocol_options.accept_http_10`; Istio sets it on every HTTP
/// connection manager of a proxy whose node metadata has `HTTP10: "1"` (`ISTIO_META_HTTP10`).
enum HTTP10Acceptance {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    /// Whether `proxy` asked for HTTP/1.0.
    static func requested(by proxy: ProxyView) -> Bool { proxy.metadata["HTTP10"] == "1" }

    /// `listeners` with `accept_http_10` on every HTTP connection manager.
    static func accepting(_ listeners: [Envoy_Config_Listener_V3_Listener]) -> [Envoy_Config_Listener_V3_Listener] {
        listeners.map { $0.mappingFilterChains(accepting) }
    }

    private static func accepting(_ chain: Envoy_Config_Listener_V3_FilterChain) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = chain
        chain.filters = chain.filters.map { filter in
            guard case .typedConfig(let typed) = filter.configType, typed.isA(HCM.self), var hcm = try? HCM(unpackingAny: typed) else { return filter }
            var filter = filter
            hcm.httpProtocolOptions.acceptHTTP10 = true
            filter.typedConfig = Proto.any(hcm)
            return filter
        }
        return chain
    }
}
