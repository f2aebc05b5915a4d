import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MeshCA
import MeshXDS
import ServiceLifecycle
import X509

/// istiod's CA and secure port: the CA from `--ca-dir` (a self-signed root is created there when
/// the folder is empty), istiod's own TLS certificate from that CA (SANs
/// `istiod.istio-system.svc` and the listen IP), and one gRPC server on `--secure-address`
/// serving ADS and `IstioCertificateService` over TLS. Client certificates are optional there:
/// a workload authenticates to the CA with its certificate from this CA or with a bootstrap token.
/// ADS on this port has its own server and snapshot cache: a proxy whose client certificate
/// proves its identity there is served the secrets of its namespace (gateway credentials).
struct IstiodSecurity {
    /// The DNS name in istiod's certificate, which agents and Envoy verify (as in Istio).
    static let serverName = "istiod.istio-system.svc"

    var authority: MeshCertificateAuthority
    var origin: CADirectory.Origin
    var server: GRPCServer<HTTP2ServerTransport.Custom<SecureListenerFactory>>
    /// ADS on the secure port.
    var ads: AggregatedDiscoveryServer
    var host: String
    var port: Int

    /// Loads or creates the CA and builds the secure server.
    /// - Parameters:
    ///   - caDirectory: The `--ca-dir` folder.
    ///   - trustDomain: `--trust-domain`.
    ///   - tokenFile: `--bootstrap-token-file`, if any.
    ///   - secureAddress: `--secure-address` as host and port.
    ///   - ads: Makes the secure port's ADS service, given where verified client certificates are recorded.
    ///   - logger: istiod's logger.
    static func make(
        caDirectory: String, trustDomain: String, tokenFile: String?, secureAddress: (String, Int),
        ads makeADS: (PeerCertificateRegistry) -> AggregatedDiscoveryServer, logger: Logger
    ) throws -> IstiodSecurity {
        let directory = CADirectory(url: URL(fileURLWithPath: caDirectory))
        let (authority, origin) = try directory.loadOrCreate(configuration: .init(trustDomain: trustDomain))
        var authenticators: [any CallerAuthenticator] = [
            ClientCertificateAuthenticator(trustBundle: { authority.trustBundle }, intermediates: Array(authority.signingChain.dropLast()))
        ]
        if let tokenFile {
            let tokens = try BootstrapTokenAuthenticator(contentsOfFile: tokenFile)
            logger.info("bootstrap tokens loaded", metadata: ["file": "\(tokenFile)", "tokens": "\(tokens.count)"])
            authenticators.append(tokens)
        }
        let (host, port) = secureAddress
        let own = try authority.issueServerCertificate(dnsNames: [serverName, "istiod.istio-system.svc.cluster.local", "istiod"], ipAddresses: [host])
        let registry = PeerCertificateRegistry()
        let factory = try SecureListenerFactory(
            host: host, port: port,
            identity: .init(certificateChainPEM: own.certificateChainPEM, privateKeyPEM: own.privateKeyPEM),
            clientTrust: authority.trustBundle, registry: registry)
        let ca = IstioCertificateService(
            authority: authority, authenticators: authenticators, peerCertificates: registry, logger: Logger(label: "istiod.ca"))
        let transport = HTTP2ServerTransport.Custom(listenerFactory: factory)
        let ads = makeADS(registry)
        let server = GRPCServer(transport: transport, services: [ads, ca])
        logger.info("CA ready", metadata: [
            "dir": "\(caDirectory)", "origin": "\(origin)", "trustDomain": "\(trustDomain)",
            "signer": "\(authority.signingCertificate.subject)", "roots": "\(authority.trustBundle.roots.count)",
        ])
        return IstiodSecurity(authority: authority, origin: origin, server: server, ads: ads, host: host, port: port)
    }

    /// The identity a connection's verified client certificate proves: its one SPIFFE ID, in
    /// `trustDomain`; nil without a certificate or for any other shape.
    static func verifiedIdentity(_ chain: [Certificate]?, trustDomain: String) -> VerifiedProxyIdentity? {
        guard let leaf = chain?.first else { return nil }
        let identities = leaf.spiffeIdentities
        guard identities.count == 1, identities[0].trustDomain == trustDomain else { return nil }
        return VerifiedProxyIdentity(trustDomain: trustDomain, namespace: identities[0].namespace, serviceAccount: identities[0].serviceAccount)
    }

    /// The secure server as a `Service`: on graceful shutdown it closes ADS streams and drains.
    struct SecureServerService: Service {
        var server: GRPCServer<HTTP2ServerTransport.Custom<SecureListenerFactory>>
        var ads: AggregatedDiscoveryServer

        func run() async throws {
            try await withGracefulShutdownHandler {
                try await server.serve()
            } onGracefulShutdown: {
                Task {
                    await ads.closeAllStreams()
                    server.beginGracefulShutdown()
                }
            }
        }
    }
}
