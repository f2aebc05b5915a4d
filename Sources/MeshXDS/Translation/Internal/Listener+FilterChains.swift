extension Envoy_Config_Listener_V3_Listener {
    /// The listener with `transform` applied to every filter chain, the default one included.
    func mappingFilterChains(_ transform: (Envoy_Config_Listener_V3_FilterChain) -> Envoy_Config_Listener_V3_FilterChain) -> Self {
        var listener = self
        listener.filterChains = filterChains.map(transform)
        if hasDefaultFilterChain { listener.defaultFilterChain = transform(defaultFilterChain) }
        return listener
    }
}
