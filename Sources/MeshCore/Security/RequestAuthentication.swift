/// Istio's `RequestAuthentication` spec (`security.istio.io`): which JSON Web Tokens a workload accepts.
///
/// A request carrying an invalid token is rejected; a request without a token is accepted unless an
/// `AuthorizationPolicy` requires a request principal.
public struct RequestAuthentication: ResourceSpec {
    public static var kind: ResourceKind { .requestAuthentication }

    /// Workloads the policy applies to; at most one of `selector`, `targetRef` and `targetRefs` may be set.
    public var selector: WorkloadSelector?
    /// A single resource the policy attaches to (hidden from Istio's docs; prefer `targetRefs`).
    public var targetRef: PolicyTargetReference?
    /// Resources (Gateway, GatewayClass, Service, ServiceEntry) the policy attaches to.
    public var targetRefs: [PolicyTargetReference]?
    /// The tokens accepted; each rule applies when a token is found at one of its locations.
    public var jwtRules: [JWTRule]?

    public init(
        selector: WorkloadSelector? = nil, targetRef: PolicyTargetReference? = nil,
        targetRefs: [PolicyTargetReference]? = nil, jwtRules: [JWTRule]? = nil
    ) {
        self.selector = selector
        self.targetRef = targetRef
        self.targetRefs = targetRefs
        self.jwtRules = jwtRules
    }

    /// Istio's `JWTRule`: how to find, verify and forward one issuer's tokens.
    public struct JWTRule: Sendable, Hashable, Codable {
        /// The expected `iss` claim.
        public var issuer: String?
        /// Accepted `aud` values; the service name is accepted when empty.
        public var audiences: [String]?
        /// URL of the issuer's JSON Web Key Set; exclusive with `jwks`.
        public var jwksUri: String?
        /// The snake_case spelling of `jwksUri`, which Istio's CRD also accepts. Prefer ``jwksUri``.
        public var jwks_uri: String?
        /// An inline JSON Web Key Set; exclusive with `jwksUri`.
        public var jwks: String?

        /// Headers the token is read from (default: `Authorization: Bearer`).
        public var fromHeaders: [JWTHeader]?
        /// Query parameters the token is read from (default: `access_token`).
        public var fromParams: [String]?
        /// Cookies the token is read from.
        public var fromCookies: [String]?

        /// Header that receives the base64-encoded verified payload.
        public var outputPayloadToHeader: String?
        /// Keep the original token on the upstream request (default false).
        public var forwardOriginalToken: Bool?
        /// Claims copied into request headers after verification.
        public var outputClaimToHeaders: [ClaimToHeader]?
        /// How long to wait for the key set to be fetched (default 5s).
        public var timeout: ConfigDuration?
        /// Claims, besides `scope` and `permission`, whose values are split on spaces for matching.
        public var spaceDelimitedClaims: [String]?
        /// Whether a token must be present.
        public var presence: Presence?

        public init(
            issuer: String? = nil, audiences: [String]? = nil, jwksUri: String? = nil, jwks_uri: String? = nil,
            jwks: String? = nil, fromHeaders: [JWTHeader]? = nil, fromParams: [String]? = nil,
            fromCookies: [String]? = nil, outputPayloadToHeader: String? = nil, forwardOriginalToken: Bool? = nil,
            outputClaimToHeaders: [ClaimToHeader]? = nil, timeout: ConfigDuration? = nil,
            spaceDelimitedClaims: [String]? = nil, presence: Presence? = nil
        ) {
            self.issuer = issuer
            self.audiences = audiences
            self.jwksUri = jwksUri
            self.jwks_uri = jwks_uri
            self.jwks = jwks
            self.fromHeaders = fromHeaders
            self.fromParams = fromParams
            self.fromCookies = fromCookies
            self.outputPayloadToHeader = outputPayloadToHeader
            self.forwardOriginalToken = forwardOriginalToken
            self.outputClaimToHeaders = outputClaimToHeaders
            self.timeout = timeout
            self.spaceDelimitedClaims = spaceDelimitedClaims
            self.presence = presence
        }

        /// The key set URL whichever spelling set it.
        public var effectiveJwksUri: String? { jwksUri ?? jwks_uri }

        /// Istio's `JWTRule.Presence`.
        public enum Presence: String, ConfigEnum {
            /// A request without a token passes authentication.
            case OPTIONAL
            /// A request without a token is rejected.
            case REQUIRED
        }
    }

    /// Istio's `JWTHeader`: a header carrying the token.
    public struct JWTHeader: Sendable, Hashable, Codable {
        /// The header name (required).
        public var name: String?
        /// A prefix stripped before decoding, such as `"Bearer "`.
        public var prefix: String?

        public init(name: String? = nil, prefix: String? = nil) {
            self.name = name
            self.prefix = prefix
        }
    }

    /// Istio's `ClaimToHeader`: copies one claim into a request header.
    public struct ClaimToHeader: Sendable, Hashable, Codable {
        /// The header to set (letters, digits, '-' and '_').
        public var header: String?
        /// The claim to copy; nested claims use dots (`a.b.c`).
        public var claim: String?

        public init(header: String? = nil, claim: String? = nil) {
            self.header = header
            self.claim = claim
        }
    }
}
