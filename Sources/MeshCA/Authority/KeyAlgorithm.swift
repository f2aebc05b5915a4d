import Crypto
public import X509
import _CryptoExtras

/// The key types the CA creates keys of: for its own self-signed root, and for workloads.
public enum KeyAlgorithm: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// ECDSA on NIST P-256, signed with SHA-256 (Istio's default for workloads).
    case ecdsaP256 = "ecdsa-p256"
    /// RSA with a 2048-bit modulus, signed with SHA-256 and PKCS#1 v1.5.
    case rsa2048 = "rsa-2048"

    /// Generates a new private key of this type.
    public func generatePrivateKey() throws -> Certificate.PrivateKey {
        switch self {
        case .ecdsaP256: return Certificate.PrivateKey(P256.Signing.PrivateKey())
        case .rsa2048: return Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        }
    }

    public var description: String { rawValue }
}

extension Certificate.PublicKey {
    /// The signature algorithm a key of this type signs certificates with.
    var signatureAlgorithm: Certificate.SignatureAlgorithm? {
        if P256.Signing.PublicKey(self) != nil { return .ecdsaWithSHA256 }
        if P384.Signing.PublicKey(self) != nil { return .ecdsaWithSHA384 }
        if P521.Signing.PublicKey(self) != nil { return .ecdsaWithSHA512 }
        if _RSA.Signing.PublicKey(self) != nil { return .sha256WithRSAEncryption }
        return nil
    }
}
