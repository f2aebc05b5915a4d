extension ServerTLSSettings {
    /// OpenSSL cipher suite names Istio accepts in `cipherSuites` (others are ignored with a warning).
    static let validCipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ]

    /// Istio's `IsValidCipherSuite`: known names, `ALL`, or expressions starting with an operator (`-`, `+`, `!`, `[`).
    static func isValidCipherSuite(_ suite: String) -> Bool {
        guard let first = suite.first, suite != "ALL" else { return true }
        if !first.isLetter, !first.isNumber { return true }
        return validCipherSuites.contains(suite)
    }

    /// Applies Istio's `validateTLSOptions` and the CRD schema rules for server TLS settings.
    ///
    /// - Parameter path: the path of the `tls` field, e.g. `spec.servers[0].tls`.
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let mode = effectiveMode
        let has = { (s: String?) in !(s ?? "").isEmpty }

        // CRD schema: list sizes.
        if let names = credentialNames, names.isEmpty || names.count > 2 {
            result.error(path / "credentialNames", "credentialNames must hold 1 or 2 entries, found \(names.count)")
        }
        if let certs = tlsCertificates, certs.isEmpty || certs.count > 2 {
            result.error(path / "tlsCertificates", "tlsCertificates must hold 1 or 2 entries, found \(certs.count)")
        }

        if minProtocolVersion == .TLSV1_0 || minProtocolVersion == .TLSV1_1, (cipherSuites ?? []).isEmpty {
            result.warning(path / "minProtocolVersion", "TLS versions below TLSV1_2 require setting compatible cipherSuites, as the defaults no longer include them")
        }
        var seen = Set<String>(), invalid = Set<String>(), duplicate = Set<String>()
        for suite in cipherSuites ?? [] {
            if !Self.isValidCipherSuite(suite) {
                invalid.insert(suite)
            } else if !seen.insert(suite).inserted {
                duplicate.insert(suite)
            }
        }
        if !invalid.isEmpty {
            result.warning(path / "cipherSuites", "ignoring invalid cipher suites: \(invalid.sorted().joined(separator: ", "))")
        }
        if !duplicate.isEmpty {
            result.warning(path / "cipherSuites", "ignoring duplicate cipher suites: \(duplicate.sorted().joined(separator: ", "))")
        }

        if mode == .ISTIO_MUTUAL {
            // Istio's own certificates are used; any other certificate source is a mistake.
            if has(serverCertificate) { result.error(path / "serverCertificate", "ISTIO_MUTUAL TLS cannot have associated server certificate") }
            if has(privateKey) { result.error(path / "privateKey", "ISTIO_MUTUAL TLS cannot have associated private key") }
            if has(caCertificates) { result.error(path / "caCertificates", "ISTIO_MUTUAL TLS cannot have associated CA bundle") }
            if !(tlsCertificates ?? []).isEmpty { result.error(path / "tlsCertificates", "ISTIO_MUTUAL TLS cannot have associated tlsCertificates") }
            if has(credentialName) { result.error(path / "credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName") }
            if !(credentialNames ?? []).isEmpty { result.error(path / "credentialNames", "ISTIO_MUTUAL TLS cannot have associated credentialNames") }
            return result
        }

        if isPassthrough {
            if has(caCrl) || has(serverCertificate) || has(privateKey) || has(caCertificates) || !(tlsCertificates ?? []).isEmpty
                || has(credentialName) || !(credentialNames ?? []).isEmpty {
                result.warning(path, "\(mode.rawValue) mode does not use certificates, they will be ignored")
            }
        }

        var sources = 0
        if has(serverCertificate), has(privateKey) { sources += 1 }
        if has(credentialName) { sources += 1 }
        if !(credentialNames ?? []).isEmpty { sources += 1 }
        if !(tlsCertificates ?? []).isEmpty { sources += 1 }
        if sources > 1 {
            result.error(path, "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified")
        }

        let terminating = mode == .SIMPLE || mode == .MUTUAL || mode == .OPTIONAL_MUTUAL
        // With a credential, certificates (and the CA bundle) come from the secret.
        if terminating, has(credentialName) || !(credentialNames ?? []).isEmpty { return result }

        if terminating {
            let prefix = mode == .SIMPLE ? "SIMPLE TLS" : "MUTUAL TLS"
            if mode != .SIMPLE, !has(caCertificates) {
                result.error(path / "caCertificates", "\(prefix) requires a client CA bundle (caCertificates), unless credentialName is set")
            }
            if let certs = tlsCertificates, !certs.isEmpty {
                for (i, cert) in certs.enumerated() {
                    if !has(cert.serverCertificate) { result.error((path / "tlsCertificates")[i] / "serverCertificate", "\(prefix) requires a server certificate") }
                    if !has(cert.privateKey) { result.error((path / "tlsCertificates")[i] / "privateKey", "\(prefix) requires a private key") }
                }
            } else {
                if !has(serverCertificate) { result.error(path / "serverCertificate", "\(prefix) requires a server certificate (serverCertificate or credentialName)") }
                if !has(privateKey) { result.error(path / "privateKey", "\(prefix) requires a private key") }
            }
        }
        if has(caCrl) {
            if has(credentialName) {
                result.error(path / "caCrl", "CRL is not supported with credentialName; the CRL has to be specified in the credential")
            }
            if mode == .SIMPLE {
                result.error(path / "caCrl", "CRL is not supported with SIMPLE TLS")
            }
        }
        return result
    }
}
