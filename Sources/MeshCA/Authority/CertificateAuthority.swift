import Foundation
public import X509

/// A certificate authority: it signs certificate signing requests, and it names the roots its
/// certificates chain to. Deliberately tiny, like Istio's `CertificateAuthority.Sign(csr, opts)`:
/// who may ask for what is decided before `sign` by a ``CallerAuthenticator``.
///
/// Implementations are called concurrently from many RPCs and must be safe to share.
public protocol CertificateAuthority: Sendable {
    /// Signs `csr` for the identity and lifetime in `options`.
    ///
    /// - Parameters:
    ///   - csr: The request; its signature must verify against its own public key, and any URI SAN
    ///     it asks for must be the identity in `options`.
    ///   - options: The identity to certify (already authorised), the requested lifetime and any
    ///     extra names.
    /// - Returns: The certificate and its chain, leaf first and root last.
    /// - Throws: ``CAError`` with `.invalidCSR`, `.permissionDenied` or `.signing`.
    func sign(_ csr: CertificateSigningRequest, options: SigningOptions) throws(CAError) -> IssuedCertificate

    /// The roots this CA's certificates chain to, and during a rotation the roots still trusted.
    var trustBundle: TrustBundle { get }
}

/// What to put in a certificate besides the CSR's public key.
public struct SigningOptions: Sendable, Hashable {
    /// The SPIFFE identity written as the URI SAN; `nil` for a server certificate that carries only
    /// DNS names and IP addresses (istiod's own).
    public var identity: SPIFFEIdentity?
    /// The lifetime asked for; `nil` or zero means the CA's default. Capped at the CA's maximum.
    public var requestedLifetime: Duration?
    /// DNS names to add as SANs.
    public var dnsNames: [String]
    /// IP addresses (v4 or v6 text) to add as SANs.
    public var ipAddresses: [String]

    /// Creates options.
    /// - Parameters:
    ///   - identity: The SPIFFE identity to certify.
    ///   - requestedLifetime: The lifetime asked for, or `nil` for the default.
    ///   - dnsNames: Extra DNS SANs.
    ///   - ipAddresses: Extra IP address SANs.
    public init(identity: SPIFFEIdentity?, requestedLifetime: Duration? = nil, dnsNames: [String] = [], ipAddresses: [String] = []) {
        self.identity = identity
        self.requestedLifetime = requestedLifetime
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
    }
}

/// A signed certificate with the chain a peer needs to verify it.
public struct IssuedCertificate: Sendable, Hashable {
    /// Leaf first, then intermediates, root last.
    public var chain: [Certificate]

    /// Creates a value from a chain, leaf first.
    /// - Parameter chain: The certificates, leaf first, root last; must not be empty.
    public init(chain: [Certificate]) {
        precondition(!chain.isEmpty, "an issued certificate has at least its leaf")
        self.chain = chain
    }

    /// The issued certificate.
    public var leaf: Certificate { chain[0] }

    /// Each certificate of the chain as PEM, leaf first: the `cert_chain` of Istio's response.
    public var pemChain: [String] { chain.map(PEM.encode) }

    /// The chain as one PEM text, leaf first.
    public var pem: String { pemChain.joined() }
}

extension Certificate {
    /// The SPIFFE identities in the certificate's URI SANs (other URIs are skipped).
    public var spiffeIdentities: [SPIFFEIdentity] {
        let names: [GeneralName] = ((try? extensions.subjectAlternativeNames) ?? nil).map(Array.init) ?? []
        return names.compactMap { name in
            guard case .uniformResourceIdentifier(let uri) = name else { return nil }
            return try? SPIFFEIdentity(uri: uri)
        }
    }

    /// The certificate's lifetime, from `notValidBefore` to `notValidAfter`.
    public var lifetime: Duration {
        .seconds(notValidAfter.timeIntervalSince(notValidBefore))
    }
}
