public import MeshCore

/// Istio's `TranslateCORSPolicy`: a VirtualService `corsPolicy` to the per-route config of Envoy's
/// `envoy.filters.http.cors` filter.
public enum CorsPolicyConverter {
    /// The HTTP filter name the per-route config is keyed by.
    public static let filterName = "envoy.filters.http.cors"

    /// Converts a CORS policy.
    ///
    /// Origins come from `allowOrigins` (exact, prefix or regex), else from the deprecated exact
    /// `allowOrigin`; methods and headers are joined with commas; `maxAge` is whole seconds. The
    /// policy is always enabled. Preflights matching no origin are forwarded upstream unless
    /// `unmatchedPreflights` is `IGNORE`.
    public static func convert(_ policy: VirtualService.CorsPolicy) -> Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy {
        .with {
            $0.forwardNotMatchingPreflights = .init(policy.unmatchedPreflights != .IGNORE)
            if let origins = policy.allowOrigins {
                $0.allowOriginStringMatch = origins.compactMap(RouteMatchConverter.stringMatcher)
            } else if let origins = policy.allowOrigin {
                $0.allowOriginStringMatch = origins.map { origin in .with { $0.exact = origin } }
            }
            $0.filterEnabled = .with { $0.defaultValue = .with { $0.numerator = 100; $0.denominator = .hundred } }
            if let credentials = policy.allowCredentials { $0.allowCredentials = .init(credentials) }
            $0.allowHeaders = (policy.allowHeaders ?? []).joined(separator: ",")
            $0.allowMethods = (policy.allowMethods ?? []).joined(separator: ",")
            $0.exposeHeaders = (policy.exposeHeaders ?? []).joined(separator: ",")
            if let maxAge = policy.maxAge { $0.maxAge = String(maxAge.nanoseconds / 1_000_000_000) }
        }
    }
}
