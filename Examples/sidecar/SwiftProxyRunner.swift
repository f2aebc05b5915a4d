import GRPCNIOTransportHTTP2
import Logging
import MeshCA
import MeshProxy
import MeshXDS
import NIOCertificateReloading
import NIOSSL
import ServiceLifecycle
import Synchronization
import SwiftProtobuf

/// Runs the Swift proxy in the agent's process (`sidecar --proxy swift`): same node identity and
/// metadata as the Envoy bootstrap, ADS to `--xds`, admin on `IP:admin-port`.
enum SwiftProxyRunner {
    static func node(_ node: ProxyNode) -> Envoy_Config_Core_V3_Node {
        var proto = Envoy_Config_Core_V3_Node()
        proto.id = node.identity.nodeID
        proto.cluster = node.serviceCluster
        proto.metadata = structValue(node.metadata)
        proto.userAgentName = "swiftmesh-proxy"
        return proto
    }

    static func structValue(_ json: JSONValue) -> Google_Protobuf_Struct {
        guard case .object(let fields) = json else { return Google_Protobuf_Struct() }
        return Google_Protobuf_Struct(fields: fields.mapValues(value))
    }

    static func value(_ json: JSONValue) -> Google_Protobuf_Value {
        switch json {
        case .string(let s): Google_Protobuf_Value(stringValue: s)
        case .number(let n): Google_Protobuf_Value(numberValue: Double(n))
        case .bool(let b): Google_Protobuf_Value(boolValue: b)
        case .array(let items): Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: items.map(value)))
        case .object: Google_Protobuf_Value(structValue: structValue(json))
        case .null: { var v = Google_Protobuf_Value(); v.nullValue = .nullValue; return v }()
        }
    }

    static func run(node: ProxyNode, xdsHost: String, xdsPort: Int, adminPort: Int, concurrency: Int, security: Security? = nil, logger: Logger) async throws {
        let configuration = ProxyServer.Configuration(
            node: Self.node(node), xdsHost: xdsHost, xdsPort: xdsPort,
            adminHost: node.ip, adminPort: adminPort, workerThreads: max(1, concurrency))
        var services: [any Service] = [ProxyLauncher(configuration: configuration, security: security, logger: logger)]
        if let security {
            services += [WorkloadSecurity.RotatorService(rotator: security.rotator), SecretFeed(rotator: security.rotator, publisher: security.publisher, xdsCertificate: security.xdsCertificate)]
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// The agent's security half for the Swift proxy (`--proxy swift --ca`): the same certificate
    /// rotator as for Envoy (CSR to istiod's CA, renewal at half the lifetime), but the workload
    /// certificate (`default`) and trust bundle (`ROOTCA`) go to the proxy in-process instead of
    /// over an SDS socket, and the proxy talks xDS to istiod over mutual TLS with that certificate.
    struct Security: Sendable {
        var rotator: CertificateRotator
        var publisher: ProxySecretPublisher
        /// The certificate the xDS connection presents on each new handshake.
        var xdsCertificate = XDSClientCertificate()

        static func make(
            identity: SPIFFEIdentity, ca: (host: String, port: Int), rootCertificateFile: String, tokenFile: String?,
            lifetime: Duration, logger: Logger
        ) throws -> Security {
            let rotator = try WorkloadSecurity.makeRotator(
                identity: identity, ca: ca, rootCertificateFile: rootCertificateFile, tokenFile: tokenFile, lifetime: lifetime, logger: logger)
            let publisher = ProxySecretPublisher(secretNames: [SecretDiscoveryServer.workloadSecretName, SecretDiscoveryServer.rootSecretName])
            return Security(rotator: rotator, publisher: publisher)
        }
    }

    /// Publishes every certificate the rotator obtains (and the current trust bundle) to the proxy.
    struct SecretFeed: Service {
        var rotator: CertificateRotator
        var publisher: ProxySecretPublisher
        var xdsCertificate: XDSClientCertificate

        func run() async throws {
            await cancelWhenGracefulShutdown {
                for await certificate in await rotator.updates() {
                    let roots = await rotator.trustBundle
                    xdsCertificate.update(certificate)
                    publisher.publish([
                        SecretDiscoveryServer.workloadSecretName: .certificate(chainPEM: certificate.certificateChainPEM, privateKeyPEM: certificate.privateKeyPEM),
                        SecretDiscoveryServer.rootSecretName: .trustedCA(pem: roots.pem),
                    ])
                }
            }
        }
    }

    /// Starts the proxy; with security, once the first workload certificate is there, and with
    /// mutual TLS towards istiod (chain verified against the mesh roots; each new connection
    /// presents the newest workload certificate, so reconnects after a renewal use the renewed one).
    struct ProxyLauncher: Service {
        var configuration: ProxyServer.Configuration
        var security: Security?
        var logger: Logger

        func run() async throws {
            var configuration = self.configuration
            if let security {
                let first = await cancelWhenGracefulShutdown { () async -> WorkloadCertificate? in
                    for await certificate in await security.rotator.updates() { return certificate }
                    return nil
                }
                guard let first else { return }
                let roots = await security.rotator.trustBundle
                configuration.secrets = security.publisher
                configuration.xdsTransportSecurity = .mTLS(
                    certificateChain: [.bytes(Array(first.certificateChainPEM.utf8), format: .pem)],
                    privateKey: .bytes(Array(first.privateKeyPEM.utf8), format: .pem)
                ) { tls in
                    tls.certificateReloader = security.xdsCertificate
                    tls.serverCertificateVerification = .noHostnameVerification
                    tls.trustRoots = .certificates([.bytes(Array(roots.pem.utf8), format: .pem)])
                }
            }
            try await ProxyServer(configuration: configuration, logger: logger).run()
        }
    }
}

/// The workload certificate as the xDS client's TLS presents it: NIOSSL asks for it on every new
/// handshake (a `CertificateReloader`), so a reconnect to istiod after a renewal uses the renewed
/// certificate rather than the one the proxy started with.
final class XDSClientCertificate: CertificateReloader {
    private let current = Mutex<NIOSSLContextConfigurationOverride>(.noChanges)

    /// Uses `certificate` for the next handshakes.
    func update(_ certificate: WorkloadCertificate) {
        var override = NIOSSLContextConfigurationOverride()
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(Array(certificate.certificateChainPEM.utf8)),
              let key = try? NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem) else { return }
        override.certificateChain = chain.map { .certificate($0) }
        override.privateKey = .privateKey(key)
        current.withLock { $0 = override }
    }

    var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride { current.withLock { $0 } }
}
