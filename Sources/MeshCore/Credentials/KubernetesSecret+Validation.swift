import Foundation

extension KubernetesSecret {
    /// Kubernetes' and Istio's rules for a secret gateways can read, without crypto: `data`
    /// values are base64, a `kubernetes.io/tls` secret has `tls.crt` and `tls.key`, a certificate
    /// comes with its key, and the certificate, key and CA values are PEM of the right kind.
    /// Whether certificates parse and the key matches is checked by a ``ResourceValidator`` with
    /// a crypto library (MeshCA's). Messages name the field, never its value.
    public func validate(in context: ValidationContext) -> ValidationResult {
        var result = ValidationResult()
        for (key, encoded) in (data ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !Self.isValidKey(key) {
                result.error(FieldPath("data").key(key), "invalid key \"\(key)\": use letters, digits, '-', '_' and '.'")
            }
            if Data(base64Encoded: encoded) == nil {
                result.error(FieldPath("data").key(key), "value is not valid base64")
            }
        }
        for key in (stringData ?? [:]).keys.sorted() where !Self.isValidKey(key) {
            result.error(FieldPath("stringData").key(key), "invalid key \"\(key)\": use letters, digits, '-', '_' and '.'")
        }
        guard result.isValid else { return result }
        if type == Self.tlsType {
            for key in ["tls.crt", "tls.key"] where value(key) == nil {
                result.error(FieldPath("data").key(key), "a \(Self.tlsType) secret needs \(key)")
            }
        }
        for layout in TLSCredential.layouts {
            let hasCert = value(layout.cert) != nil, hasKey = value(layout.key) != nil
            if hasCert != hasKey {
                let missing = hasCert ? layout.key : layout.cert
                result.error(field(of: hasCert ? layout.cert : layout.key), "\(hasCert ? layout.cert : layout.key) needs \(missing) in the same secret")
            }
        }
        for key in keys {
            guard let role = Self.role(of: key), let bytes = value(key) else { continue }
            guard let text = String(data: bytes, encoding: .utf8) else {
                result.error(field(of: key), "value is not PEM text")
                continue
            }
            let document: PEMBlocks
            do { document = try PEMBlocks(text) } catch {
                result.error(field(of: key), "value is not valid PEM: \(error.message)")
                continue
            }
            switch role {
            case .certificateChain, .caCertificates:
                if document.blocks(labelled: "CERTIFICATE").isEmpty {
                    result.error(field(of: key), "holds no CERTIFICATE block (found \(document.blocks.map(\.label)))")
                } else if let other = document.blocks.first(where: { $0.label != "CERTIFICATE" && $0.label != "X509 CRL" }) {
                    result.error(field(of: key), "holds a \(other.label) block; only certificates belong here")
                }
            case .privateKey:
                let keys = document.blocks.filter { PEMBlocks.privateKeyLabels.contains($0.label) }
                if keys.count != 1 || document.blocks.count != 1 {
                    result.error(field(of: key), "must hold exactly one private key block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY), found \(document.blocks.map(\.label))")
                }
            }
        }
        return result
    }

    /// The credential part a key holds in Istio's layouts, or nil for other keys.
    public static func role(of key: String) -> TLSCredential.Part? {
        switch key {
        case "tls.crt", "cert": .certificateChain
        case "tls.key", "key": .privateKey
        case "ca.crt", "cacert": .caCertificates
        default: nil
        }
    }

    /// Kubernetes' rule for secret keys: `[-._a-zA-Z0-9]+`, at most 253 characters.
    static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 253 && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
    }
}
