import MeshXDS
import NIOSSL
import SwiftProtobuf

/// What a filter chain's `DownstreamTlsContext` asks of the server side of its connections.
public struct DownstreamTLSConfiguration: Sendable, Equatable {
    /// The server certificate: an SDS secret name or a static chain and key (the first of
    /// `tls_certificates` / `tls_certificate_sds_secret_configs`).
    public var certificate: UpstreamTLSConfiguration.Certificate
    /// How client certificates are verified (trusted CA, SAN matchers, hashes); nil when clients
    /// are not asked for a certificate.
    public var validation: UpstreamTLSConfiguration.Validation?
    /// `require_client_certificate`: the handshake fails without a valid client certificate.
    public var requireClientCertificate: Bool
    /// `common_tls_context.alpn_protocols`, in server preference order.
    public var alpnProtocols: [String]
    /// `tls_params.tls_minimum_protocol_version` (nil: TLS 1.2, Envoy's server default).
    public var minimumVersion: UpstreamTLSConfiguration.TLSVersion?
    /// `tls_params.tls_maximum_protocol_version` (nil: TLS 1.3).
    public var maximumVersion: UpstreamTLSConfiguration.TLSVersion?
    /// `tls_params.cipher_suites` (TLS 1.2 and below; empty: the defaults).
    public var cipherSuites: [String]
    /// `tls_params.ecdh_curves` (empty: the defaults).
    public var ecdhCurves: [String]

    /// The SDS secret names the chain needs before it can accept connections.
    public var sdsSecretNames: [String] {
        var names: [String] = []
        if case .sds(let name) = certificate { names.append(name) }
        if let name = validation?.trustBundleSecretName { names.append(name) }
        return names
    }

    /// - Parameters: see the properties.
    public init(
        certificate: UpstreamTLSConfiguration.Certificate, validation: UpstreamTLSConfiguration.Validation?, requireClientCertificate: Bool,
        alpnProtocols: [String] = [], minimumVersion: UpstreamTLSConfiguration.TLSVersion? = nil, maximumVersion: UpstreamTLSConfiguration.TLSVersion? = nil,
        cipherSuites: [String] = [], ecdhCurves: [String] = []
    ) {
        self.certificate = certificate
        self.validation = validation
        self.requireClientCertificate = requireClientCertificate
        self.alpnProtocols = alpnProtocols
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.cipherSuites = cipherSuites
        self.ecdhCurves = ecdhCurves
    }

    /// The type URL of `DownstreamTlsContext`.
    static let typeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"

    init(_ socket: Envoy_Config_Core_V3_TransportSocket, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        guard case .typedConfig(let any)? = socket.configType, any.typeURL == Self.typeURL else {
            throw context.error(.unsupported, "\(field).typed_config", "transport socket \"\(socket.name)\" (\(socket.typedConfig.typeURL)) is not supported; only raw_buffer and tls are")
        }
        let tls: Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext
        do { tls = try .init(unpackingAny: any) } catch {
            throw context.error(.invalid, "\(field).typed_config", "cannot decode DownstreamTlsContext: \(error)")
        }
        let typedField = "\(field).typed_config"
        if tls.hasRequireSni && tls.requireSni.value {
            throw context.error(.unsupported, "\(typedField).require_sni", "require_sni is not supported by the Swift proxy")
        }
        if tls.sessionTicketKeysType != nil {
            throw context.error(.unsupported, "\(typedField).session_ticket_keys", "session ticket keys are not supported by the Swift proxy")
        }
        if tls.ocspStaplePolicy != .lenientStapling {
            throw context.error(.unsupported, "\(typedField).ocsp_staple_policy", "OCSP stapling policies are not supported by the Swift proxy")
        }
        // The common context is shared with clusters: parse it with the cluster converter's rules.
        var upstreamShape = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        upstreamShape.commonTlsContext = tls.commonTlsContext
        let common = try ClusterConverter(tlsContextsOf: context).convertTLS(upstreamShape, field: typedField)
        let commonField = "\(typedField).common_tls_context"
        guard let first = common.certificates.first else {
            throw context.error(.invalid, commonField, "a server needs tls_certificates or tls_certificate_sds_secret_configs")
        }
        if common.certificates.count > 1 {
            throw context.error(.unsupported, commonField, "more than one server certificate (certificate selection by key type or SNI) is not supported by the Swift proxy")
        }
        certificate = first
        validation = common.validation
        requireClientCertificate = tls.hasRequireClientCertificate && tls.requireClientCertificate.value
        if requireClientCertificate, validation == nil {
            throw context.error(.invalid, "\(typedField).require_client_certificate", "requiring a client certificate needs a validation context")
        }
        if let validation, validation.trustedCA == nil, validation.trustBundleSecretName == nil, !validation.acceptUntrusted {
            throw context.error(.invalid, "\(commonField).validation_context.trusted_ca", "verifying client certificates needs a trusted CA")
        }
        alpnProtocols = common.alpnProtocols
        minimumVersion = common.minimumVersion
        maximumVersion = common.maximumVersion
        cipherSuites = common.cipherSuites
        ecdhCurves = common.ecdhCurves
        // Static material is checked now, so a bad PEM is NACKed rather than failing handshakes.
        if case .static(let chain, let key) = certificate {
            let chainField = "\(commonField).tls_certificates[0].certificate_chain"
            let keyField = "\(commonField).tls_certificates[0].private_key"
            try TLSMaterial.checkPair(
                chain: try TLSMaterial.bytes(of: chain, field: chainField, context: context), key: try TLSMaterial.bytes(of: key, field: keyField, context: context),
                chainField: chainField, keyField: keyField, context: context)
        }
        if let ca = validation?.trustedCA {
            let caField = "\(commonField).validation_context.trusted_ca"
            _ = try TLSMaterial.certificates(try TLSMaterial.bytes(of: ca, field: caField, context: context), field: caField, context: context)
        }
    }
}

/// Envoy's (BoringSSL's) names for TLS parameters.
enum TLSParameterNames {
    /// The cipher suite names BoringSSL (and so Envoy) accepts in `cipher_suites`.
    static let cipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-PSK-AES128-CBC-SHA",
        "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-PSK-AES256-CBC-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "PSK-AES128-CBC-SHA", "AES256-SHA", "PSK-AES256-CBC-SHA",
        "DES-CBC3-SHA",
    ]

    /// Whether `name` is a cipher suite, or a BoringSSL equal-preference group `[A|B]` of them.
    static func isKnownCipherSuite(_ name: String) -> Bool {
        if name.hasPrefix("["), name.hasSuffix("]") {
            let members = name.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
            return !members.isEmpty && members.allSatisfy { cipherSuites.contains(String($0)) }
        }
        return cipherSuites.contains(name)
    }

    /// The curve for an Envoy `ecdh_curves` name.
    static func curve(_ name: String) -> NIOTLSCurve? {
        switch name {
        case "X25519": .x25519
        case "P-256": .secp256r1
        case "P-384": .secp384r1
        case "P-521": .secp521r1
        case "X25519MLKEM768": .x25519_MLKEM768
        default: nil
        }
    }

    static func version(_ version: UpstreamTLSConfiguration.TLSVersion) -> TLSVersion {
        switch version {
        case .tls1_0: .tlsv1
        case .tls1_1: .tlsv11
        case .tls1_2: .tlsv12
        case .tls1_3: .tlsv13
        }
    }
}
