import X509

extension MeshCertificateAuthority {
    /// Issues a TLS server certificate for the control plane itself (istiod's certificate on its
    /// secure port): a new key generated here, DNS and IP SANs, no SPIFFE identity.
    /// - Parameters:
    ///   - dnsNames: DNS SANs, e.g. `istiod.istio-system.svc`.
    ///   - ipAddresses: IP SANs, e.g. the listen address.
    ///   - lifetime: The lifetime (capped at the maximum).
    ///   - keyAlgorithm: The key type.
    /// - Returns: The certificate, its chain (leaf first, root last) and its key.
    public func issueServerCertificate(
        dnsNames: [String], ipAddresses: [String], lifetime: Duration? = nil, keyAlgorithm: KeyAlgorithm = .ecdsaP256
    ) throws(CAError) -> WorkloadCertificate {
        let key: Certificate.PrivateKey
        do { key = try keyAlgorithm.generatePrivateKey() } catch {
            throw CAError(.signing, "cannot generate a \(keyAlgorithm) key: \(error)")
        }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(
                version: .v1, subject: DistinguishedName(), privateKey: key, attributes: .init(),
                signatureAlgorithm: key.publicKey.signatureAlgorithm ?? .ecdsaWithSHA256)
        } catch {
            throw CAError(.signing, "cannot build a CSR for \(dnsNames + ipAddresses): \(error)")
        }
        let issued = try sign(csr, options: SigningOptions(identity: nil, requestedLifetime: lifetime ?? configuration.maxLifetime, dnsNames: dnsNames, ipAddresses: ipAddresses))
        return WorkloadCertificate(chain: issued.chain, privateKeyPEM: try PEM.encode(key))
    }
}
