import Synchronization
public import X509

/// The client certificate chains of the TLS connections a ``SecureListenerFactory`` accepted,
/// keyed by gRPC's peer string (`ipv4:127.0.0.1:50123`, the `ServerContext.remotePeer` of every
/// RPC on the connection). An entry is added when the handshake completes, before any RPC on the
/// connection runs, and removed when the connection closes.
public final class PeerCertificateRegistry: Sendable {
    private let chains = Mutex<[String: [Certificate]]>([:])

    /// An empty registry.
    public init() {}

    /// The verified chain the peer presented, leaf first; `nil` when it presented none.
    /// - Parameter peer: `ServerContext.remotePeer`.
    public func chain(forPeer peer: String) -> [Certificate]? {
        chains.withLock { $0[peer] }
    }

    /// The number of connections with a client certificate.
    public var count: Int { chains.withLock { $0.count } }

    func record(_ chain: [Certificate], forPeer peer: String) {
        chains.withLock { $0[peer] = chain }
    }

    func remove(peer: String) {
        _ = chains.withLock { $0.removeValue(forKey: peer) }
    }
}
