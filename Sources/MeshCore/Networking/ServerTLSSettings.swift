/// Istio's `ServerTLSSettings`: how a listener (Gateway server, Sidecar ingress listener) terminates TLS.
///
/// Shared by ``Gateway`` servers and ``Sidecar`` ingress listeners. An unset `mode` means
/// `PASSTHROUGH`, the proto default.
public struct ServerTLSSettings: Sendable, Hashable, Codable {
    /// Redirect plain-text HTTP requests to HTTPS (301).
    public var httpsRedirect: Bool?
    /// How TLS is handled on this port; unset means `PASSTHROUGH`.
    public var mode: TLSmode?

    // MARK: Certificates from files
    /// Path to the server certificate (PEM), for `SIMPLE` and `MUTUAL` modes.
    public var serverCertificate: String?
    /// Path to the server private key (PEM).
    public var privateKey: String?
    /// Path to the CA bundle used to verify client certificates (`MUTUAL`).
    public var caCertificates: String?
    /// Path to a certificate revocation list for client certificates.
    public var caCrl: String?

    // MARK: Certificates from secrets
    /// Secret holding the server certificate, key and optionally the CA bundle.
    public var credentialName: String?
    /// Up to two secrets (for example one RSA and one ECDSA certificate).
    public var credentialNames: [String]?
    /// Secret holding only the CA bundle used to verify clients.
    public var caCertCredentialName: String?
    /// Up to two certificate/key pairs from files.
    public var tlsCertificates: [TLSCertificate]?

    // MARK: Client verification
    /// Subject alternative names accepted from client certificates.
    public var subjectAltNames: [String]?
    /// Base64 SHA-256 hashes of accepted client certificates' SPKI.
    public var verifyCertificateSpki: [String]?
    /// Hex SHA-256 hashes of accepted client certificates.
    public var verifyCertificateHash: [String]?

    // MARK: Protocol
    /// Lowest TLS version accepted.
    public var minProtocolVersion: TLSProtocol?
    /// Highest TLS version accepted.
    public var maxProtocolVersion: TLSProtocol?
    /// Cipher suites offered, OpenSSL names; the proxy's defaults when unset.
    public var cipherSuites: [String]?
    /// Accept client certificates that fail verification (only with `OPTIONAL_MUTUAL`-style setups).
    public var insecureSkipVerify: Bool?

    /// Istio's `ServerTLSSettings.TLSmode`.
    public enum TLSmode: String, ConfigEnum {
        case PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL
    }

    /// Istio's `ServerTLSSettings.TLSProtocol`.
    public enum TLSProtocol: String, ConfigEnum {
        case TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3
    }

    /// One certificate/key pair given as file paths.
    public struct TLSCertificate: Sendable, Hashable, Codable {
        public var serverCertificate: String?
        public var privateKey: String?
        public var caCertificates: String?

        public init(serverCertificate: String? = nil, privateKey: String? = nil, caCertificates: String? = nil) {
            self.serverCertificate = serverCertificate
            self.privateKey = privateKey
            self.caCertificates = caCertificates
        }
    }

    public init(
        httpsRedirect: Bool? = nil, mode: TLSmode? = nil, serverCertificate: String? = nil, privateKey: String? = nil,
        caCertificates: String? = nil, caCrl: String? = nil, credentialName: String? = nil, credentialNames: [String]? = nil,
        caCertCredentialName: String? = nil, tlsCertificates: [TLSCertificate]? = nil, subjectAltNames: [String]? = nil,
        verifyCertificateSpki: [String]? = nil, verifyCertificateHash: [String]? = nil,
        minProtocolVersion: TLSProtocol? = nil, maxProtocolVersion: TLSProtocol? = nil, cipherSuites: [String]? = nil,
        insecureSkipVerify: Bool? = nil
    ) {
        self.httpsRedirect = httpsRedirect
        self.mode = mode
        self.serverCertificate = serverCertificate
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.caCrl = caCrl
        self.credentialName = credentialName
        self.credentialNames = credentialNames
        self.caCertCredentialName = caCertCredentialName
        self.tlsCertificates = tlsCertificates
        self.subjectAltNames = subjectAltNames
        self.verifyCertificateSpki = verifyCertificateSpki
        self.verifyCertificateHash = verifyCertificateHash
        self.minProtocolVersion = minProtocolVersion
        self.maxProtocolVersion = maxProtocolVersion
        self.cipherSuites = cipherSuites
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// The mode in effect: `PASSTHROUGH` when unset.
    public var effectiveMode: TLSmode { mode ?? .PASSTHROUGH }

    /// True for `PASSTHROUGH` and `AUTO_PASSTHROUGH` (the proxy does not terminate TLS).
    public var isPassthrough: Bool { effectiveMode == .PASSTHROUGH || effectiveMode == .AUTO_PASSTHROUGH }
}
