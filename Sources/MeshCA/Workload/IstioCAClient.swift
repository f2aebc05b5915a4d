import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// A client of `istio.v1.auth.IstioCertificateService/CreateCertificate` over TLS.
///
/// It verifies the server's certificate against `trustBundle` and the name `serverName`
/// (Istio's `istiod.istio-system.svc`, whatever address it dials), and authenticates with the
/// workload's current certificate when it has one and with the bootstrap token when configured
/// (both may be sent; the CA accepts the first that verifies). Each call opens one connection and
/// closes it: renewals are rare.
public struct IstioCAClient: CertificateIssuer {
    /// The CA's address.
    public var host: String
    /// The CA's port.
    public var port: Int
    /// The roots the CA's certificate must chain to.
    public var trustBundle: TrustBundle
    /// The DNS name the CA's certificate must carry (also sent as SNI and `:authority`).
    public var serverName: String
    /// Reads the bootstrap token (called for every request, so a rotated token file is picked up).
    public var token: @Sendable () -> String?
    /// How long one request may take.
    public var timeout: Duration

    /// Creates a client.
    /// - Parameters:
    ///   - host: The CA's address.
    ///   - port: The CA's port.
    ///   - trustBundle: The roots to verify the CA with.
    ///   - serverName: The name to verify the CA's certificate against.
    ///   - token: Supplies the bootstrap token, or `nil`.
    ///   - timeout: The deadline of one request.
    public init(
        host: String, port: Int, trustBundle: TrustBundle, serverName: String = "istiod.istio-system.svc",
        token: @escaping @Sendable () -> String? = { nil }, timeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.trustBundle = trustBundle
        self.serverName = serverName
        self.token = token
        self.timeout = timeout
    }

    /// A token supplier that reads `path` on each call (trailing white space removed).
    /// - Parameter path: The token file.
    public static func tokenFile(_ path: String) -> @Sendable () -> String? {
        {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return token.isEmpty ? nil : token
        }
    }

    public func issue(csrPEM: String, lifetime: Duration, current: WorkloadCertificate?) async throws -> [String] {
        var tls = HTTP2ClientTransport.Posix.TransportSecurity.TLS(
            certificateChain: [], privateKey: nil, serverCertificateVerification: .fullVerification,
            trustRoots: .certificates([.bytes(Array(trustBundle.pem.utf8), format: .pem)]))
        if let current {
            tls.certificateChain = [.bytes(Array(current.certificateChainPEM.utf8), format: .pem)]
            tls.privateKey = .bytes(Array(current.privateKeyPEM.utf8), format: .pem)
        }
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.authority = serverName
        config.backoff.initial = .milliseconds(200)
        let transport = try HTTP2ClientTransport.Posix(
            target: Self.target(host: host, port: port), transportSecurity: .tls(tls), config: config)
        var metadata: Metadata = [:]
        if let token = token() { metadata.addString("Bearer \(token)", forKey: "authorization") }
        let request = Istio_V1_Auth_IstioCertificateRequest.with {
            $0.csr = csrPEM
            $0.validityDuration = lifetime.components.seconds
        }
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        let chain = try await withGRPCClient(transport: transport) { client in
            let ca = Istio_V1_Auth_IstioCertificateService.Client(wrapping: client)
            return try await ca.createCertificate(request, metadata: metadata, options: options).certChain
        }
        guard !chain.isEmpty else { throw CAError(.signing, "the CA at \(host):\(port) answered an empty cert_chain") }
        return chain
    }

    static func target(host: String, port: Int) -> any ResolvableTarget {
        if host.contains(":") { return .ipv6(address: host, port: port) }
        if host.split(separator: ".").count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) { return .ipv4(address: host, port: port) }
        return .dns(host: host, port: port)
    }
}
