public import Foundation
@_spi(FixedExpiryValidationTime) public import X509

/// Authenticates a caller by its TLS client certificate: the chain must verify against the
/// trust bundle (RFC 5280, at the injected time), and the leaf's SPIFFE URI SAN is the identity.
/// This is how a workload renews its certificate with the one it already holds.
public struct ClientCertificateAuthenticator: CallerAuthenticator {
    private let trustBundle: @Sendable () -> TrustBundle
    private let intermediates: [Certificate]
    private let now: @Sendable () -> Date

    /// Creates an authenticator.
    /// - Parameters:
    ///   - trustBundle: The roots client certificates must chain to (read on each request, so a
    ///     rotated bundle applies at once).
    ///   - intermediates: Intermediates a client's chain may need (the CA's own signing chain, for
    ///     clients that present only their leaf).
    ///   - now: The clock used for expiry checks.
    public init(
        trustBundle: @escaping @Sendable () -> TrustBundle,
        intermediates: [Certificate] = [],
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.trustBundle = trustBundle
        self.intermediates = intermediates
        self.now = now
    }

    public func authenticate(_ credentials: CallerCredentials) async throws(CAError) -> AuthenticatedCaller? {
        guard let leaf = credentials.peerCertificateChain.first else { return nil }
        let identities = leaf.spiffeIdentities
        guard identities.count == 1, let identity = identities.first else {
            throw CAError(.unauthenticated, "the client certificate must carry exactly one SPIFFE URI SAN, found \(identities.count)")
        }
        let store = CertificateStore(trustBundle().roots)
        var verifier = Verifier(rootCertificates: store) {
            RFC5280Policy(fixedExpiryValidationTime: now())
            SPIFFEPolicy(expected: identity)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(credentials.peerCertificateChain.dropFirst() + intermediates))
        switch result {
        case .validCertificate:
            return AuthenticatedCaller(authorization: .identity(identity), method: "client-certificate")
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }.joined(separator: "; ")
            throw CAError(.unauthenticated, "the client certificate for \(identity) does not verify against the trust bundle\(reasons.isEmpty ? "" : ": \(reasons)")")
        }
    }
}
