internal import MeshXDS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1
public import SwiftProtobuf

/// Envoy's JWT authentication filter (`envoy.filters.http.jwt_authn`), as Istio's
/// RequestAuthentication produces it: extracts tokens from the provider's headers (with
/// `value_prefix`) or query parameters (default `Authorization: Bearer` and `access_token`),
/// verifies signature (RS/PS/ES/HS 256/384/512, EdDSA against the provider's local JWKS),
/// issuer, audiences, `exp`/`nbf` (with `clock_skew_seconds`, default 60), then evaluates the
/// requirement of the first matching rule (or the route's `PerRouteConfig.requirement_name`):
/// `provider_name`, `provider_and_audiences`, `requires_any`, `requires_all`, `allow_missing`,
/// `allow_missing_or_failed`.
///
/// A verified token's payload goes to the `envoy.filters.http.jwt_authn` dynamic metadata under
/// `payload_in_metadata` (space-delimited claims split into lists), its claims to
/// `claim_to_headers`, its payload (base64url) to `forward_payload_header`; without `forward`
/// the token is removed from its header. A failing request gets a 401 (403 for an audience
/// mismatch) with the status as body and `www-authenticate: Bearer realm="<request url>"` (plus
/// `, error="invalid_token"` unless the token is missing), and counts
/// `http.<stat_prefix>.jwt_authn.denied` (`allowed` otherwise).
///
/// Keys come from `local_jwks` or from `remote_jwks`: fetched through the named cluster (see
/// ``RemoteJWKSSource``), shared by every stream of the configuration and cached for
/// `cache_duration`. A request whose token needs keys that are not cached waits for the fetch; a
/// failed fetch fails the token with "Jwks remote fetch is failed" (401). Fetches count
/// `http.<stat_prefix>.jwt_authn.jwks_fetch_success` and `jwks_fetch_failed`.
public struct JWTAuthnFilterFactory: HTTPFilterFactory {
    public static let typeURL = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
    static let perRouteTypeName = "envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"
    /// The dynamic metadata namespace verified payloads are written to.
    public static let metadataNamespace = "envoy.filters.http.jwt_authn"

    /// A route's setting.
    public enum PerRoute: Sendable {
        /// The filter does nothing on this route.
        case disabled
        /// The named requirement of `requirement_map` applies.
        case requirement(JWTRequirement)
    }

    let configuration: JWTAuthnConfiguration
    private let perRouteCache = ParsedConfigCache<PerRoute>()

    public init(config: Google_Protobuf_Any) throws {
        configuration = try JWTAuthnConfiguration(try Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication(unpackingAny: config))
    }

    public func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? {
        let configuration = self.configuration
        return try perRouteCache.value(for: config) { config in
            guard HTTPFilterRegistry.typeName(config.typeURL) == Self.perRouteTypeName else {
                throw FilterConfigurationError(field: "typed_per_filter_config", "expected \(Self.perRouteTypeName), got \(config.typeURL)")
            }
            let perRoute = try Envoy_Extensions_Filters_Http_JwtAuthn_V3_PerRouteConfig(unpackingAny: config)
            switch perRoute.requirementSpecifier {
            case .disabled(true)?: return PerRoute.disabled
            case .requirementName(let name)?:
                guard let requirement = configuration.requirementMap[name] else {
                    throw FilterConfigurationError(field: "requirement_name", "\"\(name)\" is not in the filter's requirement_map")
                }
                return PerRoute.requirement(requirement)
            default:
                throw FilterConfigurationError(field: "requirement_specifier", "needs disabled: true or requirement_name")
            }
        }
    }

    public func makeFilter() -> any HTTPFilter { JWTAuthnFilter(configuration: configuration) }

    /// The `remote_jwks` sources of the providers.
    var remoteSources: [RemoteJWKSSource] {
        configuration.providerOrder.compactMap { configuration.providers[$0]?.remote }
    }
}

/// A compiled `JwtRequirement`.
public indirect enum JWTRequirement: Sendable {
    /// One provider; `audiences` overrides the provider's when set.
    case provider(name: String, audiences: [String]?)
    /// Any of the requirements; `allowMissing` when one of them is `allow_missing`.
    case any([JWTRequirement], allowMissing: Bool)
    /// All of the requirements.
    case all([JWTRequirement])
    /// Tokens are verified if present; a missing token is fine, a bad one is not.
    case allowMissing
    /// Tokens are verified if present; nothing fails the request.
    case allowMissingOrFailed

    init(_ proto: Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement, field: String, providers: [String: JWTProviderConfiguration]) throws(FilterConfigurationError) {
        switch proto.requiresType {
        case .providerName(let name):
            guard providers[name] != nil else { throw FilterConfigurationError(field: field + ".provider_name", "provider \"\(name)\" is not configured") }
            self = .provider(name: name, audiences: nil)
        case .providerAndAudiences(let item):
            guard providers[item.providerName] != nil else { throw FilterConfigurationError(field: field + ".provider_and_audiences.provider_name", "provider \"\(item.providerName)\" is not configured") }
            self = .provider(name: item.providerName, audiences: item.audiences)
        case .requiresAny(let list):
            guard list.requirements.count >= 2 else { throw FilterConfigurationError(field: field + ".requires_any.requirements", "needs at least 2 requirements") }
            var children: [JWTRequirement] = []
            var allowMissing = false
            for (index, item) in list.requirements.enumerated() {
                if case .allowMissing? = item.requiresType { allowMissing = true; continue }
                children.append(try JWTRequirement(item, field: "\(field).requires_any.requirements[\(index)]", providers: providers))
            }
            self = .any(children, allowMissing: allowMissing)
        case .requiresAll(let list):
            guard list.requirements.count >= 2 else { throw FilterConfigurationError(field: field + ".requires_all.requirements", "needs at least 2 requirements") }
            var children: [JWTRequirement] = []
            for (index, item) in list.requirements.enumerated() {
                children.append(try JWTRequirement(item, field: "\(field).requires_all.requirements[\(index)]", providers: providers))
            }
            self = .all(children)
        case .allowMissing: self = .allowMissing
        case .allowMissingOrFailed: self = .allowMissingOrFailed
        case .extractOnlyWithoutValidation:
            throw FilterConfigurationError.unsupported(field: field + ".extract_only_without_validation", "is not supported by the Swift proxy")
        case nil:
            throw FilterConfigurationError(field: field, "a requirement needs one of provider_name, provider_and_audiences, requires_any, requires_all, allow_missing or allow_missing_or_failed")
        }
    }
}

/// Where a provider looks for tokens.
struct JWTLocation: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case header(name: String, prefix: String)
        case parameter(String)
        case cookie(String)
    }
    var kind: Kind
}

/// A compiled `JwtProvider`.
struct JWTProviderConfiguration: Sendable {
    var name: String
    var issuer: String
    var audiences: [String]
    /// The `local_jwks` keys (empty for a remote provider).
    var keys: JWTKeySet
    /// The `remote_jwks` source, if the keys are fetched.
    var remote: RemoteJWKSSource?
    var forward: Bool
    var locations: [JWTLocation]
    var forwardPayloadHeader: String
    var padForwardPayloadHeader: Bool
    var payloadInMetadata: String
    var headerInMetadata: String
    var clockSkewSeconds: Int64
    var claimToHeaders: [(header: String, claim: String)]
    var spaceDelimitedClaims: [String]
    var requireExpiration: Bool
    var maxLifetimeSeconds: Int64?
    var subjects: StringMatcher?
    /// `clear_route_cache`: a token this provider verified has the request routed again when its
    /// payload went into the metadata or a claim became a header, so that routes can match on them.
    var clearRouteCache: Bool

    init(name: String, _ proto: Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider) throws(FilterConfigurationError) {
        let field = "providers[\"\(name)\"]"
        self.name = name
        issuer = proto.issuer
        audiences = proto.audiences
        remote = nil
        switch proto.jwksSourceSpecifier {
        case .localJwks(let source):
            switch source.specifier {
            case .inlineString(let text): keys = JWTKeySet(text)
            case .inlineBytes(let bytes): keys = JWTKeySet(String(decoding: [UInt8](bytes), as: UTF8.self))
            default:
                throw FilterConfigurationError(field: field + ".local_jwks", "only inline_string and inline_bytes JWKS are supported by the Swift proxy")
            }
        case .remoteJwks(let remote):
            keys = JWTKeySet(keys: [])
            self.remote = RemoteJWKSSource(settings: try RemoteJWKSSource.Settings(remote, field: field + ".remote_jwks"))
        case nil:
            throw FilterConfigurationError(field: field, "a provider needs local_jwks or remote_jwks")
        }
        forward = proto.forward
        var locations: [JWTLocation] = []
        for (index, header) in proto.fromHeaders.enumerated() {
            guard !header.name.isEmpty else { throw FilterConfigurationError(field: "\(field).from_headers[\(index)].name", "must not be empty") }
            locations.append(JWTLocation(kind: .header(name: header.name.lowercased(), prefix: header.valuePrefix)))
        }
        locations += proto.fromParams.map { JWTLocation(kind: .parameter($0)) }
        locations += proto.fromCookies.map { JWTLocation(kind: .cookie($0)) }
        if locations.isEmpty {
            locations = [JWTLocation(kind: .header(name: "authorization", prefix: "Bearer ")), JWTLocation(kind: .parameter("access_token"))]
        }
        self.locations = locations
        forwardPayloadHeader = proto.forwardPayloadHeader.lowercased()
        padForwardPayloadHeader = proto.padForwardPayloadHeader
        payloadInMetadata = proto.payloadInMetadata
        headerInMetadata = proto.headerInMetadata
        clockSkewSeconds = proto.clockSkewSeconds == 0 ? 60 : Int64(proto.clockSkewSeconds)
        claimToHeaders = proto.claimToHeaders.map { ($0.headerName.lowercased(), $0.claimName) }
        for (index, item) in claimToHeaders.enumerated() where item.header.isEmpty || item.claim.isEmpty {
            throw FilterConfigurationError(field: "\(field).claim_to_headers[\(index)]", "header_name and claim_name must not be empty")
        }
        spaceDelimitedClaims = proto.hasNormalizePayloadInMetadata ? proto.normalizePayloadInMetadata.spaceDelimitedClaims : []
        requireExpiration = proto.requireExpiration
        clearRouteCache = proto.clearRouteCache_p
        maxLifetimeSeconds = proto.hasMaxLifetime ? proto.maxLifetime.seconds : nil
        if proto.hasSubjects {
            subjects = try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try StringMatcher(proto.subjects, field + ".subjects", c) }
        } else {
            subjects = nil
        }
        if proto.hasJwtCacheConfig, proto.jwtCacheConfig.jwtCacheSize > 0 {
            // A verified-token cache is an optimisation; verification without it is equivalent.
        }
        if !proto.failedStatusInMetadata.isEmpty {
            throw FilterConfigurationError.unsupported(field: field + ".failed_status_in_metadata", "is not supported by the Swift proxy")
        }
    }

    /// Issuer, time, audience and subject checks, then the signature (with the local keys), in
    /// Envoy's order.
    func verify(_ jwt: ParsedJWT, now: Int64, audiences override: [String]?) -> JWTStatus {
        let status = verifyClaims(jwt, now: now, audiences: override)
        return status == .ok ? keys.verify(jwt) : status
    }

    /// Issuer, time, audience and subject checks: everything before the keys are needed.
    func verifyClaims(_ jwt: ParsedJWT, now: Int64, audiences override: [String]?) -> JWTStatus {
        if !issuer.isEmpty, jwt.issuer != issuer { return .unknownIssuer }
        if let nbf = jwt.notBefore, now + clockSkewSeconds < nbf { return .notYetValid }
        if let exp = jwt.expiration {
            if now > exp + clockSkewSeconds { return .expired }
        } else if requireExpiration {
            return .expirationRequired
        }
        if let maxLifetimeSeconds {
            guard let exp = jwt.expiration, let iat = jwt.issuedAt ?? jwt.notBefore, exp - iat <= maxLifetimeSeconds else { return .lifetimeTooLong }
        }
        let allowed = override ?? audiences
        if !allowed.isEmpty {
            let normalized = Set(allowed.map(Self.normalizeAudience))
            guard jwt.audiences.contains(where: { normalized.contains(Self.normalizeAudience($0)) }) else { return .audienceNotAllowed }
        }
        if let subjects, !subjects.matches((jwt.subject ?? "")[...]) { return .verificationFailed }
        return .ok
    }

    /// Envoy compares audiences without an `http://`/`https://` scheme and a trailing slash.
    static func normalizeAudience(_ audience: String) -> Substring {
        var value = audience[...]
        if value.hasPrefix("http://") { value = value.dropFirst(7) } else if value.hasPrefix("https://") { value = value.dropFirst(8) }
        if value.hasSuffix("/") { value = value.dropLast() }
        return value
    }
}

/// The validated `JwtAuthentication`.
struct JWTAuthnConfiguration: Sendable {
    var providers: [String: JWTProviderConfiguration]
    /// Provider names in a stable order (for `allow_missing` extraction).
    var providerOrder: [String]
    var rules: [(match: RouteMatcher, requirement: JWTRequirement?)]
    var requirementMap: [String: JWTRequirement]
    var bypassCORSPreflight: Bool
    var statPrefix: String
    var stripFailureResponse: Bool

    init(_ proto: Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication) throws(FilterConfigurationError) {
        var providers: [String: JWTProviderConfiguration] = [:]
        for name in proto.providers.keys.sorted() {
            providers[name] = try JWTProviderConfiguration(name: name, proto.providers[name]!)
        }
        self.providers = providers
        providerOrder = proto.providers.keys.sorted()
        var map: [String: JWTRequirement] = [:]
        for name in proto.requirementMap.keys.sorted() {
            map[name] = try JWTRequirement(proto.requirementMap[name]!, field: "requirement_map[\"\(name)\"]", providers: providers)
        }
        requirementMap = map
        var rules: [(RouteMatcher, JWTRequirement?)] = []
        for (index, rule) in proto.rules.enumerated() {
            let field = "rules[\(index)]"
            let match = try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try RouteMatcher(rule.match, field + ".match", ignorePathParameters: false, c) }
            switch rule.requirementType {
            case .requires(let requirement): rules.append((match, try JWTRequirement(requirement, field: field + ".requires", providers: providers)))
            case .requirementName(let name):
                guard let requirement = map[name] else { throw FilterConfigurationError(field: field + ".requirement_name", "\"\(name)\" is not in requirement_map") }
                rules.append((match, requirement))
            case nil: rules.append((match, nil))
            }
        }
        self.rules = rules
        if proto.hasFilterStateRules {
            throw FilterConfigurationError.unsupported(field: "filter_state_rules", "filter state rules are not supported by the Swift proxy")
        }
        bypassCORSPreflight = proto.bypassCorsPreflight
        statPrefix = proto.statPrefix
        stripFailureResponse = proto.stripFailureResponse
    }
}

/// One request through `jwt_authn`.
final class JWTAuthnFilter: HTTPFilter {
    let configuration: JWTAuthnConfiguration

    init(configuration: JWTAuthnConfiguration) { self.configuration = configuration }

    /// A token found in the request, and where.
    struct Token {
        var value: Substring
        var location: JWTLocation
    }

    /// What verifying the request's tokens did, applied to the request once decided.
    struct Verification {
        var head: HTTPRequestHead
        var metadata = Google_Protobuf_Struct()
        let now: Int64
        /// Remote key sources a token needs whose keys are not cached: the request waits for them
        /// and is evaluated again.
        var pending: [RemoteJWKSSource] = []
        /// A provider with `clear_route_cache` verified a token.
        var clearsRouteCache = false
    }

    /// Keys and failures of the fetches this request waited for, by source.
    private var fetched: [ObjectIdentifier: Result<JWTKeySet, RemoteJWKSFailure>] = [:]
    /// While waiting for fetches: what to evaluate again when they are done.
    private var waiting: (requirement: JWTRequirement, head: HTTPRequestHead, context: HTTPFilterContext)?
    private var fetchesInFlight = 0

    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        let stats = "jwt_authn." + configuration.statPrefix
        if configuration.bypassCORSPreflight, head.method == .OPTIONS, head.headers.contains(name: "origin"),
           head.headers.contains(name: "access-control-request-method") {
            context.counter(stats + "cors_preflight_bypassed").increment()
            return .continue
        }
        let requirement: JWTRequirement?
        switch context.perRouteConfig as? JWTAuthnFilterFactory.PerRoute {
        case .disabled?: return .continue
        case .requirement(let named)?: requirement = named
        case nil:
            let request = RouteRequest(method: head.method.rawValue, path: head.uri, authority: head.headers.first(name: "host") ?? "",
                                       headers: head.headers, scheme: context.downstreamScheme)
            requirement = configuration.rules.first { $0.match.matches(request) }?.requirement
        }
        guard let requirement else { return .continue }
        return decide(requirement, &head, context: context)
    }

    /// Evaluates `requirement` and applies the outcome: `continue` (with the head changed), a
    /// local reply, or a wait for the remote keys a token needs.
    private func decide(_ requirement: JWTRequirement, _ head: inout HTTPRequestHead, context: HTTPFilterContext) -> HTTPFilterStatus {
        let stats = "jwt_authn." + configuration.statPrefix
        var verification = Verification(head: head, now: Self.currentTime())
        let status = evaluate(requirement, &verification)
        if !verification.pending.isEmpty {
            wait(for: verification.pending, requirement: requirement, head: head, context: context)
            return .stopIteration
        }
        head = verification.head
        if !verification.metadata.fields.isEmpty { context.setDynamicMetadata(namespace: JWTAuthnFilterFactory.metadataNamespace, verification.metadata) }
        guard status == .ok else {
            context.counter(stats + "denied").increment()
            // Envoy's original URI: scheme, host and the path with its query.
            let uri = "\(context.downstreamScheme)://\(head.headers.first(name: "host") ?? "")\(head.uri)"
            var challenge = "Bearer realm=\"\(uri)\""
            if status != .missing { challenge += ", error=\"invalid_token\"" }
            var headers = HTTPHeaders()
            headers.add(name: "www-authenticate", value: challenge)
            let details = "jwt_authn_access_denied{" + status.description.replacingSpaces() + "}"
            context.sendLocalReply(HTTPLocalReply(status: status == .audienceNotAllowed ? .forbidden : .unauthorized, headers: headers,
                                                  body: configuration.stripFailureResponse ? "" : status.description,
                                                  details: details))
            return .stopIteration
        }
        context.counter(stats + "allowed").increment()
        if verification.clearsRouteCache { context.clearRouteCache() }
        return .continue
    }

    /// Fetches the keys of `sources` (or joins their fetches in flight), then evaluates the request
    /// again on its event loop.
    private func wait(for sources: [RemoteJWKSSource], requirement: JWTRequirement, head: HTTPRequestHead, context: HTTPFilterContext) {
        waiting = (requirement, head, context)
        var seen = Set<ObjectIdentifier>()
        let unique = sources.filter { seen.insert(ObjectIdentifier($0)).inserted }
        fetchesInFlight = unique.count
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let state = context.stream?.manager.state
        let stats = "jwt_authn." + configuration.statPrefix
        let counters = (success: context.counter(stats + "jwks_fetch_success"), failed: context.counter(stats + "jwks_fetch_failed"))
        for source in unique {
            source.fetch(clusters: { state?.cluster(named: $0) }, on: loop, counters: counters) { result in
                loop.execute { bound.value.fetchDone(source, result) }
            }
        }
    }

    private func fetchDone(_ source: RemoteJWKSSource, _ result: Result<JWTKeySet, RemoteJWKSFailure>) {
        fetched[ObjectIdentifier(source)] = result
        fetchesInFlight -= 1
        guard fetchesInFlight == 0, let (requirement, head, context) = waiting else { return }
        waiting = nil
        var updated = head
        switch decide(requirement, &updated, context: context) {
        case .continue:
            context.updateRequestHead { $0 = updated }
            context.continueDecoding()
        case .stopIteration, .stopAndBuffer:
            // A local reply was sent, or the request waits for further keys.
            break
        }
    }

    static func currentTime() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    // MARK: Requirements

    func evaluate(_ requirement: JWTRequirement, _ verification: inout Verification) -> JWTStatus {
        switch requirement {
        case .provider(let name, let audiences):
            guard let provider = configuration.providers[name] else { return .unknownIssuer }
            return verifyTokens(extract(provider.locations, verification.head), provider: provider, audiences: audiences, &verification)
        case .any(let children, let allowMissing):
            var statuses: [JWTStatus] = []
            let pendingBefore = verification.pending.count
            for child in children {
                let status = evaluate(child, &verification)
                if status == .ok {
                    // Satisfied: keys other children were waiting for are not needed (Envoy
                    // cancels the other verifications once one succeeds).
                    verification.pending.removeSubrange(pendingBefore...)
                    return .ok
                }
                statuses.append(status)
            }
            var final = JWTStatus.missing
            for status in statuses where !status.isMissingLike { final = status }
            if allowMissing, final == .missing { return .ok }
            return final
        case .all(let children):
            for child in children {
                let status = evaluate(child, &verification)
                if status != .ok { return status }
            }
            return .ok
        case .allowMissing, .allowMissingOrFailed:
            let status = verifyAnyIssuer(&verification)
            if requirement.isAllowMissingOrFailed { return .ok }
            return status == .missing ? .ok : status
        }
    }

    /// `allow_missing` and `allow_missing_or_failed`: tokens from every provider's locations,
    /// each verified by the provider of its issuer.
    private func verifyAnyIssuer(_ verification: inout Verification) -> JWTStatus {
        var seen = Set<JWTLocation>()
        var tokens: [Token] = []
        for name in configuration.providerOrder {
            for location in configuration.providers[name]!.locations where seen.insert(location).inserted {
                tokens += extract([location], verification.head)
            }
        }
        guard !tokens.isEmpty else { return .missing }
        for token in tokens {
            let parsed: ParsedJWT
            switch ParsedJWT.parse(token.value) {
            case .success(let jwt): parsed = jwt
            case .failure(let status): return status
            }
            guard let provider = configuration.providerOrder.lazy.compactMap({ self.configuration.providers[$0] })
                .first(where: { $0.issuer.isEmpty || $0.issuer == parsed.issuer }) else { return .unknownIssuer }
            let status = verify(parsed, provider: provider, audiences: nil, &verification)
            guard status == .ok else { return status }
            succeed(parsed, token: token, provider: provider, &verification)
        }
        return .ok
    }

    private func verifyTokens(_ tokens: [Token], provider: JWTProviderConfiguration, audiences: [String]?, _ verification: inout Verification) -> JWTStatus {
        guard !tokens.isEmpty else { return .missing }
        for token in tokens {
            let parsed: ParsedJWT
            switch ParsedJWT.parse(token.value) {
            case .success(let jwt): parsed = jwt
            case .failure(let status): return status
            }
            let status = verify(parsed, provider: provider, audiences: audiences, &verification)
            guard status == .ok else { return status }
            succeed(parsed, token: token, provider: provider, &verification)
        }
        return .ok
    }

    /// The provider's checks, then the signature against its keys: local ones, the keys a fetch
    /// this request waited for delivered, or the cached remote ones. Keys not cached make the
    /// source pending (the status is then provisional: the request waits and is evaluated again).
    private func verify(_ jwt: ParsedJWT, provider: JWTProviderConfiguration, audiences: [String]?, _ verification: inout Verification) -> JWTStatus {
        let status = provider.verifyClaims(jwt, now: verification.now, audiences: audiences)
        guard status == .ok else { return status }
        guard let remote = provider.remote else { return provider.keys.verify(jwt) }
        switch fetched[ObjectIdentifier(remote)] {
        case .success(let keys)?: return keys.verify(jwt)
        case .failure?: return .jwksFetchFailed
        case nil: break
        }
        if let keys = remote.currentKeys() { return keys.verify(jwt) }
        verification.pending.append(remote)
        return .jwksFetchFailed
    }

    // MARK: Extraction

    func extract(_ locations: [JWTLocation], _ head: HTTPRequestHead) -> [Token] {
        var tokens: [Token] = []
        for location in locations {
            switch location.kind {
            case .header(let name, let prefix):
                for value in head.headers[canonicalForm: name] {
                    if prefix.isEmpty {
                        tokens.append(Token(value: value, location: location))
                    } else if let range = value.firstRange(of: prefix) {
                        // The token runs from after the prefix to the first character a JWT cannot hold.
                        let rest = value[range.upperBound...]
                        let token = rest.prefix { $0.isJWTCharacter }
                        if !token.isEmpty { tokens.append(Token(value: token, location: location)) }
                    }
                }
            case .parameter(let name):
                for (key, value) in Self.queryParameters(head.uri) where key == name && !value.isEmpty {
                    tokens.append(Token(value: value, location: location))
                }
            case .cookie(let name):
                if let value = RouteRequest.cookieValue(head.headers, name: name), !value.isEmpty {
                    tokens.append(Token(value: value, location: location))
                }
            }
        }
        return tokens
    }

    static func queryParameters(_ uri: String) -> [(Substring, Substring)] {
        guard let question = uri.firstIndex(of: "?") else { return [] }
        var query = uri[uri.index(after: question)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        return query.split(separator: "&").map { pair in
            guard let equals = pair.firstIndex(of: "=") else { return (pair, Substring()) }
            return (pair[..<equals], pair[pair.index(after: equals)...])
        }
    }

    // MARK: Success

    /// What Envoy does with a verified token: metadata, headers, and removal unless forwarded.
    private func succeed(_ jwt: ParsedJWT, token: Token, provider: JWTProviderConfiguration, _ verification: inout Verification) {
        // As Envoy, the route cache is cleared when the payload went into the metadata or a claim
        // became a header, the two things a route can match on.
        if !provider.payloadInMetadata.isEmpty {
            verification.metadata.fields[provider.payloadInMetadata] = Google_Protobuf_Value(structValue: Self.normalize(jwt.payload, provider.spaceDelimitedClaims))
            if provider.clearRouteCache { verification.clearsRouteCache = true }
        }
        if !provider.headerInMetadata.isEmpty, let header = token.value.split(separator: ".", omittingEmptySubsequences: false).first,
           let bytes = Base64URL.decode(header), let object = try? Google_Protobuf_Struct(jsonUTF8Bytes: bytes) {
            verification.metadata.fields[provider.headerInMetadata] = Google_Protobuf_Value(structValue: object)
        }
        var headers = verification.head.headers
        if !provider.forwardPayloadHeader.isEmpty {
            var payload = String(jwt.payloadSegment)
            if provider.padForwardPayloadHeader { while payload.utf8.count % 4 != 0 { payload += "=" } }
            headers.replaceOrAdd(name: provider.forwardPayloadHeader, value: payload)
        }
        for (header, claim) in provider.claimToHeaders {
            headers.remove(name: header)
            // A claim that would break the header (CR, LF or NUL) is not copied.
            if let value = Self.claimValue(jwt.payload, claim), !ASCII.containsLineBreakOrNUL(value) {
                headers.add(name: header, value: value)
                if provider.clearRouteCache { verification.clearsRouteCache = true }
            }
        }
        if !provider.forward, case .header(let name, _) = token.location.kind {
            headers.remove(name: name)
        }
        verification.head.headers = headers
    }

    /// A claim (nested with `.`) as a header value: strings as is, numbers and booleans as text,
    /// lists of those joined with `,`; objects are not copied.
    static func claimValue(_ payload: Google_Protobuf_Struct, _ claim: String) -> String? {
        let value = DynamicMetadataMatcher.lookup(payload, claim.split(separator: ".").map(String.init))
        func scalar(_ value: Google_Protobuf_Value) -> String? {
            switch value.kind {
            case .stringValue(let s)?: return s
            case .numberValue(let n)?: return n.rounded(.towardZero) == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            case .boolValue(let b)?: return b ? "true" : "false"
            default: return nil
            }
        }
        if case .listValue(let list)? = value.kind {
            let items = list.values.compactMap(scalar)
            return items.isEmpty ? nil : items.joined(separator: ",")
        }
        return scalar(value)
    }

    /// Splits space-delimited string claims (`scope: "a b"`) into lists, as
    /// `normalize_payload_in_metadata` asks.
    static func normalize(_ payload: Google_Protobuf_Struct, _ claims: [String]) -> Google_Protobuf_Struct {
        var payload = payload
        for claim in claims {
            guard case .stringValue(let text)? = payload.fields[claim]?.kind, text.contains(" ") else { continue }
            let items = text.split(separator: " ").map { Google_Protobuf_Value(stringValue: String($0)) }
            payload.fields[claim] = Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: items))
        }
        return payload
    }
}

extension JWTRequirement {
    var isAllowMissingOrFailed: Bool {
        if case .allowMissingOrFailed = self { return true }
        return false
    }
}

extension Character {
    /// Base64url characters and the dots between a JWT's parts.
    fileprivate var isJWTCharacter: Bool {
        guard let ascii = asciiValue else { return false }
        return (ascii >= 0x30 && ascii <= 0x39) || (ascii >= 0x41 && ascii <= 0x5A) || (ascii >= 0x61 && ascii <= 0x7A)
            || ascii == UInt8(ascii: "-") || ascii == UInt8(ascii: "_") || ascii == UInt8(ascii: ".") || ascii == UInt8(ascii: "=")
    }
}

extension String {
    fileprivate func replacingSpaces() -> String { String(map { $0 == " " ? "_" : $0 }) }
}
