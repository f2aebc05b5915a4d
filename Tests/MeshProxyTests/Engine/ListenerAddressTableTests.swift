import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOPosix
import Testing

/// Which listener a restored original destination is handed to, as Envoy's connection handler
/// decides: the exact address, else the wildcard of the same family and port, and IPv4
/// destinations also reach `ipv4_compat` IPv6 listeners.
@Suite struct ListenerAddressTableTests {
    static func destination(_ ip: String, _ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: port) }

    @Test func exactThenWildcardOfTheSameFamily() throws {
        let table = ListenerAddressTable([
            (ListenerAddress(host: "10.0.0.5", port: 80), "exact"),
            (ListenerAddress(host: "0.0.0.0", port: 80), "v4 wildcard"),
            (ListenerAddress(host: "::", port: 80), "v6 wildcard"),
        ])
        #expect(table.lookup(try Self.destination("10.0.0.5", 80)) == "exact")
        #expect(table.lookup(try Self.destination("10.0.0.6", 80)) == "v4 wildcard")
        #expect(table.lookup(try Self.destination("fd00::1", 80)) == "v6 wildcard")
        #expect(table.lookup(try Self.destination("10.0.0.6", 81)) == nil)
    }

    @Test func ipv4DestinationsReachIPv4CompatibleListeners() throws {
        let compatible = ListenerAddressTable([
            (ListenerAddress(host: "::", port: 15001, ipv4Compat: true), "virtualOutbound"),
            (ListenerAddress(host: "::ffff:10.0.0.7", port: 9080, ipv4Compat: true), "mapped"),
        ])
        #expect(compatible.lookup(try Self.destination("10.1.2.3", 15001)) == "virtualOutbound")
        #expect(compatible.lookup(try Self.destination("10.0.0.7", 9080)) == "mapped")
        // Without ipv4_compat an IPv6 listener takes no IPv4 destinations.
        let v6Only = ListenerAddressTable([(ListenerAddress(host: "::", port: 15001), "v6 only")])
        #expect(v6Only.lookup(try Self.destination("10.1.2.3", 15001)) == nil)
        // A real IPv4 listener keeps its address.
        let both = ListenerAddressTable([
            (ListenerAddress(host: "::", port: 80, ipv4Compat: true), "v6"),
            (ListenerAddress(host: "0.0.0.0", port: 80), "v4"),
        ])
        #expect(both.lookup(try Self.destination("10.1.2.3", 80)) == "v4")
    }

    /// Bound as Envoy binds: `[::]:port` without `ipv4_compat` is IPv6-only, so an IPv4 socket can
    /// take the same port; with it, the IPv6 listener holds the IPv4 port too.
    @Test(arguments: [false, true])
    func ipv6ListenersTakeIPv4OnlyWithIPv4Compat(ipv4Compat: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = try LoopbackProbe.freeIPv6Port()
        var listener = ListenerConfigurationTests.listener([ListenerConfigurationTests.chain({ _ in }, cluster: "c")])
        listener.address.socketAddress.address = "::"
        listener.address.socketAddress.portValue = UInt32(port)
        listener.address.socketAddress.ipv4Compat = ipv4Compat
        let configuration = try ListenerConfiguration(listener)
        #expect(configuration.address.ipv4Compat == ipv4Compat)
        let stats = StatsStore()
        let chains = try ListenerRuntime.compile(configuration, state: ProxyStateStore(), stats: stats, logger: Logger(label: "test"))
        let runtime = ListenerRuntime(chains: chains, directory: ListenerDirectory(), stats: stats, logger: Logger(label: "test"))
        try await runtime.start(group: group)
        let ipv4 = try? await ServerBootstrap(group: group).bind(host: "0.0.0.0", port: port).get()
        #expect((ipv4 != nil) == !ipv4Compat, "0.0.0.0:\(port) bindable: \(ipv4 != nil)")
        try? await ipv4?.close()
        await runtime.stop()
        try await group.shutdownGracefully()
    }
}

/// A port free on both `::` and `0.0.0.0`, from the kernel.
enum LoopbackProbe {
    static func freeIPv6Port() throws -> Int {
        for _ in 0..<20 {
            let port = Int.random(in: 20_000..<60_000)
            if BindProbe.failure(host: "::", port: port, ipv4Compat: true) == nil { return port }
        }
        throw ProbeError()
    }

    struct ProbeError: Error {}
}
