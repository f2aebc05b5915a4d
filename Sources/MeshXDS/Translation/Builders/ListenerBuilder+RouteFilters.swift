extension ListenerBuilder {
    /// The HTTP filters VirtualService routes configure per route, in Istio's order before the
    /// router: fault injection, then CORS. Both do nothing on routes without per-route config.
    var routeFilters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] {
        [
            .with {
                $0.name = FaultInjectionConverter.filterName
                $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
            },
            .with {
                $0.name = CorsPolicyConverter.filterName
                $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Http_Cors_V3_Cors())
            },
        ]
    }
}
