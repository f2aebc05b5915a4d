public import Foundation
import SwiftASN1
public import X509

/// The SwiftMesh CA: signs workload certificates with a self-signed root or with an operator's
/// intermediate (Istio's `cacerts` layout, see ``CADirectory``).
///
/// Issued workload certificates follow Istio's: an empty subject and a critical SPIFFE URI SAN,
/// key usage digitalSignature and keyEncipherment (critical), extended key usage serverAuth and
/// clientAuth, basic constraints CA:false (critical), subject and authority key identifiers. The
/// lifetime is the requested one (or the default, 24 h) capped at the maximum (90 days) and at the
/// signing certificate's own expiry. Time comes from the injected `now`.
public struct MeshCertificateAuthority: CertificateAuthority {
    /// Lifetimes, names and key types.
    public struct Configuration: Sendable, Hashable {
        /// The trust domain identities must belong to.
        public var trustDomain: String
        /// The lifetime of a certificate whose request names none (Istio: 24 h).
        public var defaultLifetime: Duration
        /// The longest lifetime issued; longer requests are capped (Istio's max: 90 days).
        public var maxLifetime: Duration
        /// The lifetime of a self-signed root this CA creates (10 years).
        public var rootLifetime: Duration
        /// The key type of a self-signed root this CA creates.
        public var rootKeyAlgorithm: KeyAlgorithm

        /// Creates a configuration with Istio's defaults.
        /// - Parameters:
        ///   - trustDomain: The trust domain (default `cluster.local`).
        ///   - defaultLifetime: The default workload certificate lifetime.
        ///   - maxLifetime: The longest workload certificate lifetime.
        ///   - rootLifetime: The lifetime of a created root.
        ///   - rootKeyAlgorithm: The key type of a created root.
        public init(
            trustDomain: String = "cluster.local",
            defaultLifetime: Duration = .seconds(24 * 3600),
            maxLifetime: Duration = .seconds(90 * 24 * 3600),
            rootLifetime: Duration = .seconds(10 * 365 * 24 * 3600),
            rootKeyAlgorithm: KeyAlgorithm = .ecdsaP256
        ) {
            self.trustDomain = trustDomain
            self.defaultLifetime = defaultLifetime
            self.maxLifetime = maxLifetime
            self.rootLifetime = rootLifetime
            self.rootKeyAlgorithm = rootKeyAlgorithm
        }
    }

    /// The certificate issued certificates are signed with (the root, or the operator's intermediate).
    public let signingCertificate: Certificate
    /// The signing certificate's chain: the signing certificate first, root last.
    public let signingChain: [Certificate]
    /// The roots issued certificates chain to, plus any still trusted during a root rotation.
    public let trustBundle: TrustBundle
    /// Lifetimes and trust domain.
    public let configuration: Configuration
    private let signingKey: Certificate.PrivateKey
    private let signatureAlgorithm: Certificate.SignatureAlgorithm
    private let now: @Sendable () -> Date

    /// Creates a CA from its signing certificate and key.
    ///
    /// - Parameters:
    ///   - signingChain: The signing certificate first, then its issuers up to the root.
    ///   - signingKey: The signing certificate's private key.
    ///   - trustBundle: The trusted roots; the chain's root is added when missing.
    ///   - configuration: Lifetimes and trust domain.
    ///   - now: The clock (injected for tests).
    /// - Throws: ``CAError`` `.invalidCACertificates` when the key does not match, the certificate is
    ///   not a CA, or the chain is broken.
    public init(
        signingChain: [Certificate],
        signingKey: Certificate.PrivateKey,
        trustBundle: TrustBundle? = nil,
        configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CAError) {
        guard let first = signingChain.first, let root = signingChain.last else {
            throw CAError(.invalidCACertificates, "the CA certificate chain is empty")
        }
        guard SPIFFEIdentity.isValidTrustDomain(configuration.trustDomain) else {
            throw CAError(.invalidArgument, "trust domain \"\(configuration.trustDomain)\" must be lowercase letters, digits, '.', '-' or '_'")
        }
        guard signingKey.publicKey == first.publicKey else {
            throw CAError(.invalidCACertificates, "the CA private key does not match the CA certificate (subject \(first.subject))")
        }
        guard let constraints = try? first.extensions.basicConstraints, case .isCertificateAuthority = constraints else {
            throw CAError(.invalidCACertificates, "the CA certificate (subject \(first.subject)) is not a CA: basic constraints CA:true is missing")
        }
        for (child, parent) in zip(signingChain, signingChain.dropFirst()) {
            guard child.issuer == parent.subject, parent.publicKey.isValidSignature(child.signature, for: child) else {
                throw CAError(.invalidCACertificates, "the CA chain is broken: \(child.subject) is not signed by \(parent.subject)")
            }
        }
        guard root.issuer == root.subject, root.publicKey.isValidSignature(root.signature, for: root) else {
            throw CAError(.invalidCACertificates, "the CA chain does not end with a self-signed root (last: \(root.subject))")
        }
        guard let algorithm = signingKey.publicKey.signatureAlgorithm else {
            throw CAError(.invalidCACertificates, "the CA key type is not supported (ECDSA P-256/384/521 or RSA)")
        }
        self.signingCertificate = first
        self.signingChain = signingChain
        self.signingKey = signingKey
        self.signatureAlgorithm = algorithm
        var bundle = trustBundle ?? TrustBundle(roots: [])
        if !bundle.contains(root) { bundle = TrustBundle(roots: [root] + bundle.roots) }
        self.trustBundle = bundle
        self.configuration = configuration
        self.now = now
    }

    /// A CA with a new self-signed root: key of `configuration.rootKeyAlgorithm`, valid
    /// `configuration.rootLifetime` from `now()`, subject `O=<trust domain>, CN=SwiftMesh Root CA`.
    /// - Parameters:
    ///   - configuration: Lifetimes, trust domain and root key type.
    ///   - now: The clock.
    /// - Returns: The CA and the root's private key (to persist).
    public static func selfSigned(
        configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CAError) -> (authority: MeshCertificateAuthority, key: Certificate.PrivateKey) {
        let key: Certificate.PrivateKey
        do { key = try configuration.rootKeyAlgorithm.generatePrivateKey() } catch {
            throw CAError(.signing, "cannot generate a \(configuration.rootKeyAlgorithm) root key: \(error)")
        }
        let start = now().wholeSeconds
        let root: Certificate
        do {
            let name = try DistinguishedName {
                OrganizationName(configuration.trustDomain)
                CommonName("SwiftMesh Root CA")
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            }
            root = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
                notValidBefore: start, notValidAfter: start.addingTimeInterval(configuration.rootLifetime.seconds),
                issuer: name, subject: name, signatureAlgorithm: key.publicKey.signatureAlgorithm ?? .ecdsaWithSHA256,
                extensions: extensions, issuerPrivateKey: key)
        } catch {
            throw CAError(.signing, "cannot build the self-signed root: \(error)")
        }
        let authority = try MeshCertificateAuthority(signingChain: [root], signingKey: key, configuration: configuration, now: now)
        return (authority, key)
    }

    /// The lifetime a request for `requested` gets: the default when absent or not positive,
    /// capped at the maximum.
    /// - Parameter requested: The lifetime asked for.
    public func effectiveLifetime(requested: Duration?) -> Duration {
        guard let requested, requested > .zero else { return configuration.defaultLifetime }
        return min(requested, configuration.maxLifetime)
    }

    public func sign(_ csr: CertificateSigningRequest, options: SigningOptions) throws(CAError) -> IssuedCertificate {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CAError(.invalidCSR, "the CSR signature does not verify against its public key")
        }
        let requested = try Self.requestedURIs(csr)
        if let identity = options.identity {
            guard identity.trustDomain == configuration.trustDomain else {
                throw CAError(.permissionDenied, "identity \(identity) is not in this CA's trust domain \(configuration.trustDomain)")
            }
            if let other = requested.first(where: { $0 != identity.uri }) {
                throw CAError(.permissionDenied, "the CSR asks for \(other) but the caller is authorised only for \(identity)")
            }
        } else if let other = requested.first {
            throw CAError(.permissionDenied, "the CSR asks for \(other) but no identity was authorised")
        }
        var names: [GeneralName] = []
        if let identity = options.identity { names.append(.uniformResourceIdentifier(identity.uri)) }
        names += options.dnsNames.map { .dnsName($0) }
        for ip in options.ipAddresses {
            guard let bytes = IPAddressBytes.parse(ip) else { throw CAError(.invalidArgument, "\"\(ip)\" is not an IP address") }
            names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }
        guard !names.isEmpty else { throw CAError(.invalidArgument, "a certificate needs an identity, a DNS name or an IP address") }

        let start = now().wholeSeconds
        var end = start.addingTimeInterval(effectiveLifetime(requested: options.requestedLifetime).seconds)
        end = min(end, signingCertificate.notValidAfter)
        guard end > start else {
            throw CAError(.signing, "the CA certificate (subject \(signingCertificate.subject)) expired at \(signingCertificate.notValidAfter)")
        }
        let authorityKeyID = (try? signingCertificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: signingCertificate.publicKey).keyIdentifier
        do {
            let extensions = try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                Critical(BasicConstraints.notCertificateAuthority)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
                SubjectKeyIdentifier(hash: csr.publicKey)
                // The subject is empty, so the SAN extension is critical (RFC 5280 4.2.1.6), as in Istio.
                Critical(SubjectAlternativeNames(names))
            }
            let leaf = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: csr.publicKey,
                notValidBefore: start, notValidAfter: end,
                issuer: signingCertificate.subject, subject: DistinguishedName(),
                signatureAlgorithm: signatureAlgorithm, extensions: extensions, issuerPrivateKey: signingKey)
            return IssuedCertificate(chain: [leaf] + signingChain)
        } catch {
            throw CAError(.signing, "cannot sign the certificate: \(error)")
        }
    }

    /// The URI SANs a CSR asks for in its extension request.
    static func requestedURIs(_ csr: CertificateSigningRequest) throws(CAError) -> [String] {
        let extensions: Certificate.Extensions?
        do { extensions = try csr.attributes.extensionRequest?.extensions } catch {
            throw CAError(.invalidCSR, "the CSR's extension request does not parse: \(error)")
        }
        guard let extensions else { return [] }
        let names: SubjectAlternativeNames?
        do { names = try extensions.subjectAlternativeNames } catch {
            throw CAError(.invalidCSR, "the CSR's subject alternative names do not parse: \(error)")
        }
        return (names.map(Array.init) ?? []).compactMap { (name: GeneralName) -> String? in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: TimeInterval {
        let (s, atto) = components
        return TimeInterval(s) + TimeInterval(atto) / 1e18
    }
}

extension Date {
    /// The date truncated to whole seconds, the precision of X.509 validity times (so a
    /// certificate is never "not yet valid" for the fraction of a second it was made in).
    var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
