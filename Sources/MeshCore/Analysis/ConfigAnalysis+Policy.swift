extension ConfigAnalysis {
    /// Policy analyzers: Sidecar, DestinationRule TLS, Gateway, security policies, Telemetry and EnvoyFilter.
    static let policyAnalyzers: [any ConfigAnalyzer] = [
        SidecarSelectorAnalyzer(),
        DestinationRuleCACertificateAnalyzer(),
        MTLSPolicyConflictAnalyzer(),
        GatewaySelectorAnalyzer(),
        ConflictingGatewayAnalyzer(),
        GatewayCertificateAnalyzer(),
        AuthorizationPolicyAnalyzer(),
        PolicySelectorAnalyzer(),
        TelemetryProviderAnalyzer(),
        TelemetrySelectorAnalyzer(),
        EnvoyFilterPatchAnalyzer(),
    ]
}
