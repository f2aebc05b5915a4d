import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOPosix
import SwiftProtobuf
import Testing

/// An LDS update with two listeners on one address is NACKed, as Envoy rejects it ("has duplicate
/// address"), whether or not the listeners bind; what Envoy accepts is accepted.
@Suite struct ListenerAddressConflictTests {
    static func listener(_ name: String, _ host: String, _ port: UInt32, binds: Bool = true) -> Google_Protobuf_Any {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        var socket = Envoy_Config_Core_V3_SocketAddress()
        socket.address = host
        socket.portValue = port
        listener.address.socketAddress = socket
        if !binds { listener.bindToPort = .init(false) }
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = name
        proxy.cluster = "upstream"
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.tcp_proxy"
        filter.typedConfig = try! Google_Protobuf_Any(message: proxy)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        listener.filterChains = [chain]
        return try! Google_Protobuf_Any(message: listener)
    }

    /// Validates an LDS update; the error when it is NACKed.
    static func validate(_ listeners: [String: Google_Protobuf_Any]) -> ProxyConfigurationError? {
        EnvoyAnyTypes.register()
        do {
            try ProxyResources().validate(typeURL: EnvoyTypeURL.listener, items: listeners, registry: .standard)
            return nil
        } catch let error as ProxyConfigurationError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test(arguments: [(true, true), (false, false), (true, false)])
    func twoListenersOnOneAddressAreRejectedNamingTheLaterOne(firstBinds: Bool, secondBinds: Bool) throws {
        let error = try #require(Self.validate([
            "a": Self.listener("a", "127.0.0.90", 19080, binds: firstBinds),
            "b": Self.listener("b", "127.0.0.90", 19080, binds: secondBinds),
        ]))
        #expect(error.resourceType == "Listener" && error.resourceName == "b" && error.field == "address")
        #expect(error.code == .invalid)
        #expect("\(error)".contains("127.0.0.90:19080 is also the address of listener a"), "\(error)")
    }

    @Test func twoSpellingsOfOneIPv6AddressAreOneAddress() throws {
        let error = try #require(Self.validate([
            "a": Self.listener("a", "::1", 19081, binds: false),
            "b": Self.listener("b", "0:0:0:0:0:0:0:1", 19081, binds: false),
        ]))
        #expect(error.resourceName == "b")
    }

    @Test func whatEnvoyAcceptsIsAccepted() {
        // Port 0 asks the kernel for a port each; other ports or hosts are other addresses.
        #expect(Self.validate([
            "a": Self.listener("a", "127.0.0.90", 0),
            "b": Self.listener("b", "127.0.0.90", 0),
            "c": Self.listener("c", "127.0.0.90", 19082, binds: false),
            "d": Self.listener("d", "127.0.0.91", 19082, binds: false),
            "e": Self.listener("e", "127.0.0.90", 19083, binds: false),
        ]) == nil)
    }

    @Test func aWildcardAndASpecificAddressOnOnePortAreAccepted() {
        // Envoy binds listeners with SO_REUSEPORT, so 0.0.0.0:P and 127.0.0.92:P both bind.
        #expect(Self.validate([
            "wildcard": Self.listener("wildcard", "0.0.0.0", 19084),
            "specific": Self.listener("specific", "127.0.0.92", 19084),
        ]) == nil)
    }

    /// Listeners bind with SO_REUSEPORT as Envoy's do: another socket with it (the bind probe)
    /// can bind the address a listener holds, which SO_REUSEADDR alone refuses.
    @Test func listenersBindWithReusePort() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.92", port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()
        let stats = StatsStore()
        let configuration = try ListenerConfiguration(Envoy_Config_Listener_V3_Listener(unpackingAny: Self.listener("l", "127.0.0.92", UInt32(port))))
        let chains = try ListenerRuntime.compile(configuration, state: ProxyStateStore(), stats: stats, logger: Logger(label: "test"))
        let runtime = ListenerRuntime(chains: chains, directory: ListenerDirectory(), stats: stats, logger: Logger(label: "test"))
        try await runtime.start(group: group)
        #expect(runtime.boundPort == port)
        let shared = BindProbe.failure(host: "127.0.0.92", port: port)
        await runtime.stop()
        try await group.shutdownGracefully()
        #if os(Linux)
        #expect(shared == nil, "a SO_REUSEPORT socket could not bind the listener's address: \(shared ?? "")")
        #endif
    }
}
