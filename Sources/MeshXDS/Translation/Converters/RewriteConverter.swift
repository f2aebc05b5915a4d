public import MeshCore

/// Istio's rewrite handling: a VirtualService `rewrite` applied to an Envoy route action.
public enum RewriteConverter {
    /// Applies `uriRegexRewrite` (`regex_rewrite`) or `uri` (`prefix_rewrite`: the matched prefix,
    /// or the whole path for exact and regex matches, is replaced) and returns the authority to
    /// rewrite to, if any (the caller sets `host_rewrite_literal`, since headers may also set it).
    /// - Parameters:
    ///   - rewrite: the route's `rewrite`.
    ///   - action: the route action to change.
    public static func apply(_ rewrite: VirtualService.HTTPRewrite?, to action: inout Envoy_Config_Route_V3_RouteAction) -> String? {
        guard let rewrite else { return nil }
        if let regex = rewrite.uriRegexRewrite {
            action.regexRewrite = .with {
                $0.pattern = .with { $0.regex = regex.match ?? "" }
                $0.substitution = regex.rewrite ?? ""
            }
        } else if let uri = rewrite.uri, !uri.isEmpty {
            action.prefixRewrite = uri
        }
        if let authority = rewrite.authority, !authority.isEmpty { return authority }
        return nil
    }
}
