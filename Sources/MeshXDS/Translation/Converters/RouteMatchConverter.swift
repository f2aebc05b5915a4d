public import MeshCore

/// Istio's `translateRouteMatch`: a VirtualService `HTTPMatchRequest` to an Envoy `RouteMatch`.
public enum RouteMatchConverter {
    /// Converts a match; nil (no conditions) matches every path (`prefix: /`).
    ///
    /// `uri` becomes `path`, `prefix` or `safe_regex`; `headers` and `withoutHeaders` (inverted)
    /// become header matchers sorted by name, followed by `:method`, `:authority` and `:scheme`;
    /// query parameters are sorted by name. An empty match, an empty prefix or a `*` regex means
    /// "present"; other `withoutHeaders` treat a missing header as empty, so they match requests
    /// without it. Case sensitivity is set explicitly: off with `ignoreUriCase`. JWT claim keys
    /// (`@request.auth.claims.…`) are left to ``claimAlternatives(_:issuers:)``.
    public static func convert(_ match: VirtualService.HTTPMatchRequest?) -> Envoy_Config_Route_V3_RouteMatch {
        var out = Envoy_Config_Route_V3_RouteMatch()
        out.prefix = "/"
        guard let match else { return out }
        if let uri = match.uri {
            if let exact = uri.exact {
                out.path = exact
            } else if let prefix = uri.prefix {
                out.prefix = prefix
            } else if let regex = uri.regex {
                out.safeRegex = .with { $0.regex = regex }
            }
        }
        out.caseSensitive = .init(match.ignoreUriCase != true)
        var headers: [Envoy_Config_Route_V3_HeaderMatcher] = []
        // JWT claim keys are not headers: see claimAlternatives.
        for (name, value) in match.headers ?? [:] where Validators.jwtClaimPath(name) == nil { headers.append(headerMatcher(name, value)) }
        for (name, value) in match.withoutHeaders ?? [:] where Validators.jwtClaimPath(name) == nil {
            var matcher = headerMatcher(name, value)
            matcher.invertMatch = true
            if !canBePresentMatch(value) { matcher.treatMissingHeaderAsEmpty = true }
            headers.append(matcher)
        }
        headers.sort { ($0.name, $0.invertMatch ? 1 : 0) < ($1.name, $1.invertMatch ? 1 : 0) }
        if let method = match.method { headers.append(headerMatcher(":method", method)) }
        if let authority = match.authority { headers.append(headerMatcher(":authority", authority)) }
        if let scheme = match.scheme { headers.append(headerMatcher(":scheme", scheme)) }
        out.headers = headers
        out.queryParameters = (match.queryParams ?? [:]).sorted { $0.key < $1.key }.map { name, value in
            .with {
                $0.name = name
                if !canBePresentMatch(value), let matcher = stringMatcher(value) { $0.stringMatch = matcher } else { $0.presentMatch = true }
            }
        }
        return out
    }

    /// Istio's JWT claim routes: each `@request.auth.claims.…` key of `headers` or
    /// `withoutHeaders` becomes a `dynamic_metadata` match on the payload `jwt_authn` verified
    /// (a string claim equal to the value, or a list claim with an element equal to it; an empty
    /// match or `*` asks for the claim to be present). The gateway's `jwt_authn` keeps each
    /// verified payload under its issuer and clears the route cache, so:
    ///
    /// - a `headers` claim must hold in one issuer's payload: the route is repeated once per
    ///   issuer, and left out when the proxy verifies no issuer (it could never match);
    /// - a `withoutHeaders` claim must hold in no issuer's payload: every copy carries an inverted
    ///   match per issuer.
    ///
    /// Returns the `dynamic_metadata` of each copy of the route: `[[]]` for a match without claim
    /// keys, `[]` when the route is left out.
    public static func claimAlternatives(_ match: VirtualService.HTTPMatchRequest?, issuers: [String]) -> [[Envoy_Type_Matcher_V3_MetadataMatcher]] {
        // Sorted by claim path, then by key (`.a.b` and `[a][b]` name the same claim).
        func claims(_ entries: [String: StringMatch]?) -> [(path: [String], value: StringMatch)] {
            (entries ?? [:]).compactMap { name, value in Validators.jwtClaimPath(name).map { (path: $0, name: name, value: value) } }
                .sorted { $0.path != $1.path ? $0.path.lexicographicallyPrecedes($1.path) : $0.name < $1.name }
                .map { ($0.path, $0.value) }
        }
        let required = claims(match?.headers)
        let excluded = claims(match?.withoutHeaders)
        guard !required.isEmpty || !excluded.isEmpty else { return [[]] }
        let exclusions = excluded.flatMap { claim in issuers.map { claimMatcher(issuer: $0, claim.path, claim.value, invert: true) } }
        guard !required.isEmpty else { return [exclusions] }
        return issuers.map { issuer in required.map { claimMatcher(issuer: issuer, $0.path, $0.value, invert: false) } + exclusions }
    }

    static func claimMatcher(issuer: String, _ path: [String], _ value: StringMatch, invert: Bool) -> Envoy_Type_Matcher_V3_MetadataMatcher {
        .with {
            $0.filter = JWTAuthenticationBuilder.filterName
            $0.path = ([issuer] + path).map { key in .with { $0.key = key } }
            if !canBePresentMatch(value), let matcher = stringMatcher(value) {
                let element = Envoy_Type_Matcher_V3_ValueMatcher.with { $0.stringMatch = matcher }
                $0.value = .with {
                    $0.orMatch = .with {
                        $0.valueMatchers = [.with { $0.listMatch = .with { $0.oneOf = element } }, element]
                    }
                }
            } else {
                $0.value = .with { $0.presentMatch = true }
            }
            $0.invert = invert
        }
    }

    /// Istio's `translateHeaderMatch`.
    static func headerMatcher(_ name: String, _ match: StringMatch) -> Envoy_Config_Route_V3_HeaderMatcher {
        var out = Envoy_Config_Route_V3_HeaderMatcher()
        out.name = name
        if canBePresentMatch(match) {
            out.presentMatch = true
        } else if let matcher = stringMatcher(match) {
            out.stringMatch = matcher
        }
        return out
    }

    /// Istio's `canBeConvertedToPresentMatch`: no pattern, an empty prefix (which Envoy would
    /// reject) or the `*` wildcard (not an RE2 regex).
    static func canBePresentMatch(_ match: StringMatch) -> Bool {
        (match.exact == nil && match.prefix == nil && match.regex == nil) || match.prefix == "" || match.regex == "*"
    }

    /// True when an Envoy route matches every request (Istio's `IsCatchAllRoute`): path prefix `/`
    /// or regex `.*`, and no header or query parameter conditions.
    public static func isCatchAll(_ match: Envoy_Config_Route_V3_RouteMatch) -> Bool {
        let path: Bool
        switch match.pathSpecifier {
        case .prefix(let prefix)?: path = prefix == "/"
        case .pathSeparatedPrefix(let prefix)?: path = prefix == "/"
        case .safeRegex(let regex)?: path = regex.regex == ".*"
        default: path = false
        }
        return path && match.headers.isEmpty && match.queryParameters.isEmpty && match.dynamicMetadata.isEmpty
    }

    /// Istio's `ConvertToEnvoyMatch`.
    static func stringMatcher(_ match: StringMatch) -> Envoy_Type_Matcher_V3_StringMatcher? {
        if let exact = match.exact { return .with { $0.exact = exact } }
        if let prefix = match.prefix { return .with { $0.prefix = prefix } }
        if let regex = match.regex { return .with { $0.safeRegex = .with { $0.regex = regex } } }
        return nil
    }
}
