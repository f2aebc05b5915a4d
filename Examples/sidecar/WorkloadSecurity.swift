import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MeshCA
import ServiceLifecycle

/// The agent's security half, on when `--ca` is given: the certificate rotator (key generated
/// here, CSR to istiod's CA over TLS, renewal at half the lifetime with jitter, backoff while the
/// CA is away) and the SDS server on a Unix domain socket that hands Envoy the `default` and
/// `ROOTCA` secrets. Envoy's bootstrap then talks to istiod over TLS with that certificate.
struct WorkloadSecurity {
    var rotator: CertificateRotator
    var sdsServer: GRPCServer<HTTP2ServerTransport.Posix>
    var bootstrap: BootstrapSecurity

    /// Builds the rotator and the SDS server.
    /// - Parameters:
    ///   - identity: The workload's SPIFFE identity.
    ///   - ca: `--ca` as host and port.
    ///   - rootCertificateFile: `--root-cert`.
    ///   - tokenFile: `--token-file`, if any.
    ///   - lifetime: `--cert-ttl`.
    ///   - directory: The agent's work folder (the SDS socket goes there).
    ///   - logger: The agent's logger.
    static func make(
        identity: SPIFFEIdentity, ca: (host: String, port: Int), rootCertificateFile: String, tokenFile: String?,
        lifetime: Duration, directory: URL, logger: Logger
    ) throws -> WorkloadSecurity {
        let rotator = try makeRotator(
            identity: identity, ca: ca, rootCertificateFile: rootCertificateFile, tokenFile: tokenFile, lifetime: lifetime, logger: logger)

        let socketDirectory = directory.appendingPathComponent("workload-spiffe-uds")
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let socket = socketDirectory.appendingPathComponent("socket").path
        try? FileManager.default.removeItem(atPath: socket)
        var sdsLogger = logger
        sdsLogger[metadataKey: "component"] = "sds"
        let sds = SecretDiscoveryServer(rotator: rotator, logger: sdsLogger)
        let server = GRPCServer(
            transport: HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: socket), transportSecurity: .plaintext),
            services: [sds])
        return WorkloadSecurity(
            rotator: rotator, sdsServer: server,
            bootstrap: BootstrapSecurity(sdsSocketPath: socket))
    }

    /// The certificate rotator both proxies use: CSRs to istiod's CA at `ca`, trusting the roots in
    /// `rootCertificateFile`, authenticated by the token in `tokenFile` until a certificate exists.
    static func makeRotator(
        identity: SPIFFEIdentity, ca: (host: String, port: Int), rootCertificateFile: String, tokenFile: String?,
        lifetime: Duration, logger: Logger
    ) throws -> CertificateRotator {
        let rootsText: String
        do { rootsText = try String(contentsOfFile: rootCertificateFile, encoding: .utf8) } catch {
            throw AgentError(.invalidOption, "--root-cert \(rootCertificateFile) cannot be read: \(error)")
        }
        let roots = try TrustBundle(pem: rootsText, source: rootCertificateFile)
        let token: @Sendable () -> String?
        if let tokenFile { token = IstioCAClient.tokenFile(tokenFile) } else { token = { nil } }
        let client = IstioCAClient(host: ca.host, port: ca.port, trustBundle: roots, token: token)
        var rotatorLogger = logger
        rotatorLogger[metadataKey: "component"] = "ca-client"
        return CertificateRotator(identity: identity, issuer: client, trustBundle: roots, lifetime: lifetime, logger: rotatorLogger)
    }

    /// The services to run next to Envoy.
    var services: [any Service] {
        [RotatorService(rotator: rotator), SDSService(server: sdsServer)]
    }

    struct RotatorService: Service {
        var rotator: CertificateRotator
        func run() async throws {
            await cancelWhenGracefulShutdown { await rotator.run() }
        }
    }

    struct SDSService: Service {
        var server: GRPCServer<HTTP2ServerTransport.Posix>
        func run() async throws {
            try await withGracefulShutdownHandler {
                try await server.serve()
            } onGracefulShutdown: {
                server.beginGracefulShutdown()
            }
        }
    }

    /// Parses `--cert-ttl`: a number with a unit `s`, `m`, `h` or `d` (as in `24h`, `20s`).
    static func parseLifetime(_ text: String) -> Duration? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value > 0 else { return nil }
        switch unit {
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        case "d": return .seconds(value * 86400)
        default: return nil
        }
    }
}
