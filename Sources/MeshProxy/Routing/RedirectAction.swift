internal import MeshXDS

/// A route's `redirect` action: the response status and how the `Location` is built.
public struct RedirectAction: Sendable {
    /// The new scheme (`https_redirect` → `https`, or `scheme_redirect`); nil keeps the request's.
    public let scheme: String?
    /// The new host (`host_redirect`); nil keeps the request's.
    public let host: String?
    /// The new port (`port_redirect`); nil keeps the request's.
    public let port: Int?
    /// The status: 301 (default), 302, 303, 307 or 308.
    public let responseCode: Int
    /// Whether the query is dropped (`strip_query`); a `path_redirect` with its own query keeps that query.
    public let stripQuery: Bool

    enum PathChange: Sendable {
        case replace(String)
        case rewrite(PathRewrite)
    }

    let pathChange: PathChange?
    let pathMatcher: PathMatcher?
    /// The `require_tls` redirect, which Envoy builds as `https://` + authority + path verbatim.
    let isTLSRequirement: Bool

    /// A redirect to the same URL over `https` (a virtual host's `require_tls`).
    static let httpsRequired = RedirectAction(scheme: "https", host: nil, port: nil, responseCode: 301, stripQuery: false, pathChange: nil, pathMatcher: nil)

    private init(scheme: String?, host: String?, port: Int?, responseCode: Int, stripQuery: Bool, pathChange: PathChange?, pathMatcher: PathMatcher?) {
        isTLSRequirement = true
        self.scheme = scheme
        self.host = host
        self.port = port
        self.responseCode = responseCode
        self.stripQuery = stripQuery
        self.pathChange = pathChange
        self.pathMatcher = pathMatcher
    }

    init(_ proto: Envoy_Config_Route_V3_RedirectAction, _ field: String, pathMatcher: PathMatcher, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        switch proto.schemeRewriteSpecifier {
        case .httpsRedirect(let https): scheme = https ? "https" : nil
        case .schemeRedirect(let value):
            scheme = value.isEmpty ? nil : ASCII.lowercased(value)
        case nil: scheme = nil
        }
        host = proto.hostRedirect.isEmpty ? nil : proto.hostRedirect
        guard proto.portRedirect <= 65535 else {
            throw context.invalid(field + ".port_redirect", "\(proto.portRedirect) is not a port")
        }
        port = proto.portRedirect == 0 ? nil : Int(proto.portRedirect)
        switch proto.responseCode {
        case .movedPermanently: responseCode = 301
        case .found: responseCode = 302
        case .seeOther: responseCode = 303
        case .temporaryRedirect: responseCode = 307
        case .permanentRedirect: responseCode = 308
        case .UNRECOGNIZED(let raw): throw context.invalid(field + ".response_code", "unknown redirect response code \(raw)")
        }
        stripQuery = proto.stripQuery
        isTLSRequirement = false
        switch proto.pathRewriteSpecifier {
        case .pathRedirect(let path):
            guard !path.isEmpty else { throw context.invalid(field + ".path_redirect", "must not be empty") }
            pathChange = .replace(path)
        case .prefixRewrite(let prefix):
            if case .connect = pathMatcher.specifier {
                throw context.invalid(field + ".prefix_rewrite", "a CONNECT route cannot rewrite the path")
            }
            pathChange = .rewrite(.prefix(prefix))
        case .regexRewrite(let rewrite):
            let (regex, substitution) = try RouteRegexRewrite.compile(rewrite, field + ".regex_rewrite", context)
            pathChange = .rewrite(.regex(regex, substitution))
        case nil:
            pathChange = nil
        }
        self.pathMatcher = pathMatcher
    }

    /// The `Location` for a request this route matched, built as Envoy builds it: scheme, host
    /// (the request's host loses its port when a new port is set, or when the scheme changes from one
    /// whose default port it carries), port, then the path (replaced or rewritten, query kept unless
    /// ``stripQuery``).
    public func location(for request: RouteRequest) -> String {
        if isTLSRequirement { return "https://\(request.authority)\(request.path)" }
        let finalScheme = scheme ?? request.scheme
        let portText = port.map { ":\($0)" } ?? ""
        let finalHost: Substring
        if let host {
            finalHost = host[...]
        } else {
            finalHost = Self.requestHost(request, newScheme: finalScheme, newPortSet: port != nil)
        }
        var path: String
        var keepQuery = !stripQuery
        switch pathChange {
        case .replace(let replacement):
            if replacement.utf8.contains(UInt8(ascii: "?")) {
                path = replacement
                keepQuery = true  // its own query is never stripped, and the request's is not appended
            } else if let query = request.path.utf8.firstIndex(of: UInt8(ascii: "?")) {
                path = replacement + request.path[query...]
            } else {
                path = replacement
            }
        case .rewrite(let rewrite):
            if let pathMatcher {
                path = rewrite.apply(to: request.path, matcher: pathMatcher)
            } else {
                path = request.path
            }
        case nil:
            path = request.path
        }
        if !keepQuery, let query = path.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(path[..<query])
        }
        return "\(finalScheme)://\(finalHost)\(portText)\(path)"
    }

    private static func requestHost(_ request: RouteRequest, newScheme: String, newPortSet: Bool) -> Substring {
        let host = request.authority
        let withoutPort = ASCII.hostWithoutPort(host)
        guard withoutPort.endIndex < host.endIndex else { return host[...] }
        let requestPort = host[withoutPort.endIndex...]  // ":NNN"
        var removePort = newPortSet
        if newScheme != request.scheme {
            removePort = removePort || (request.scheme == "https" && requestPort == ":443")
            removePort = removePort || (request.scheme == "http" && requestPort == ":80")
        }
        return removePort ? withoutPort : host[...]
    }
}
