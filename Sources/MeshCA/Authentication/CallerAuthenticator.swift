public import X509

/// What a caller of the CA presented: a bearer token from the `authorization` metadata, and/or
/// the certificate chain of its TLS client certificate (leaf first).
public struct CallerCredentials: Sendable, Hashable {
    /// The bearer token, without the `Bearer ` prefix.
    public var bearerToken: String?
    /// The TLS client certificate chain the peer presented, leaf first; empty without one.
    public var peerCertificateChain: [Certificate]

    /// Creates credentials.
    /// - Parameters:
    ///   - bearerToken: The bearer token.
    ///   - peerCertificateChain: The client certificate chain, leaf first.
    public init(bearerToken: String? = nil, peerCertificateChain: [Certificate] = []) {
        self.bearerToken = bearerToken
        self.peerCertificateChain = peerCertificateChain
    }
}

/// The identities an authenticated caller may obtain certificates for.
public struct CallerAuthorization: Sendable, Hashable, CustomStringConvertible {
    private enum Scope: Hashable, Sendable {
        case identity(SPIFFEIdentity)
        case namespace(trustDomain: String, namespace: String)
    }
    private let scope: Scope

    /// Exactly one identity.
    /// - Parameter identity: The identity.
    public static func identity(_ identity: SPIFFEIdentity) -> Self { Self(scope: .identity(identity)) }

    /// Any service account of one namespace (written `spiffe://TD/ns/NS/sa/*` in a token file).
    /// - Parameters:
    ///   - trustDomain: The trust domain.
    ///   - namespace: The namespace.
    public static func namespace(_ namespace: String, trustDomain: String) -> Self {
        Self(scope: .namespace(trustDomain: trustDomain, namespace: namespace))
    }

    /// Whether a certificate for `identity` may be issued.
    /// - Parameter identity: The identity asked for.
    public func permits(_ identity: SPIFFEIdentity) -> Bool {
        switch scope {
        case .identity(let own): own == identity
        case .namespace(let td, let ns): identity.trustDomain == td && identity.namespace == ns
        }
    }

    /// The one identity, when the caller holds exactly one.
    public var singleIdentity: SPIFFEIdentity? {
        if case .identity(let identity) = scope { return identity }
        return nil
    }

    public var description: String {
        switch scope {
        case .identity(let identity): identity.uri
        case .namespace(let td, let ns): "spiffe://\(td)/ns/\(ns)/sa/*"
        }
    }
}

/// A caller the CA has authenticated.
public struct AuthenticatedCaller: Sendable, Hashable {
    /// The identities it may obtain certificates for.
    public var authorization: CallerAuthorization
    /// How it was authenticated, for logs: `client-certificate` or `bootstrap-token`.
    public var method: String

    /// Creates a caller.
    /// - Parameters:
    ///   - authorization: What it may ask for.
    ///   - method: How it was authenticated.
    public init(authorization: CallerAuthorization, method: String) {
        self.authorization = authorization
        self.method = method
    }
}

/// Decides who a caller is from its credentials. Kept apart from the ``CertificateAuthority``, as
/// in Istio, so the CA only signs and authenticators can be combined.
///
/// The CA service asks each authenticator in turn, for every request, and uses the first caller
/// returned. An authenticator returns `nil` when the credentials hold nothing of its kind, and
/// throws `.unauthenticated` when they do but are not valid (a wrong token, a certificate from
/// another CA): the service then refuses the request.
public protocol CallerAuthenticator: Sendable {
    /// Authenticates `credentials`.
    /// - Parameter credentials: What the caller presented.
    /// - Returns: The caller, or `nil` when there is nothing of this authenticator's kind.
    func authenticate(_ credentials: CallerCredentials) async throws(CAError) -> AuthenticatedCaller?
}
