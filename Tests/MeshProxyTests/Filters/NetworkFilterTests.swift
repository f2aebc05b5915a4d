import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import SwiftProtobuf
import Testing

/// Network filters before the terminal filter on an `EmbeddedChannel`: the RBAC network filter
/// closes denied connections on their first bytes, passes allowed bytes through unchanged, and
/// counts as Envoy; the chain handler holds and resumes bytes; listeners validate and NACK.
@Suite struct NetworkFilterTests {
    typealias NetworkRBAC = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC

    static func factory(_ json: String) throws -> NetworkRBACFilterFactory {
        EnvoyAnyTypes.register()
        return try NetworkRBACFilterFactory(config: Google_Protobuf_Any(message: NetworkRBAC(jsonString: json)))
    }

    static func channel(_ factories: [any NetworkFilterFactory], stats: StatsStore, peer: String, localPort: Int = 3306) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        channel.localAddress = try SocketAddress(ipAddress: "127.0.0.31", port: localPort)
        let entries = factories.enumerated().map { NetworkFilterChainHandler.Entry(name: "f\($0.offset)", factory: $0.element) }
        try channel.pipeline.syncOperations.addHandler(NetworkFilterChainHandler(entries: entries, stats: stats))
        try channel.connect(to: SocketAddress(ipAddress: peer, port: 50000)).wait()
        return channel
    }

    static let policy = """
        {"stat_prefix": "tcp.", "rules": {"action": "ALLOW", "policies": {"office": {
           "permissions": [{"destination_port": 3306}], "principals": [{"direct_remote_ip": {"address_prefix": "10.1.0.0", "prefix_len": 16}}]}}},
         "shadow_rules": {"action": "DENY", "policies": {"dry": {"permissions": [{"any": true}], "principals": [{"any": true}]}}},
         "shadow_rules_stat_prefix": "istio_dry_run_deny_"}
        """

    @Test func allowedConnectionsPassBytesBothWays() throws {
        let stats = StatsStore()
        let channel = try Self.channel([try Self.factory(Self.policy)], stats: stats, peer: "10.1.2.3")
        try channel.writeInbound(ByteBuffer(string: "hello"))
        try channel.writeInbound(ByteBuffer(string: " again"))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "hello")
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == " again")
        try channel.writeOutbound(ByteBuffer(string: "reply"))
        #expect(try channel.readOutbound(as: IOData.self).map { data -> String in
            guard case .byteBuffer(let buffer) = data else { return "" }
            return String(buffer: buffer)
        } == "reply")
        #expect(channel.isActive)
        // ONE_TIME_ON_FIRST_BYTE: one decision per connection.
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.allowed") == 1)
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.istio_dry_run_deny_shadow_denied") == 1)
        _ = try? channel.finish()
    }

    @Test func deniedConnectionsAreClosedOnFirstBytes() throws {
        let stats = StatsStore()
        let channel = try Self.channel([try Self.factory(Self.policy)], stats: stats, peer: "192.168.7.7")
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(string: "SELECT 1"))
        channel.embeddedEventLoop.run()
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(!channel.isActive)
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.denied") == 1)
        // Another port of the same policy: the permission does not match either.
        let other = try Self.channel([try Self.factory(Self.policy)], stats: stats, peer: "10.1.2.3", localPort: 3307)
        try other.writeInbound(ByteBuffer(string: "x"))
        #expect(!other.isActive)
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.denied") == 2)
    }

    @Test func continuousEnforcementChecksEveryRead() throws {
        let stats = StatsStore()
        let factory = try Self.factory(#"{"stat_prefix": "tcp", "enforcement_type": "CONTINUOUS", "rules": {"action": "DENY", "policies": {}}}"#)
        let channel = try Self.channel([factory], stats: stats, peer: "10.1.2.3")
        try channel.writeInbound(ByteBuffer(string: "a"))
        try channel.writeInbound(ByteBuffer(string: "b"))
        #expect(FilterTestSupport.counter(stats, "tcp.rbac.allowed") == 2)
        _ = try? channel.finish()
    }

    /// Holds the first read until told to continue, and upper-cases written bytes.
    final class HoldingFilter: NetworkFilter {
        var context: NetworkFilterContext?
        func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
            guard self.context == nil else { return .continue }
            self.context = context
            return .stopIteration
        }
        func onWrite(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
            let text = String(buffer: data).uppercased()
            data = ByteBuffer(string: text)
            return .continue
        }
    }

    final class HoldingFactory: NetworkFilterFactory, @unchecked Sendable {
        static let typeURL = "type.googleapis.com/google.protobuf.Empty"
        let filter = HoldingFilter()
        init() {}
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any NetworkFilter { filter }
    }

    @Test func stoppedReadsAreHeldAndResumed() throws {
        let holding = HoldingFactory()
        let channel = try Self.channel([holding], stats: StatsStore(), peer: "10.1.2.3")
        try channel.writeInbound(ByteBuffer(string: "first"))
        try channel.writeInbound(ByteBuffer(string: "+second"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        holding.filter.context?.continueReading()
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "first+second")
        try channel.writeInbound(ByteBuffer(string: "third"))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "third")
        try channel.writeOutbound(ByteBuffer(string: "out"))
        #expect(try channel.readOutbound(as: IOData.self).map { data -> String in
            guard case .byteBuffer(let buffer) = data else { return "" }
            return String(buffer: buffer)
        } == "OUT")
        _ = try? channel.finish()
    }

    @Test func listenersValidateNetworkFiltersAndNACKUnknownOnes() throws {
        EnvoyAnyTypes.register()
        func listener(_ filter: Envoy_Config_Listener_V3_Filter) throws -> Envoy_Config_Listener_V3_Listener {
            var listener = Envoy_Config_Listener_V3_Listener()
            listener.name = "tcp"
            listener.address.socketAddress.address = "127.0.0.1"
            listener.address.socketAddress.portValue = 3306
            var chain = Envoy_Config_Listener_V3_FilterChain()
            var proxy = Envoy_Config_Listener_V3_Filter()
            proxy.name = "envoy.filters.network.tcp_proxy"
            proxy.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.with { $0.statPrefix = "tcp"; $0.cluster = "db" })
            chain.filters = [filter, proxy]
            listener.filterChains = [chain]
            return listener
        }
        var rbac = Envoy_Config_Listener_V3_Filter()
        rbac.name = "envoy.filters.network.rbac"
        rbac.typedConfig = try Google_Protobuf_Any(message: NetworkRBAC(jsonString: Self.policy))
        let accepted = try ListenerConfiguration(listener(rbac))
        #expect(accepted.filterChains[0].networkFilters.map(\.name) == ["envoy.filters.network.rbac"])

        var invalid = rbac
        invalid.typedConfig = try Google_Protobuf_Any(message: NetworkRBAC(jsonString: #"{"rules": {"policies": {}}}"#))
        #expect { _ = try ListenerConfiguration(listener(invalid)) } throws: { error in
            "\(error)".contains("filter_chains[0].filters[0].typed_config") && "\(error)".contains("stat_prefix")
        }
        var unknown = Envoy_Config_Listener_V3_Filter()
        unknown.name = "envoy.filters.network.mongo_proxy"
        unknown.typedConfig = Google_Protobuf_Any()
        unknown.typedConfig.typeURL = "type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy"
        #expect { _ = try ListenerConfiguration(listener(unknown)) } throws: { error in
            guard let error = error as? ProxyConfigurationError else { return false }
            return error.code == .unsupported && error.field == "filter_chains[0].filters[0].typed_config" && error.message.contains("mongo_proxy")
        }
    }
}
