/// Istio's `ClientTLSSettings`: TLS settings for connections to an upstream service.
///
/// Used by DestinationRule traffic policies (and elsewhere, e.g. Sidecar and mesh config).
public struct ClientTLSSettings: Sendable, Hashable, Codable {
    /// How the sidecar originates TLS to the upstream.
    public enum TLSmode: String, ConfigEnum {
        /// Plain-text connections.
        case DISABLE
        /// TLS that verifies the server with `caCertificates` or `credentialName`.
        case SIMPLE
        /// Mutual TLS with client certificates given in this policy.
        case MUTUAL
        /// Mutual TLS with Istio-issued certificates.
        case ISTIO_MUTUAL
    }

    /// The TLS mode; `DISABLE` when unset.
    public var mode: TLSmode?
    /// File paths of the client certificate, key and CA bundle (MUTUAL / SIMPLE).
    public var clientCertificate: String?
    public var privateKey: String?
    public var caCertificates: String?
    /// A Kubernetes secret (or `configmap://ns/name`) holding the certificates instead of files.
    public var credentialName: String?
    /// Names to verify the server certificate's subject alternative names against.
    public var subjectAltNames: [String]?
    /// SNI sent during the handshake.
    public var sni: String?
    /// Skip verifying the server's certificate chain and host name.
    public var insecureSkipVerify: Bool?
    /// File path of a certificate revocation list.
    public var caCrl: String?

    public init(
        mode: TLSmode? = nil, clientCertificate: String? = nil, privateKey: String? = nil,
        caCertificates: String? = nil, credentialName: String? = nil, subjectAltNames: [String]? = nil,
        sni: String? = nil, insecureSkipVerify: Bool? = nil, caCrl: String? = nil
    ) {
        self.mode = mode
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.credentialName = credentialName
        self.subjectAltNames = subjectAltNames
        self.sni = sni
        self.insecureSkipVerify = insecureSkipVerify
        self.caCrl = caCrl
    }
}
