public import Foundation
public import X509

/// A workload's certificate with its private key and chain, as the node agent holds it and
/// serves it to its proxy (the SDS `default` secret).
public struct WorkloadCertificate: Sendable, Hashable {
    /// The chain as the CA answered it: leaf first, root last.
    public var chain: [Certificate]
    /// The leaf's private key, PEM; it never leaves the agent's process except to its own proxy.
    public var privateKeyPEM: String

    /// Creates a value.
    /// - Parameters:
    ///   - chain: The chain, leaf first; must not be empty.
    ///   - privateKeyPEM: The leaf's key.
    public init(chain: [Certificate], privateKeyPEM: String) {
        precondition(!chain.isEmpty, "a workload certificate has at least its leaf")
        self.chain = chain
        self.privateKeyPEM = privateKeyPEM
    }

    /// The certificate itself.
    public var leaf: Certificate { chain[0] }
    /// When it stops being valid.
    public var notValidAfter: Date { leaf.notValidAfter }
    /// The chain as PEM, leaf first (the `certificate_chain` of Envoy's `tls_certificate`;
    /// the root is left out, as Istio's agent does, since peers hold it already).
    public var certificateChainPEM: String {
        let withoutRoot = chain.count > 1 && chain.last.map { $0.issuer == $0.subject } == true ? chain.dropLast() : chain[...]
        return withoutRoot.map(PEM.encode).joined()
    }
    /// The root the chain ends with, when it ends with a self-signed one.
    public var root: Certificate? {
        guard chain.count > 1, let last = chain.last, last.issuer == last.subject else { return nil }
        return last
    }
}

/// Creates a workload key and a CSR for an identity, as Istio's agent does: the key stays in the
/// process; the CSR carries the SPIFFE URI SAN in its extension request.
public enum WorkloadCSR {
    /// A new key and a PEM CSR for `identity`.
    /// - Parameters:
    ///   - identity: The identity asked for.
    ///   - keyAlgorithm: The key type.
    /// - Returns: The PEM private key and the PEM CSR.
    public static func make(identity: SPIFFEIdentity, keyAlgorithm: KeyAlgorithm = .ecdsaP256) throws(CAError) -> (privateKeyPEM: String, csrPEM: String) {
        do {
            let key = try keyAlgorithm.generatePrivateKey()
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)])
            }
            let attributes = try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))])
            let csr = try CertificateSigningRequest(
                version: .v1, subject: DistinguishedName(), privateKey: key, attributes: attributes,
                signatureAlgorithm: key.publicKey.signatureAlgorithm ?? .ecdsaWithSHA256)
            return (try PEM.encode(key), try csr.serializeAsPEM().pemString + "\n")
        } catch let error as CAError {
            throw error
        } catch {
            throw CAError(.signing, "cannot create a CSR for \(identity): \(error)")
        }
    }
}
