extension ClientTLSSettings {
    /// Istio's `ValidateTLS` for client TLS settings.
    ///
    /// - Parameters:
    ///   - path: where these settings sit, e.g. `spec.trafficPolicy.tls`.
    ///   - namespace: the owning resource's namespace (a `configmap://` credential must live there).
    public func validate(at path: FieldPath, namespace: String) -> ValidationResult {
        var result = ValidationResult()
        let mode = mode ?? .DISABLE
        let credentialName = credentialName ?? ""
        let caCertificates = caCertificates ?? ""
        let clientCertificate = clientCertificate ?? ""
        let privateKey = privateKey ?? ""
        let caCrl = caCrl ?? ""
        let hasSANs = subjectAltNames != nil

        let configMapPrefix = "configmap://"
        if credentialName.hasPrefix(configMapPrefix) {
            let parts = credentialName.dropFirst(configMapPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
            let credentialPath = path / "credentialName"
            if parts.count <= 1 {
                result.error(credentialPath, "invalid configmap:// credentialName \"\(credentialName)\": expected configmap://<namespace>/<name>")
            } else if parts[0].isEmpty {
                result.error(credentialPath, "invalid configmap:// credentialName \"\(credentialName)\": expected a namespace")
            } else if parts[1].isEmpty {
                result.error(credentialPath, "invalid configmap:// credentialName \"\(credentialName)\": expected a name")
            } else if parts[0] != namespace || namespace.isEmpty {
                result.error(credentialPath, "invalid configmap:// credentialName: namespace must match the configuration namespace \"\(namespace)\"")
            }
        }

        if insecureSkipVerify == true {
            if mode == .SIMPLE, !caCertificates.isEmpty || !credentialName.isEmpty || hasSANs {
                result.error(path / "insecureSkipVerify", "cannot specify caCertificates, credentialName or subjectAltNames when insecureSkipVerify is true")
            }
            if mode == .MUTUAL, !caCertificates.isEmpty || hasSANs {
                result.error(path / "insecureSkipVerify", "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is true")
            }
        }

        if mode == .SIMPLE || mode == .MUTUAL, !credentialName.isEmpty {
            if !clientCertificate.isEmpty || !caCertificates.isEmpty || !privateKey.isEmpty || !caCrl.isEmpty {
                result.error(path / "credentialName", "cannot specify clientCertificate, privateKey, caCertificates or caCrl when credentialName is set")
            }
            // Credentials are fetched remotely; certificate files are not required.
            return result
        }

        if mode == .MUTUAL {
            if clientCertificate.isEmpty {
                result.error(path / "clientCertificate", "client certificate required for mutual tls")
            }
            if privateKey.isEmpty {
                result.error(path / "privateKey", "private key required for mutual tls")
            }
        }
        return result
    }
}
