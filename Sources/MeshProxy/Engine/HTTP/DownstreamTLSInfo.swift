/// What the TLS handshake of a downstream connection established, for filters (RBAC
/// `authenticated` principals, `x-forwarded-client-cert`) and logs.
public struct DownstreamTLSInfo: Sendable, Hashable {
    /// The SNI the client sent, if any.
    public var serverName: String?
    /// The negotiated ALPN protocol, if any.
    public var negotiatedProtocol: String?
    /// Whether the client presented a certificate (and it passed validation).
    public var peerCertificatePresented: Bool
    /// URI SANs of the client certificate (Istio identities: `spiffe://TRUST_DOMAIN/ns/NS/sa/SA`).
    public var peerURISANs: [String]
    /// DNS SANs of the client certificate.
    public var peerDNSSANs: [String]
    /// The client certificate's subject, RFC 2253 style, or empty.
    public var peerSubject: String
    /// URI SANs of the certificate this proxy presented.
    public var localURISANs: [String]
    /// Lowercase hex SHA-256 of the client certificate (DER), or empty.
    public var peerCertificateSHA256: String = ""

    /// Creates a record.
    public init(serverName: String? = nil, negotiatedProtocol: String? = nil, peerCertificatePresented: Bool = false,
                peerURISANs: [String] = [], peerDNSSANs: [String] = [], peerSubject: String = "", localURISANs: [String] = []) {
        self.serverName = serverName
        self.negotiatedProtocol = negotiatedProtocol
        self.peerCertificatePresented = peerCertificatePresented
        self.peerURISANs = peerURISANs
        self.peerDNSSANs = peerDNSSANs
        self.peerSubject = peerSubject
        self.localURISANs = localURISANs
    }

    /// The principal Envoy's RBAC matches `authenticated.principal_name` against: the first URI
    /// SAN, else the first DNS SAN, else the subject.
    public var peerPrincipal: String? {
        guard peerCertificatePresented else { return nil }
        return peerURISANs.first ?? peerDNSSANs.first ?? (peerSubject.isEmpty ? nil : peerSubject)
    }
}
