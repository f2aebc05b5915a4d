public import GRPCNIOTransportHTTP2
public import NIOCore
public import NIOPosix
import NIOSSL
import NIOTLS
import X509

/// A TLS listener for gRPC (`HTTP2ServerTransport.Custom`) where the client certificate is
/// optional: a workload without a certificate authenticates with a bootstrap token, one with a
/// certificate from this CA presents it. (grpc-swift's Posix transport can only require a client
/// certificate or not ask for one.) A presented certificate must chain to the trust bundle, or the
/// handshake fails; the verified chain is recorded in a ``PeerCertificateRegistry``.
///
/// Serves HTTP/2 only (ALPN `h2`), TLS 1.2 or later.
public struct SecureListenerFactory: HTTP2ServerTransport.ListenerFactory {
    /// The server's certificate chain (leaf first) and key, in PEM.
    public struct Identity: Sendable {
        /// The chain, leaf first.
        public var certificateChainPEM: String
        /// The leaf's private key.
        public var privateKeyPEM: String

        /// Creates an identity.
        /// - Parameters:
        ///   - certificateChainPEM: The chain, leaf first.
        ///   - privateKeyPEM: The leaf's private key.
        public init(certificateChainPEM: String, privateKeyPEM: String) {
            self.certificateChainPEM = certificateChainPEM
            self.privateKeyPEM = privateKeyPEM
        }
    }

    public let eventLoopGroup: any EventLoopGroup
    private let host: String
    private let port: Int
    private let sslContext: NIOSSLContext
    private let registry: PeerCertificateRegistry

    /// Creates the listener.
    /// - Parameters:
    ///   - host: The IP address to bind.
    ///   - port: The port (0 for any free port; read `listeningAddress` on the transport).
    ///   - identity: The server's certificate and key.
    ///   - clientTrust: The roots a client certificate must chain to.
    ///   - registry: Where verified client chains are recorded.
    ///   - eventLoopGroup: The event loops connections run on.
    /// - Throws: ``CAError`` `.invalidArgument` when the certificate or key does not load.
    public init(
        host: String,
        port: Int,
        identity: Identity,
        clientTrust: TrustBundle,
        registry: PeerCertificateRegistry,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(CAError) {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8))
            let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(clientTrust.pem.utf8))
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(roots)
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = ["h2"]
            self.sslContext = try NIOSSLContext(configuration: configuration)
        } catch {
            throw CAError(.invalidArgument, "cannot configure TLS for \(host):\(port): \(error)")
        }
        self.host = host
        self.port = port
        self.registry = registry
        self.eventLoopGroup = eventLoopGroup
    }

    public func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let sslContext = self.sslContext
        let registry = self.registry
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.addHandler(PeerCertificateRecorder(registry: registry))
                }.flatMap {
                    connectionConfigurator.configure(channel: channel, tls: .configured(requireALPN: false))
                }
            }
    }
}

/// Records the peer's verified chain when the TLS handshake completes; forgets it on close.
final class PeerCertificateRecorder: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    private let registry: PeerCertificateRegistry

    init(registry: PeerCertificateRegistry) { self.registry = registry }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let peer = Self.peerString(context.channel.remoteAddress) {
            let channel = context.channel
            if let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
                let leaf = handler.peerCertificate,
                let der = try? leaf.toDERBytes(), let certificate = try? Certificate(derEncoded: der)
            {
                registry.record([certificate], forPeer: peer)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer = Self.peerString(context.channel.remoteAddress) { registry.remove(peer: peer) }
        context.fireChannelInactive()
    }

    /// gRPC's peer string for an address (as `ServerContext.remotePeer` formats it).
    static func peerString(_ address: NIOCore.SocketAddress?) -> String? {
        switch address {
        case .v4(let v4)?: "ipv4:\(v4.host):\(address?.port ?? 0)"
        case .v6(let v6)?: "ipv6:[\(v6.host)]:\(address?.port ?? 0)"
        default: nil
        }
    }
}
