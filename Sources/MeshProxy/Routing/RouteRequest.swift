public import NIOHTTP1
public import SwiftProtobuf

/// What routing reads from a request.
public struct RouteRequest: Sendable {
    /// The method (`GET`, `CONNECT`, ...).
    public var method: String
    /// The path plus query, as on the wire (`/api/v1?x=1`).
    public var path: String
    /// The `:authority` / `Host` value, port included when the client sent one.
    public var authority: String
    /// The request's headers, without pseudo-headers.
    public var headers: HTTPHeaders
    /// `http` or `https`: the scheme the request arrived with (Envoy's `x-forwarded-proto`).
    public var scheme: String
    /// A random value drawn once per stream by the engine (the same when a filter has the request
    /// routed again); used for `runtime_fraction` matches and
    /// weighted cluster selection, as Envoy uses its per-request random value.
    public var randomValue: UInt64
    /// The stream's dynamic metadata by filter namespace, as filters that ran before routing set
    /// it (a route's `dynamic_metadata` matches read it; see ``HTTPFilterContext/clearRouteCache()``).
    public var dynamicMetadata: [String: Google_Protobuf_Struct]

    /// - Parameters:
    ///   - method: The method.
    ///   - path: The path plus query.
    ///   - authority: The authority, with its port if any.
    ///   - headers: The headers, without pseudo-headers.
    ///   - scheme: `http` or `https`.
    ///   - randomValue: A per-request random value.
    ///   - dynamicMetadata: The stream's dynamic metadata by filter namespace.
    public init(method: String, path: String, authority: String, headers: HTTPHeaders = HTTPHeaders(), scheme: String = "http", randomValue: UInt64 = 0,
                dynamicMetadata: [String: Google_Protobuf_Struct] = [:]) {
        self.method = method
        self.path = path
        self.authority = authority
        self.headers = headers
        self.scheme = scheme
        self.randomValue = randomValue
        self.dynamicMetadata = dynamicMetadata
    }

    /// The request-line value a pseudo-header name stands for (`:method`, `:path`, `:authority` or
    /// `host`, `:scheme`), nil for other names.
    func pseudoHeader(_ lowercasedName: String) -> String? {
        switch lowercasedName {
        case ":method": method
        case ":path": path
        case ":authority", "host": authority
        case ":scheme": scheme
        default: nil
        }
    }

    /// A header's joined value, reading pseudo-headers from the request line.
    func headerValue(_ lowercasedName: String) -> String? {
        pseudoHeader(lowercasedName) ?? headers.joinedValue(lowercasedName: lowercasedName)
    }

    /// The value of cookie `name` in the `cookie` headers, or nil.
    static func cookieValue(_ headers: HTTPHeaders, name: String) -> Substring? {
        for (headerName, value) in headers where ASCII.equals(headerName[...], "cookie", ignoringCase: true) {
            for pair in value.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals].utf8.elementsEqual(name.utf8) {
                    var cookie = trimmed[trimmed.index(after: equals)...]
                    if cookie.count >= 2, cookie.first == "\"", cookie.last == "\"" { cookie = cookie.dropFirst().dropLast() }
                    return cookie
                }
            }
        }
        return nil
    }
}
