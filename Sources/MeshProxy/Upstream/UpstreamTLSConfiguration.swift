public import Foundation
import MeshXDS
public import SwiftProtobuf

/// The transport a cluster (or one of its `transport_socket_matches`) uses towards its hosts.
public enum UpstreamTransportSocket: Sendable, Equatable {
    /// `envoy.transport_sockets.raw_buffer` (or no transport socket): plaintext TCP.
    case plaintext
    /// `envoy.transport_sockets.tls` with an `UpstreamTlsContext`.
    case tls(UpstreamTLSConfiguration)

    /// The TLS configuration, if any.
    public var tls: UpstreamTLSConfiguration? {
        if case .tls(let configuration) = self { return configuration }
        return nil
    }
}

/// What an `UpstreamTlsContext` asks of the client side of an upstream TLS connection.
public struct UpstreamTLSConfiguration: Sendable, Equatable {
    /// `sni`: the server name sent in the ClientHello (Istio: `outbound_.9080_._.reviews...`).
    public var sni: String
    /// `common_tls_context.alpn_protocols` (Istio sends `istio-peer-exchange`, `istio`, `h2`...).
    public var alpnProtocols: [String]
    /// The client certificates: SDS secret names (`default`) or files and inline PEM.
    public var certificates: [Certificate]
    /// How the server certificate is verified; nil means it is not verified (Envoy's behaviour
    /// without a validation context).
    public var validation: Validation?
    /// `tls_params.tls_minimum_protocol_version`; nil is Envoy's default (TLS 1.2 for clients).
    public var minimumVersion: TLSVersion?
    /// `tls_params.tls_maximum_protocol_version`; nil is Envoy's default (TLS 1.3 for clients).
    public var maximumVersion: TLSVersion?
    /// `tls_params.cipher_suites` (empty: the defaults).
    public var cipherSuites: [String]
    /// `tls_params.ecdh_curves` (empty: the defaults).
    public var ecdhCurves: [String]
    /// `auto_host_sni`: SNI from the request's host (or the endpoint hostname).
    public var autoHostSNI: Bool
    /// `auto_sni_san_validation`: verify the server certificate against that SNI.
    public var autoSNISANValidation: Bool
    /// `max_session_keys`, default 1 (0 disables session resumption).
    public var maxSessionKeys: UInt32

    /// A TLS protocol version.
    public enum TLSVersion: Sendable, Hashable {
        /// TLS 1.0.
        case tls1_0
        /// TLS 1.1.
        case tls1_1
        /// TLS 1.2.
        case tls1_2
        /// TLS 1.3.
        case tls1_3
    }

    /// A client certificate source.
    public enum Certificate: Sendable, Hashable {
        /// `tls_certificate_sds_secret_configs[].name`: a secret fetched over SDS.
        case sds(secretName: String)
        /// `tls_certificates[]`: a chain and key from files, inline data or environment variables.
        case `static`(chain: DataSource, privateKey: DataSource)
    }

    /// An Envoy `DataSource`.
    public enum DataSource: Sendable, Hashable {
        /// `filename`.
        case file(String)
        /// `inline_bytes`.
        case inlineBytes(Data)
        /// `inline_string`.
        case inlineString(String)
        /// `environment_variable`.
        case environmentVariable(String)
    }

    /// The server-certificate checks.
    public struct Validation: Sendable, Equatable {
        /// `trusted_ca` from the static validation context.
        public var trustedCA: DataSource?
        /// The SDS secret holding the trust bundle (`ROOTCA` in Istio), from
        /// `validation_context_sds_secret_config` or `combined_validation_context`.
        public var trustBundleSecretName: String?
        /// `match_typed_subject_alt_names`: the certificate must carry a SAN matching one of them.
        public var subjectAltNameMatchers: [SubjectAltNameMatcher]
        /// `verify_certificate_hash`: hex SHA-256 fingerprints, one of which must match.
        public var certificateHashes: [String]
        /// `verify_certificate_spki`: base64 SHA-256 SPKI pins, one of which must match.
        public var spkiPins: [String]
        /// `allow_expired_certificate`.
        public var allowExpiredCertificate: Bool
        /// `trust_chain_verification: ACCEPT_UNTRUSTED`.
        public var acceptUntrusted: Bool

        /// - Parameters:
        ///   - trustedCA: Static trust anchors.
        ///   - trustBundleSecretName: SDS trust bundle.
        ///   - subjectAltNameMatchers: SAN matchers.
        ///   - certificateHashes: Certificate fingerprints.
        ///   - spkiPins: SPKI pins.
        ///   - allowExpiredCertificate: Accept expired certificates.
        ///   - acceptUntrusted: Skip chain verification.
        public init(
            trustedCA: DataSource? = nil,
            trustBundleSecretName: String? = nil,
            subjectAltNameMatchers: [SubjectAltNameMatcher] = [],
            certificateHashes: [String] = [],
            spkiPins: [String] = [],
            allowExpiredCertificate: Bool = false,
            acceptUntrusted: Bool = false
        ) {
            self.trustedCA = trustedCA
            self.trustBundleSecretName = trustBundleSecretName
            self.subjectAltNameMatchers = subjectAltNameMatchers
            self.certificateHashes = certificateHashes
            self.spkiPins = spkiPins
            self.allowExpiredCertificate = allowExpiredCertificate
            self.acceptUntrusted = acceptUntrusted
        }

        /// Whether a certificate with these SANs passes the SAN check (true when there are no matchers).
        /// - Parameter subjectAltNames: The certificate's SANs with their types.
        public func acceptsSubjectAltNames(_ subjectAltNames: [(type: SubjectAltNameMatcher.SANType, value: String)]) -> Bool {
            guard !subjectAltNameMatchers.isEmpty else { return true }
            return subjectAltNameMatchers.contains { matcher in
                subjectAltNames.contains { $0.type == matcher.sanType && matcher.pattern.matches($0.value) }
            }
        }
    }

    /// - Parameters:
    ///   - sni: Server name.
    ///   - alpnProtocols: ALPN list.
    ///   - certificates: Client certificates.
    ///   - validation: Server verification.
    public init(sni: String = "", alpnProtocols: [String] = [], certificates: [Certificate] = [], validation: Validation? = nil) {
        self.sni = sni
        self.alpnProtocols = alpnProtocols
        self.certificates = certificates
        self.validation = validation
        self.minimumVersion = nil
        self.maximumVersion = nil
        self.cipherSuites = []
        self.ecdhCurves = []
        self.autoHostSNI = false
        self.autoSNISANValidation = false
        self.maxSessionKeys = 1
    }

    /// The SDS secret names this configuration needs (certificates and trust bundle), in order.
    public var sdsSecretNames: [String] {
        var names: [String] = []
        for case .sds(let name) in certificates { names.append(name) }
        if let name = validation?.trustBundleSecretName { names.append(name) }
        return names
    }
}

/// `SubjectAltNameMatcher`: a SAN type with a string pattern.
public struct SubjectAltNameMatcher: Sendable, Hashable {
    /// `san_type`.
    public enum SANType: Sendable, Hashable {
        /// `EMAIL`.
        case email
        /// `DNS`.
        case dns
        /// `URI` (SPIFFE identities).
        case uri
        /// `IP_ADDRESS`.
        case ipAddress
        /// `OTHER_NAME` with its OID.
        case otherName(oid: String)
    }

    /// Envoy's `StringMatcher`.
    public enum Pattern: Sendable, Hashable {
        /// `exact`.
        case exact(String, ignoreCase: Bool)
        /// `prefix`.
        case prefix(String, ignoreCase: Bool)
        /// `suffix`.
        case suffix(String, ignoreCase: Bool)
        /// `contains`.
        case contains(String, ignoreCase: Bool)
        /// `safe_regex`: the whole value must match.
        case regex(String)

        /// Whether `value` matches.
        /// - Parameter value: The SAN value.
        public func matches(_ value: String) -> Bool {
            func fold(_ s: String, _ ignore: Bool) -> String { ignore ? s.lowercased() : s }
            switch self {
            case .exact(let p, let i): return fold(value, i) == fold(p, i)
            case .prefix(let p, let i): return fold(value, i).hasPrefix(fold(p, i))
            case .suffix(let p, let i): return fold(value, i).hasSuffix(fold(p, i))
            case .contains(let p, let i): return fold(value, i).contains(fold(p, i))
            case .regex(let pattern):
                guard let regex = try? Regex(pattern) else { return false }
                return (try? regex.wholeMatch(in: value)) != nil
            }
        }
    }

    /// The SAN type.
    public var sanType: SANType
    /// The pattern.
    public var pattern: Pattern

    /// - Parameters:
    ///   - sanType: The SAN type.
    ///   - pattern: The pattern.
    public init(sanType: SANType, pattern: Pattern) {
        self.sanType = sanType
        self.pattern = pattern
    }
}

/// One `transport_socket_matches[]` entry: endpoints whose `envoy.transport_socket_match` metadata
/// carries every key/value of ``criteria`` use ``transportSocket``.
public struct TransportSocketMatch: Sendable, Equatable {
    /// `name`, used in stats.
    public var name: String
    /// `match`: the key/values the endpoint (or its locality) metadata must contain; empty matches all.
    public var criteria: Google_Protobuf_Struct
    /// `transport_socket`.
    public var transportSocket: UpstreamTransportSocket

    /// - Parameters:
    ///   - name: The match name.
    ///   - criteria: Required metadata key/values.
    ///   - transportSocket: The socket to use.
    public init(name: String, criteria: Google_Protobuf_Struct, transportSocket: UpstreamTransportSocket) {
        self.name = name
        self.criteria = criteria
        self.transportSocket = transportSocket
    }

    /// The filter-metadata namespace Envoy matches against.
    public static let metadataNamespace = "envoy.transport_socket_match"

    /// Whether the metadata's `envoy.transport_socket_match` struct contains every criterion.
    /// - Parameter metadata: Endpoint or locality filter metadata.
    public func matches(_ metadata: [String: Google_Protobuf_Struct]) -> Bool {
        if criteria.fields.isEmpty { return true }
        guard let labels = metadata[Self.metadataNamespace] else { return false }
        for (key, value) in criteria.fields {
            guard labels.fields[key] == value else { return false }
        }
        return true
    }
}

extension Array where Element == TransportSocketMatch {
    /// Envoy's transport-socket selection: the first match on the endpoint's metadata, else the first
    /// match on its locality's metadata, else nil (the cluster's own `transport_socket`).
    /// - Parameters:
    ///   - endpointMetadata: The endpoint's filter metadata.
    ///   - localityMetadata: The locality's filter metadata.
    public func firstMatch(
        endpointMetadata: [String: Google_Protobuf_Struct],
        localityMetadata: [String: Google_Protobuf_Struct] = [:]
    ) -> TransportSocketMatch? {
        if let match = first(where: { $0.matches(endpointMetadata) }) { return match }
        if !localityMetadata.isEmpty, let match = first(where: { $0.matches(localityMetadata) }) { return match }
        return nil
    }
}
