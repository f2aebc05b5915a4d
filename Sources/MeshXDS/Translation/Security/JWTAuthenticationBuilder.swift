import MeshCore

/// Translates RequestAuthentication to Envoy's `jwt_authn` HTTP filter with Istio's semantics:
/// a request without a token passes (authorization may still require one through
/// `requestPrincipals`), a request with a token that fails verification against every provider
/// is rejected with 401.
///
/// Each JWT rule becomes a provider `origins-N` that stores the verified payload in dynamic
/// metadata under its issuer, so authorization can match `iss`/`sub` (request principals) and
/// claims. `jwksUri` gets a cluster of its own (`jwks|HOST|PORT`, TLS with the system roots for
/// `https`).
struct JWTAuthenticationBuilder {
    typealias Provider = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider
    typealias HttpFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter

    static let filterName = "envoy.filters.http.jwt_authn"
    /// Claims Istio splits on spaces before matching (`scope`, `permission`).
    static let defaultSpaceDelimitedClaims = ["scope", "permission"]
    /// How long fetched keys are cached (Istio's default).
    static let jwksCacheDuration = ConfigDuration(milliseconds: 300_000)
    static let defaultFetchTimeout = ConfigDuration(milliseconds: 5_000)

    /// Whether a verified token has the request routed again (`clear_route_cache`), as Istio sets
    /// for gateways, whose routes may match JWT claims (``RouteMatchConverter/claimAlternatives(_:issuers:)``).
    var clearsRouteCache = false

    /// Where a `jwksUri` is fetched from.
    struct JWKSEndpoint: Hashable, Comparable {
        var host: String
        var port: UInt32
        var tls: Bool
        var clusterName: String { "jwks|\(host)|\(port)" }

        static func < (a: JWKSEndpoint, b: JWKSEndpoint) -> Bool { a.clusterName < b.clusterName }

        /// Parses `http(s)://host[:port]/path`; nil for anything else.
        init?(uri: String) {
            let tls: Bool
            let rest: Substring
            if uri.lowercased().hasPrefix("https://") {
                tls = true
                rest = uri.dropFirst("https://".count)
            } else if uri.lowercased().hasPrefix("http://") {
                tls = false
                rest = uri.dropFirst("http://".count)
            } else {
                return nil
            }
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            guard !authority.isEmpty, !authority.contains("@") else { return nil }
            var host = String(authority)
            var port: UInt32 = tls ? 443 : 80
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { return nil }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let parsed = UInt32(after.dropFirst()), parsed > 0, parsed <= 65535 else { return nil }
                    port = parsed
                } else if !after.isEmpty {
                    return nil
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let parsed = UInt32(host[host.index(after: colon)...]), parsed > 0, parsed <= 65535 else { return nil }
                port = parsed
                host = String(host[..<colon])
            }
            guard !host.isEmpty else { return nil }
            self.host = host.lowercased()
            self.port = port
            self.tls = tls
        }
    }

    struct Output {
        var filter: HttpFilter?
        /// Issuers in provider order (metadata keys of verified payloads).
        var issuers: [String] = []
        var jwksEndpoints: [JWKSEndpoint] = []
        var diagnostics: [SecurityDiagnostic] = []
    }

    func build(_ policies: [Resource<RequestAuthentication>], fetchTimeoutDefault: ConfigDuration = defaultFetchTimeout) -> Output {
        var output = Output()
        var providers: [String: Provider] = [:]
        var names: [String] = []
        var endpoints = Set<JWKSEndpoint>()
        for policy in policies {
            for (index, rule) in (policy.spec.jwtRules ?? []).enumerated() {
                let field = "spec.jwtRules[\(index)]"
                guard let issuer = rule.issuer, !issuer.isEmpty else {
                    output.diagnostics.append(SecurityDiagnostic(policy, field: field + ".issuer", message: "a JWT rule without issuer cannot be enforced; it is ignored"))
                    continue
                }
                guard !output.issuers.contains(issuer) else {
                    output.diagnostics.append(SecurityDiagnostic(policy, field: field + ".issuer", message: "issuer \"\(issuer)\" is already configured by an earlier rule for this workload; this rule is ignored"))
                    continue
                }
                var provider = Provider()
                provider.issuer = issuer
                provider.audiences = rule.audiences ?? []
                jwks: if let jwks = rule.jwks, !jwks.isEmpty {
                    provider.localJwks = .with { $0.inlineString = jwks }
                } else if let uri = rule.effectiveJwksUri, !uri.isEmpty {
                    guard let endpoint = JWKSEndpoint(uri: uri) else {
                        // Without keys every token fails verification, so tokens of this issuer are rejected.
                        output.diagnostics.append(SecurityDiagnostic(policy, field: field + ".jwksUri", message: "jwksUri \"\(uri)\" is not an http(s) URL; tokens from \(issuer) are rejected"))
                        provider.localJwks = .with { $0.inlineString = #"{"keys":[]}"# }
                        break jwks
                    }
                    endpoints.insert(endpoint)
                    provider.remoteJwks = .with {
                        $0.httpUri = .with {
                            $0.uri = uri
                            $0.cluster = endpoint.clusterName
                            $0.timeout = Proto.duration(rule.timeout ?? fetchTimeoutDefault)
                        }
                        $0.cacheDuration = Proto.duration(Self.jwksCacheDuration)
                    }
                } else {
                    output.diagnostics.append(SecurityDiagnostic(policy, field: field, message: "neither jwks nor jwksUri is set; tokens from \(issuer) are rejected"))
                    provider.localJwks = .with { $0.inlineString = #"{"keys":[]}"# }
                }
                provider.fromHeaders = (rule.fromHeaders ?? []).compactMap { header in
                    guard let name = header.name, !name.isEmpty else { return nil }
                    return .with { $0.name = name; $0.valuePrefix = header.prefix ?? "" }
                }
                provider.fromParams = rule.fromParams ?? []
                provider.fromCookies = rule.fromCookies ?? []
                provider.forward = rule.forwardOriginalToken ?? false
                provider.forwardPayloadHeader = rule.outputPayloadToHeader ?? ""
                provider.claimToHeaders = (rule.outputClaimToHeaders ?? []).compactMap { item in
                    guard let header = item.header, let claim = item.claim else { return nil }
                    return .with { $0.headerName = header; $0.claimName = claim }
                }
                provider.payloadInMetadata = issuer
                provider.clearRouteCache_p = clearsRouteCache
                provider.normalizePayloadInMetadata = .with {
                    var claims = Self.defaultSpaceDelimitedClaims
                    for claim in rule.spaceDelimitedClaims ?? [] where !claims.contains(claim) { claims.append(claim) }
                    $0.spaceDelimitedClaims = claims
                }
                if rule.presence == .REQUIRED {
                    output.diagnostics.append(SecurityDiagnostic(policy, field: field + ".presence", message: "presence REQUIRED is not enforced by authentication; require a token with an AuthorizationPolicy `requestPrincipals: [\"*\"]`"))
                }
                let name = "origins-\(names.count)"
                names.append(name)
                providers[name] = provider
                output.issuers.append(issuer)
            }
        }
        guard !names.isEmpty else { return output }
        let config = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.with {
            $0.providers = providers
            $0.rules = [.with {
                $0.match = .with { $0.prefix = "/" }
                $0.requires = .with {
                    $0.requiresAny = .with {
                        $0.requirements = names.map { name in .with { $0.providerName = name } }
                            + [.with { $0.allowMissing = .init() }]
                    }
                }
            }]
        }
        output.filter = .with { $0.name = Self.filterName; $0.typedConfig = Proto.any(config) }
        output.jwksEndpoints = endpoints.sorted()
        return output
    }

    /// The cluster that fetches keys from `endpoint`: DNS (or static for an IP), TLS verified
    /// against the system roots and the host name for `https`.
    static func jwksCluster(_ endpoint: JWKSEndpoint, connectTimeout: ConfigDuration) -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = endpoint.clusterName
            $0.connectTimeout = Proto.duration(connectTimeout)
            let isIP = IPAddress(endpoint.host) != nil
            $0.type = isIP ? .static : .strictDns
            if !isIP { $0.dnsLookupFamily = .v4Only }
            $0.loadAssignment = EndpointBuilder().staticAssignment(clusterName: endpoint.clusterName, host: endpoint.host, port: endpoint.port)
            if endpoint.tls {
                $0.transportSocket = TLSContexts.transportSocket(TLSContexts.UpstreamTlsContext.with {
                    if !isIP { $0.sni = endpoint.host }
                    $0.commonTlsContext = .with {
                        $0.tlsParams = TLSContexts.tlsParameters
                        $0.validationContext = .with {
                            $0.trustedCa = .with { $0.filename = TLSContexts.systemCABundle }
                            $0.matchTypedSubjectAltNames = [TLSContexts.sanMatcher(endpoint.host)]
                        }
                    }
                })
            }
        }
    }
}
