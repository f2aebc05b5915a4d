import Logging
import MeshTestSupport
import MeshXDS
@testable import MeshProxy
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftProtobuf
import Testing

/// Request bodies follow the upstream's pace (Envoy's buffer watermarks): while the upstream
/// connection cannot take more, the proxy stops reading the downstream, so an upload to a stalled
/// upstream is held back by TCP instead of piling up in the proxy, and it resumes once the
/// upstream reads again. Over real sockets on loopback.
@Suite struct RequestBodyBackPressureTests {
    /// Counts the bytes an upstream connection reads (nothing until reading is switched on).
    final class ByteCounter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let total = NIOLockedValueBox(0)
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let count = unwrapInboundIn(data).readableBytes
            total.withLockedValue { $0 += count }
        }
    }

    static let bodySize = 128 << 20

    @Test func anUploadToAStalledUpstreamIsHeldBackAndResumes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // The upstream accepts but does not read until told to.
        let counter = ByteCounter()
        let accepted = NIOLockedValueBox<(any Channel)?>(nil)
        let upstream = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 = channel }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstreamPort = try #require(upstream.localAddress?.port)

        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [
              {"match": {"prefix": "/"}, "route": {"cluster": "slow", "timeout": "0s"}}]}]}
            """)
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
        hcm.httpFilters = [router]
        let configuration = try HTTPConnectionManagerConfiguration(
            hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: .standard)
        let cluster = ClusterRuntime(configuration: try ClusterConfiguration(Fixtures.cluster("""
            {"name": "slow", "type": "STATIC", "connect_timeout": "1s", "load_assignment": {"cluster_name": "slow", "endpoints": [{"lb_endpoints": [
              {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \(upstreamPort)}}}}]}]}}
            """)), endpoints: nil)
        let state = ProxyStateStore()
        state.update { $0.clusters["slow"] = cluster }
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: state, stats: StatsStore(), bufferLimit: 1 << 20, logger: Logger(label: "test"))
        let proxy = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxyPort = try #require(proxy.localAddress?.port)

        // Every send gives up after 2 seconds without progress.
        let client = try TCPTestConnection(host: "127.0.0.1", port: proxyPort, timeout: .seconds(2))
        try client.write("POST /upload HTTP/1.1\r\nhost: app.local\r\ncontent-length: \(Self.bodySize)\r\n\r\n")
        let chunk = [UInt8](repeating: 0x61, count: 256 << 10)
        var sent = 0
        while sent < Self.bodySize, (try? client.write(chunk)) != nil { sent += chunk.count }
        // Without back-pressure the proxy would read all 128 MiB into memory. With it, only the
        // sockets' buffers on the way (a few MiB each) hold the stalled part.
        print("upload to a stalled upstream: \(sent >> 20) MiB of \(Self.bodySize >> 20) MiB accepted before the client's sends stalled")
        #expect(sent < 48 << 20, "the proxy kept reading the body while the upstream took nothing")

        // The upstream reads again: the rest of the upload goes through (with room for a loaded
        // machine: only the stall above needs a short timeout).
        client.setTimeout(.seconds(30))
        let child = try #require(accepted.withLockedValue { $0 })
        try await child.setOption(ChannelOptions.autoRead, value: true).get()
        child.read()
        while sent < Self.bodySize {
            try client.write(chunk)
            sent += chunk.count
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while counter.total.withLockedValue({ $0 }) < Self.bodySize, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(counter.total.withLockedValue { $0 } >= Self.bodySize, "the upload did not resume")

        try await proxy.close()
        try await upstream.close()
        try? await child.close()
        try await group.shutdownGracefully()
    }
}
