import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
@testable import MeshProxy
import MeshXDS
import NIOCore
import NIOPosix
import SwiftProtobuf
import Testing

/// A listener that was accepted but cannot start (its address was taken after the update was
/// checked) is dropped as Envoy drops it: counted in `listener_manager.listener_create_failure`,
/// and readiness does not wait for it forever.
@Suite(.timeLimit(.minutes(1))) struct ListenerStartFailureTests {
    static let nodeID = "listener-start-failure-test"

    static func tlsListener(host: String, port: Int) -> Envoy_Config_Listener_V3_Listener {
        var listener = TLSTests.tlsListener { context in
            var sds = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
            sds.name = "server-cert"
            context.commonTlsContext.tlsCertificateSdsSecretConfigs = [sds]
        }
        listener.name = "tls"
        listener.address.socketAddress.address = host
        listener.address.socketAddress.portValue = UInt32(port)
        return listener
    }

    static func secret() throws -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        guard case .certificate(let chain, let key) = try TestPKI().workload("server") else { throw TestFailure() }
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = "server-cert"
        secret.tlsCertificate.certificateChain.inlineString = chain
        secret.tlsCertificate.privateKey.inlineString = key
        return secret
    }

    struct TestFailure: Error {}

    /// Whether something accepts TCP connections on `host:port`.
    static func accepts(host: String, port: Int, group: MultiThreadedEventLoopGroup) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: group).connect(host: host, port: port).get() else { return false }
        try? await channel.close()
        return true
    }

    /// Whether the control plane recorded the listener type ACKed at `version` (waits up to 10 s).
    static func acked(_ ads: AggregatedDiscoveryServer, _ version: String) async -> Bool {
        for _ in 0..<200 {
            if await listenerStatus(ads).acked == version { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The listener type's last ACKed version and last NACK, as the control plane recorded them.
    static func listenerStatus(_ ads: AggregatedDiscoveryServer) async -> (acked: String?, nack: String) {
        let status = await ads.registry.statuses(nodeID: nodeID).first?.types[EnvoyTypeURL.listener]
        return (status?.lastAckedVersion, status?.lastNack.map { "\($0)" } ?? "none")
    }

    static func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<200 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func aListenerWhoseAddressIsTakenBeforeItStartsIsDroppedAndCounted() async throws {
        EnvoyAnyTypes.register()
        let host = "127.0.0.93"
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let probe = try await ServerBootstrap(group: group).bind(host: host, port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()

        let cache = SnapshotCache()
        // Version 1: the listener, without the secret it waits for.
        var snapshot = try Snapshot(version: "1", listeners: [Self.tlsListener(host: host, port: port)])
        try await cache.setSnapshot(snapshot, for: Self.nodeID)
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        let ads = AggregatedDiscoveryServer(watcher: cache)
        let server = GRPCServer(transport: transport, services: [ads])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await server.serve() }
            let xdsPort = try #require(try await transport.listeningAddress.ipv4?.port)
            var node = Envoy_Config_Core_V3_Node()
            node.id = Self.nodeID
            let proxy = ProxyServer(configuration: .init(node: node, xdsHost: "127.0.0.1", xdsPort: xdsPort, adminHost: host, adminPort: 0, workerThreads: 1),
                                    logger: Logger(label: "test"))
            tasks.addTask { try await proxy.run() }
            defer { tasks.cancelAll() }

            #expect(await Self.eventually { proxy.resources.hasReceived(EnvoyTypeURL.listener) }, "LDS never accepted")
            #expect(!proxy.isReady, "ready while the listener waits for its secret")
            // Another socket, without SO_REUSEPORT, takes the address before the secret arrives.
            let squatter = try await ServerBootstrap(group: group).bind(host: host, port: port).get()
            // Version 2: the secret, and the listener resent unchanged, which is ACKed (it was
            // checked when first accepted; Envoy holds the socket of a warming listener).
            try snapshot.set(EnvoyTypeURL.secret, version: "2", messages: [Self.secret()])
            try snapshot.set(EnvoyTypeURL.listener, version: "2", messages: [Self.tlsListener(host: host, port: port)])
            try await cache.setSnapshot(snapshot, for: Self.nodeID)

            let ready = await Self.eventually { proxy.isReady }
            #expect(ready, "readiness waits for a listener that cannot start")
            let resendAcked = await Self.acked(ads, "2")
            let lastNack = await Self.listenerStatus(ads).nack
            #expect(resendAcked, "the unchanged listener's resend was not ACKed; last NACK: \(lastNack)")
            // Re-applied while the address stays taken (version 3 resends it): still dropped,
            // counted once, not tried again.
            try snapshot.set(EnvoyTypeURL.listener, version: "3", messages: [Self.tlsListener(host: host, port: port)])
            try await cache.setSnapshot(snapshot, for: Self.nodeID)
            #expect(await Self.acked(ads, "3"))
            let failures = proxy.stats.value("listener_manager.listener_create_failure")
            #expect(failures == 1)
            #expect(proxy.isReady)
            // Once the address is free, the next application starts it.
            try await squatter.close()
            try snapshot.set(EnvoyTypeURL.listener, version: "4", messages: [Self.tlsListener(host: host, port: port)])
            try await cache.setSnapshot(snapshot, for: Self.nodeID)
            #expect(await Self.acked(ads, "4"))
            var started = false
            for _ in 0..<200 where !started {
                started = await Self.accepts(host: host, port: port, group: group)
                if !started { try? await Task.sleep(for: .milliseconds(50)) }
            }
            print("listener whose address was taken: ready \(ready), listener_create_failure \(failures ?? -1), started once free \(started)")
            #expect(started, "the dropped listener did not start once its address was free")
            #expect(proxy.stats.value("listener_manager.listener_create_failure") == 1)
            proxy.requestShutdown()
        }
        try await group.shutdownGracefully()
    }
}
