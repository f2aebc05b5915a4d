import Crypto
import _CryptoExtras
import SwiftProtobuf

/// Why a token failed, with the message Envoy's `jwt_verify_lib` uses (it becomes the body of
/// the 401/403 local reply).
public enum JWTStatus: Error, Sendable, Hashable, CustomStringConvertible {
    case ok
    case missing
    case expired
    case notYetValid
    case badFormat
    case headerBadBase64
    case headerBadJSON
    case headerBadAlg
    case headerUnsupportedAlg
    case headerBadKid
    case payloadBadBase64
    case payloadBadJSON
    case payloadBadField(String, String)
    case signatureBadBase64
    case unknownIssuer
    case audienceNotAllowed
    case verificationFailed
    case kidAlgMismatch
    case noValidKeys
    case expirationRequired
    case lifetimeTooLong
    case jwksFetchFailed

    public var description: String {
        switch self {
        case .ok: "OK"
        case .missing: "Jwt is missing"
        case .expired: "Jwt is expired"
        case .notYetValid: "Jwt not yet valid"
        case .badFormat: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
        case .headerBadBase64: "Jwt header is an invalid Base64url encoded"
        case .headerBadJSON: "Jwt header is an invalid JSON"
        case .headerBadAlg: "Jwt header [alg] field is required and must be a string"
        case .headerUnsupportedAlg: "Jwt header [alg] is not supported"
        case .headerBadKid: "Jwt header [kid] field is not a string"
        case .payloadBadBase64: "Jwt payload is an invalid Base64url encoded"
        case .payloadBadJSON: "Jwt payload is an invalid JSON"
        case .payloadBadField(let field, let expectation): "Jwt payload [\(field)] field is not \(expectation)"
        case .signatureBadBase64: "Jwt signature is an invalid Base64url encoded"
        case .unknownIssuer: "Jwt issuer is not configured"
        case .audienceNotAllowed: "Audiences in Jwt are not allowed"
        case .verificationFailed: "Jwt verification fails"
        case .kidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt"
        case .noValidKeys: "Jwks doesn't have any valid public key"
        case .expirationRequired: "Jwt expiration is required"
        case .lifetimeTooLong: "Jwt lifetime is too long"
        case .jwksFetchFailed: "Jwks remote fetch is failed"
        }
    }

    /// Missing tokens and tokens of another issuer do not count as failures in `requires_any`.
    var isMissingLike: Bool { self == .missing || self == .unknownIssuer }
}

/// A parsed (not yet verified) JWT.
struct ParsedJWT {
    var algorithm: String
    var keyID: String?
    var issuer: String?
    var subject: String?
    var audiences: [String]
    var expiration: Int64?
    var notBefore: Int64?
    var issuedAt: Int64?
    var payload: Google_Protobuf_Struct
    /// The base64url payload segment as in the token.
    var payloadSegment: Substring
    var signingInput: Substring
    var signature: [UInt8]

    static func parse(_ token: Substring) -> Result<ParsedJWT, JWTStatus> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.badFormat) }
        guard let headerBytes = Base64URL.decode(parts[0]) else { return .failure(.headerBadBase64) }
        guard let header = try? Google_Protobuf_Struct(jsonUTF8Bytes: headerBytes) else { return .failure(.headerBadJSON) }
        guard case .stringValue(let alg)? = header.fields["alg"]?.kind else { return .failure(.headerBadAlg) }
        guard JWTAlgorithmKind(rawValue: alg) != nil else { return .failure(.headerUnsupportedAlg) }
        var kid: String?
        if let value = header.fields["kid"] {
            guard case .stringValue(let string)? = value.kind else { return .failure(.headerBadKid) }
            kid = string
        }
        guard let payloadBytes = Base64URL.decode(parts[1]) else { return .failure(.payloadBadBase64) }
        guard let payload = try? Google_Protobuf_Struct(jsonUTF8Bytes: payloadBytes) else { return .failure(.payloadBadJSON) }
        guard let signature = Base64URL.decode(parts[2]) else { return .failure(.signatureBadBase64) }
        var jwt = ParsedJWT(algorithm: alg, keyID: kid, issuer: nil, subject: nil, audiences: [], expiration: nil, notBefore: nil, issuedAt: nil,
                            payload: payload, payloadSegment: parts[1], signingInput: token[token.startIndex..<parts[1].endIndex], signature: signature)
        for field in ["iss", "sub", "jti"] {
            guard let value = payload.fields[field] else { continue }
            guard case .stringValue(let string)? = value.kind else { return .failure(.payloadBadField(field, "a string")) }
            if field == "iss" { jwt.issuer = string } else if field == "sub" { jwt.subject = string }
        }
        for field in ["exp", "nbf", "iat"] {
            guard let value = payload.fields[field] else { continue }
            guard case .numberValue(let number)? = value.kind, number >= 0, number < 9.2e18, number.rounded(.towardZero) == number else {
                return .failure(.payloadBadField(field, "a positive 64 bit integer"))
            }
            switch field {
            case "exp": jwt.expiration = Int64(number)
            case "nbf": jwt.notBefore = Int64(number)
            default: jwt.issuedAt = Int64(number)
            }
        }
        if let value = payload.fields["aud"] {
            switch value.kind {
            case .stringValue(let string)?: jwt.audiences = [string]
            case .listValue(let list)?:
                for item in list.values {
                    guard case .stringValue(let string)? = item.kind else { return .failure(.payloadBadField("aud", "a string or string list")) }
                    jwt.audiences.append(string)
                }
            default: return .failure(.payloadBadField("aud", "a string or string list"))
            }
        }
        return .success(jwt)
    }
}

/// The signature algorithms Envoy's `jwt_authn` supports.
enum JWTAlgorithmKind: String, Sendable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case edDSA = "EdDSA"
}

/// One verification key of a JWKS (or a PEM public key).
struct JWTVerificationKey: @unchecked Sendable {
    // The swift-crypto key types are immutable values; @unchecked because some are not marked Sendable.
    enum Material {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case hmac(SymmetricKey)
    }

    var keyID: String?
    var algorithm: String?
    var material: Material

    /// Whether this key can verify `alg` (the key type fits, and the key's `alg`, if any, equals it).
    func fits(_ alg: JWTAlgorithmKind) -> Bool {
        if let algorithm, algorithm != alg.rawValue { return false }
        switch (material, alg) {
        case (.rsa, .rs256), (.rsa, .rs384), (.rsa, .rs512), (.rsa, .ps256), (.rsa, .ps384), (.rsa, .ps512): return true
        case (.p256, .es256), (.p384, .es384), (.p521, .es512): return true
        case (.ed25519, .edDSA): return true
        case (.hmac, .hs256), (.hmac, .hs384), (.hmac, .hs512): return true
        default: return false
        }
    }

    func verify(_ signature: [UInt8], _ input: Substring, _ alg: JWTAlgorithmKind) -> Bool {
        let data = Array(input.utf8)
        switch (material, alg) {
        case (.rsa(let key), _):
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            switch alg {
            case .rs256: return key.isValidSignature(sig, for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
            case .rs384: return key.isValidSignature(sig, for: SHA384.hash(data: data), padding: .insecurePKCS1v1_5)
            case .rs512: return key.isValidSignature(sig, for: SHA512.hash(data: data), padding: .insecurePKCS1v1_5)
            case .ps256: return key.isValidSignature(sig, for: SHA256.hash(data: data), padding: .PSS)
            case .ps384: return key.isValidSignature(sig, for: SHA384.hash(data: data), padding: .PSS)
            case .ps512: return key.isValidSignature(sig, for: SHA512.hash(data: data), padding: .PSS)
            default: return false
            }
        case (.p256(let key), .es256):
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA256.hash(data: data))
        case (.p384(let key), .es384):
            guard let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA384.hash(data: data))
        case (.p521(let key), .es512):
            guard let sig = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA512.hash(data: data))
        case (.ed25519(let key), .edDSA):
            return key.isValidSignature(signature, for: data)
        case (.hmac(let key), .hs256): return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: data, using: key)
        case (.hmac(let key), .hs384): return HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: data, using: key)
        case (.hmac(let key), .hs512): return HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: data, using: key)
        default: return false
        }
    }
}

/// A provider's keys: a JWKS (`{"keys": [...]}`) or a PEM public key, as Envoy's `local_jwks`.
/// Keys of unknown or malformed types are skipped (as Envoy does); an empty set rejects every token.
struct JWTKeySet: Sendable {
    var keys: [JWTVerificationKey]

    init(_ text: String) {
        if let json = try? Google_Protobuf_Struct(jsonString: text), case .listValue(let list)? = json.fields["keys"]?.kind {
            keys = list.values.compactMap { value in
                guard case .structValue(let jwk)? = value.kind else { return nil }
                return Self.key(jwk)
            }
        } else {
            keys = Self.pem(text).map { [JWTVerificationKey(keyID: nil, algorithm: nil, material: $0)] } ?? []
        }
    }

    init(keys: [JWTVerificationKey]) { self.keys = keys }

    /// A JWKS document (JSON only, as Envoy reads a fetched `remote_jwks`); nil unless it has at
    /// least one usable key.
    init?(jwks text: String) {
        guard let json = try? Google_Protobuf_Struct(jsonString: text), case .listValue(let list)? = json.fields["keys"]?.kind else { return nil }
        keys = list.values.compactMap { value in
            guard case .structValue(let jwk)? = value.kind else { return nil }
            return Self.key(jwk)
        }
        if keys.isEmpty { return nil }
    }

    private static func string(_ jwk: Google_Protobuf_Struct, _ name: String) -> String? {
        if case .stringValue(let s)? = jwk.fields[name]?.kind { return s }
        return nil
    }

    private static func key(_ jwk: Google_Protobuf_Struct) -> JWTVerificationKey? {
        let kid = string(jwk, "kid")
        let alg = string(jwk, "alg")
        func bytes(_ name: String) -> [UInt8]? { string(jwk, name).flatMap { Base64URL.decode($0[...]) } }
        let material: JWTVerificationKey.Material?
        switch string(jwk, "kty") {
        case "RSA":
            guard let n = bytes("n"), let e = bytes("e") else { return nil }
            material = (try? _RSA.Signing.PublicKey(n: n, e: e)).map { .rsa($0) }
        case "EC":
            guard let x = bytes("x"), let y = bytes("y") else { return nil }
            let raw = x + y
            switch string(jwk, "crv") {
            case "P-256": material = (try? P256.Signing.PublicKey(rawRepresentation: raw)).map { .p256($0) }
            case "P-384": material = (try? P384.Signing.PublicKey(rawRepresentation: raw)).map { .p384($0) }
            case "P-521": material = (try? P521.Signing.PublicKey(rawRepresentation: raw)).map { .p521($0) }
            default: material = nil
            }
        case "OKP":
            guard string(jwk, "crv") == "Ed25519", let x = bytes("x") else { return nil }
            material = (try? Curve25519.Signing.PublicKey(rawRepresentation: x)).map { .ed25519($0) }
        case "oct":
            guard let k = bytes("k"), !k.isEmpty else { return nil }
            material = .hmac(SymmetricKey(data: k))
        default:
            material = nil
        }
        return material.map { JWTVerificationKey(keyID: kid, algorithm: alg, material: $0) }
    }

    private static func pem(_ text: String) -> JWTVerificationKey.Material? {
        if let key = try? _RSA.Signing.PublicKey(pemRepresentation: text) { return .rsa(key) }
        if let key = try? P256.Signing.PublicKey(pemRepresentation: text) { return .p256(key) }
        if let key = try? P384.Signing.PublicKey(pemRepresentation: text) { return .p384(key) }
        if let key = try? P521.Signing.PublicKey(pemRepresentation: text) { return .p521(key) }
        return nil
    }

    /// Verifies the signature with the keys that fit the token's `kid` and `alg`.
    func verify(_ jwt: ParsedJWT) -> JWTStatus {
        guard !keys.isEmpty else { return .noValidKeys }
        guard let alg = JWTAlgorithmKind(rawValue: jwt.algorithm) else { return .headerUnsupportedAlg }
        var tried = false
        for key in keys {
            if let kid = jwt.keyID, let keyID = key.keyID, kid != keyID { continue }
            guard key.fits(alg) else { continue }
            tried = true
            if key.verify(jwt.signature, jwt.signingInput, alg) { return .ok }
        }
        return tried ? .verificationFailed : .kidAlgMismatch
    }
}

/// Base64url without padding (padding is tolerated), as JWTs use it.
enum Base64URL {
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() { table[Int(character)] = UInt8(index) }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        return table
    }()

    static func decode(_ text: Substring) -> [UInt8]? {
        var input = Array(text.utf8)
        while input.last == UInt8(ascii: "=") { input.removeLast() }
        guard input.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = table[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((accumulator >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            output += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)]]
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)]]
        }
        return String(decoding: output, as: UTF8.self)
    }
}
