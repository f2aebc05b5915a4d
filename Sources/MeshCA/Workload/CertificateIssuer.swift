/// Something that turns a CSR into a certificate chain: Istio's CA over gRPC
/// (``IstioCAClient``), or a fake in tests.
public protocol CertificateIssuer: Sendable {
    /// Sends `csrPEM` and returns the PEM chain, leaf first.
    /// - Parameters:
    ///   - csrPEM: The PEM CSR.
    ///   - lifetime: The lifetime asked for.
    ///   - current: The certificate the workload holds, when still valid, to authenticate with.
    /// - Returns: The chain, leaf first, root last, one PEM certificate per element.
    func issue(csrPEM: String, lifetime: Duration, current: WorkloadCertificate?) async throws -> [String]
}
