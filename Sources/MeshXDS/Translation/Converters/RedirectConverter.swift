public import MeshCore

/// Istio's `ApplyRedirect`: a VirtualService `redirect` to an Envoy redirect action.
public enum RedirectConverter {
    /// Converts a redirect for a route served on `port`.
    ///
    /// `uri` replaces the path, `authority` the host, `scheme` the scheme. `port` sets the port;
    /// `derivePort: FROM_REQUEST_PORT` uses the listener port (routes are built per port), and
    /// `FROM_PROTOCOL_DEFAULT` leaves it to Envoy. When a port is chosen, `:80` for http and
    /// `:443` for https are left out. Returns nil for a `redirectCode` Envoy cannot send
    /// (only 301, 302, 303, 307 and 308 exist), which drops the route as Istio does.
    /// - Parameters:
    ///   - redirect: the redirect.
    ///   - port: the port the route is served on.
    ///   - isTLS: true when the listener terminates TLS (the default scheme is then https).
    public static func convert(_ redirect: VirtualService.HTTPRedirect, port: UInt32, isTLS: Bool = false) -> Envoy_Config_Route_V3_RedirectAction? {
        var out = Envoy_Config_Route_V3_RedirectAction()
        if let authority = redirect.authority, !authority.isEmpty { out.hostRedirect = authority }
        if let uri = redirect.uri, !uri.isEmpty {
            out.pathRedirect = uri
        } else if let prefix = redirect.prefixRewrite {
            out.prefixRewrite = prefix
        }
        if let scheme = redirect.scheme, !scheme.isEmpty { out.schemeRedirect = scheme }
        if redirect.port != nil || redirect.derivePort != nil {
            if let explicit = redirect.port {
                out.portRedirect = explicit
            } else if redirect.derivePort == .FROM_REQUEST_PORT {
                out.portRedirect = port
            }
            let scheme = (redirect.scheme.flatMap { $0.isEmpty ? nil : $0 } ?? (isTLS ? "https" : "http")).lowercased()
            if (out.portRedirect == 80 && scheme == "http") || (out.portRedirect == 443 && scheme == "https") {
                out.portRedirect = 0
            }
        }
        switch redirect.redirectCode ?? 0 {
        case 0, 301: out.responseCode = .movedPermanently
        case 302: out.responseCode = .found
        case 303: out.responseCode = .seeOther
        case 307: out.responseCode = .temporaryRedirect
        case 308: out.responseCode = .permanentRedirect
        default: return nil
        }
        return out
    }
}
