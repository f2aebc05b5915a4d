extension ConfigAnalysis {
    /// Routing analyzers: VirtualService destinations, subsets, gateways, host conflicts,
    /// unreachable rules and JWT claim routing.
    static let routingAnalyzers: [any ConfigAnalyzer] = [
        VirtualServiceDestinationHostAnalyzer(),
        VirtualServiceDestinationRuleAnalyzer(),
        VirtualServiceGatewayAnalyzer(),
        ConflictingMeshGatewayHostsAnalyzer(),
        VirtualServiceUnreachableRuleAnalyzer(),
        JWTClaimRouteAnalyzer(),
    ]
}
