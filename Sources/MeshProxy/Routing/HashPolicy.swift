internal import MeshXDS

/// What a consistent-hash load balancer hashes for one request.
public struct HashPolicyInput: Sendable {
    /// The request.
    public var request: RouteRequest
    /// The downstream peer's IP address without port (`10.0.0.1`, `::1`), for `connection_properties.source_ip`.
    public var sourceIP: String?
    /// Hashes of filter-state objects by key, for `filter_state` policies.
    public var filterStateHashes: [String: UInt64]

    /// - Parameters:
    ///   - request: The request.
    ///   - sourceIP: The downstream peer's IP address without port.
    ///   - filterStateHashes: Hashes of filter-state objects by key.
    public init(request: RouteRequest, sourceIP: String? = nil, filterStateHashes: [String: UInt64] = [:]) {
        self.request = request
        self.sourceIP = sourceIP
        self.filterStateHashes = filterStateHashes
    }
}

/// One entry of a route's `hash_policy`.
///
/// Hashes are xxHash64 (seed 0) of the selected bytes, as Envoy computes them, so a request hashes to
/// the same value here as in Envoy: a header's values are sorted and hashed as one concatenated byte
/// string (after the optional regex rewrite); a cookie's value, the first value of a query parameter
/// (not percent-decoded) and the source IP's text are hashed as they are.
public struct HashPolicy: Sendable {
    /// What is hashed.
    public enum Source: Sendable {
        /// A request header (pseudo-headers `:authority`, `:path`, `:method`, `:scheme` included).
        case header(name: String)
        /// A cookie. When it is absent and `ttl` is set, Envoy generates the cookie; that is the
        /// engine's job (this policy yields no hash for the request).
        case cookie(name: String, ttl: Duration?, path: String?)
        /// The downstream source IP address.
        case sourceIP
        /// A query parameter's first value.
        case queryParameter(name: String)
        /// A filter-state object's hash.
        case filterState(key: String)
    }

    /// What is hashed.
    public let source: Source
    /// Whether a hash from this policy ends the evaluation of the list.
    public let terminal: Bool
    let headerRewrite: (regex: CompiledRegex, substitution: RegexSubstitution)?

    init(_ proto: Envoy_Config_Route_V3_RouteAction.HashPolicy, _ field: String, _ context: RouteConfigurationContext) throws(ProxyConfigurationError) {
        terminal = proto.terminal
        var rewrite: (CompiledRegex, RegexSubstitution)?
        switch proto.policySpecifier {
        case .header(let header):
            guard !header.headerName.isEmpty else { throw context.invalid(field + ".header.header_name", "must not be empty") }
            source = .header(name: ASCII.lowercased(header.headerName))
            if header.hasRegexRewrite {
                rewrite = try RouteRegexRewrite.compile(header.regexRewrite, field + ".header.regex_rewrite", context)
            }
        case .cookie(let cookie):
            guard !cookie.name.isEmpty else { throw context.invalid(field + ".cookie.name", "must not be empty") }
            source = .cookie(
                name: cookie.name,
                ttl: try cookie.hasTtl ? context.duration(cookie.ttl, field + ".cookie.ttl") : nil,
                path: cookie.path.isEmpty ? nil : cookie.path
            )
        case .connectionProperties(let properties):
            guard properties.sourceIp else {
                throw context.invalid(field + ".connection_properties", "connection_properties hashes nothing unless source_ip is true")
            }
            source = .sourceIP
        case .queryParameter(let parameter):
            guard !parameter.name.isEmpty else { throw context.invalid(field + ".query_parameter.name", "must not be empty") }
            source = .queryParameter(name: parameter.name)
        case .filterState(let state):
            guard !state.key.isEmpty else { throw context.invalid(field + ".filter_state.key", "must not be empty") }
            source = .filterState(key: state.key)
        case nil:
            throw context.invalid(field, "a hash policy needs one of header, cookie, connection_properties, query_parameter or filter_state")
        }
        headerRewrite = rewrite
    }

    /// This policy's hash for a request, or nil when the request lacks what it hashes.
    public func hash(_ input: HashPolicyInput) -> UInt64? {
        switch source {
        case .header(let name):
            var values: [String]
            if let pseudo = input.request.pseudoHeader(name) {
                values = [pseudo]
            } else {
                values = input.request.headers.values(lowercasedName: name)
            }
            guard !values.isEmpty else { return nil }
            if let rewrite = headerRewrite {
                values = values.map { rewrite.regex.replaceAll(in: $0[...], with: rewrite.substitution) }
            }
            values.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return XXHash64.hash(values.joined())
        case .cookie(let name, _, _):
            guard let value = RouteRequest.cookieValue(input.request.headers, name: name) else { return nil }
            return XXHash64.hash(value)
        case .sourceIP:
            guard let ip = input.sourceIP, !ip.isEmpty else { return nil }
            return XXHash64.hash(ip)
        case .queryParameter(let name):
            guard let query = ASCII.query(input.request.path), let value = ASCII.firstQueryValue(query, name: name) else { return nil }
            return XXHash64.hash(value)
        case .filterState(let key):
            return input.filterStateHashes[key]
        }
    }

    /// The combined hash of a policy list, as Envoy combines it: each new hash is XORed into the
    /// previous one rotated left by one bit; a terminal policy that produced a hash stops the walk.
    /// Nil when no policy produced a hash (the load balancer then picks randomly).
    public static func hash(_ policies: [HashPolicy], _ input: HashPolicyInput) -> UInt64? {
        var result: UInt64?
        for policy in policies {
            if let new = policy.hash(input) {
                let old = result.map { ($0 << 1) | ($0 >> 63) } ?? 0
                result = old ^ new
            }
            if policy.terminal, result != nil { break }
        }
        return result
    }
}
