import Foundation

/// The TLS material a `Secret` holds, in Istio's two layouts: Kubernetes' `tls.crt`, `tls.key`
/// and `ca.crt`, or Istio's generic `cert`, `key` and `cacert`. Values are PEM text.
public struct TLSCredential: Sendable, Hashable, CustomStringConvertible {
    /// The certificate chain, leaf first.
    public var certificateChain: String?
    /// The leaf's private key.
    public var privateKey: String?
    /// Trusted CA certificates (to verify peers).
    public var caCertificates: String?
    /// The secret keys each part came from (e.g. `certificateChain` → `tls.crt`), for messages.
    public var sources: [Part: String] = [:]

    /// A part of a credential.
    public enum Part: String, Sendable, Hashable, CaseIterable {
        case certificateChain, privateKey, caCertificates
    }

    /// The key names of each layout, Istio's generic one first (as Istio reads them).
    public static let layouts: [(cert: String, key: String, ca: String)] = [("cert", "key", "cacert"), ("tls.crt", "tls.key", "ca.crt")]

    /// Whether a certificate and key are present (the credential can serve TLS).
    public var hasKeyPair: Bool { certificateChain != nil && privateKey != nil }

    public var description: String {
        "TLSCredential(\(Part.allCases.filter { sources[$0] != nil }.map { "\($0.rawValue) from \(sources[$0]!)" }.joined(separator: ", ")))"
    }
}

extension KubernetesSecret {
    /// The TLS material, read as Istio reads a gateway secret: `cert`/`key` when both are there,
    /// else `tls.crt`/`tls.key`; the CA from `cacert` or `ca.crt`. Values that are not base64 or
    /// not UTF-8 are left out (validation reports them).
    public var tlsCredential: TLSCredential {
        var credential = TLSCredential()
        func text(_ key: String) -> String? { value(key).flatMap { String(data: $0, encoding: .utf8) } }
        for layout in TLSCredential.layouts where credential.certificateChain == nil {
            if let cert = text(layout.cert), let key = text(layout.key) {
                credential.certificateChain = cert
                credential.privateKey = key
                credential.sources[.certificateChain] = layout.cert
                credential.sources[.privateKey] = layout.key
            }
        }
        for layout in TLSCredential.layouts where credential.caCertificates == nil {
            if let ca = text(layout.ca) {
                credential.caCertificates = ca
                credential.sources[.caCertificates] = layout.ca
            }
        }
        return credential
    }
}
