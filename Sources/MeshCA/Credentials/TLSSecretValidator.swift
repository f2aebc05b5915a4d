public import Foundation
public import MeshCore
import SwiftASN1
import X509

/// Checks the TLS material of Kubernetes `Secret`s with swift-certificates, for
/// ``DirectoryConfigStore`` (``ResourceValidator``): every certificate parses, the private key
/// parses and belongs to the first certificate of the chain, and the CA bundle parses. An error
/// rejects the secret, so the store keeps its last good version; an expired or not yet valid
/// leaf is a warning. Messages name the field and never its value.
///
/// ```swift
/// let store = DirectoryConfigStore(directory: "config", validators: [TLSSecretValidator()])
/// ```
public struct TLSSecretValidator: ResourceValidator {
    private let now: @Sendable () -> Date

    /// Creates the validator.
    /// - Parameter now: the clock validity is checked against.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    public func validate(_ resource: AnyResource, mesh: MeshConfig) -> ValidationResult {
        var result = ValidationResult()
        guard let secret = resource.spec as? KubernetesSecret else { return result }
        var leaves: [String: Certificate] = [:]
        for key in secret.keys {
            guard let role = KubernetesSecret.role(of: key), let bytes = secret.value(key),
                  let text = String(data: bytes, encoding: .utf8) else { continue }
            let field = secret.field(of: key)
            switch role {
            case .certificateChain, .caCertificates:
                let certificates: [Certificate]
                do {
                    certificates = try Self.certificates(text)
                } catch {
                    result.error(field, error.message)
                    continue
                }
                if role == .certificateChain, let leaf = certificates.first {
                    leaves[key] = leaf
                    let date = now()
                    if leaf.notValidAfter < date {
                        result.warning(field, "the certificate (serial \(leaf.serialNumber)) expired at \(leaf.notValidAfter)")
                    } else if leaf.notValidBefore > date {
                        result.warning(field, "the certificate (serial \(leaf.serialNumber)) is not valid before \(leaf.notValidBefore)")
                    }
                }
            case .privateKey:
                do {
                    _ = try Certificate.PrivateKey(pemEncoded: text)
                } catch {
                    // The underlying error can quote DER; say what failed, not what was read.
                    result.error(field, "the private key does not parse (PKCS#8, SEC1 EC or PKCS#1 RSA expected)")
                }
            }
        }
        for layout in TLSCredential.layouts {
            guard let leaf = leaves[layout.cert], let bytes = secret.value(layout.key), let text = String(data: bytes, encoding: .utf8),
                  let key = try? Certificate.PrivateKey(pemEncoded: text) else { continue }
            if key.publicKey != leaf.publicKey {
                result.error(secret.field(of: layout.key), "the private key does not match the certificate in \(layout.cert) (serial \(leaf.serialNumber))")
            }
        }
        return result
    }

    /// The certificates of a PEM text.
    private static func certificates(_ text: String) throws(ValidationFailure) -> [Certificate] {
        let documents: [SwiftASN1.PEMDocument]
        do { documents = try SwiftASN1.PEMDocument.parseMultiple(pemString: text) } catch {
            throw ValidationFailure(message: "value is not valid PEM")
        }
        var out: [Certificate] = []
        for (index, document) in documents.enumerated() where document.discriminator == "CERTIFICATE" {
            do { out.append(try Certificate(pemDocument: document)) } catch {
                throw ValidationFailure(message: "certificate \(index + 1) does not parse as X.509")
            }
        }
        guard !out.isEmpty else { throw ValidationFailure(message: "holds no certificate") }
        return out
    }

    private struct ValidationFailure: Error {
        var message: String
    }
}
