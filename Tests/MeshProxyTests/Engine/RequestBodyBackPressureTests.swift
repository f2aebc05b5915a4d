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

    /// A proxy on one event loop (so every downstream connection shares one upstream pool) in
    /// front of an upstream that accepts but reads nothing until told to.
    struct Setup {
        let group: MultiThreadedEventLoopGroup
        let counter = ByteCounter()
        let accepted = NIOLockedValueBox<[any Channel]>([])
        let upstream: any Channel
        let proxy: any Channel
        var proxyPort: Int { proxy.localAddress?.port ?? 0 }

        init(circuitBreakers: String = "") async throws {
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let counter = counter, accepted = accepted
            upstream = try await ServerBootstrap(group: group)
                .childChannelOption(ChannelOptions.autoRead, value: false)
                .childChannelInitializer { channel in
                    accepted.withLockedValue { $0.append(channel) }
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
                {"name": "slow", "type": "STATIC", "connect_timeout": "1s", \(circuitBreakers)
                 "load_assignment": {"cluster_name": "slow", "endpoints": [{"lb_endpoints": [
                  {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \(upstreamPort)}}}}]}]}}
                """)), endpoints: nil)
            let state = ProxyStateStore()
            state.update { $0.clusters["slow"] = cluster }
            let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: state, stats: StatsStore(), bufferLimit: 1 << 20, logger: Logger(label: "test"))
            proxy = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        /// Sends chunks until a send makes no progress for the client's timeout; returns the bytes sent.
        func sendUntilStalled(_ client: TCPTestConnection, upTo limit: Int) -> Int {
            var sent = 0
            while sent < limit, (try? client.write(RequestBodyBackPressureTests.chunk)) != nil { sent += RequestBodyBackPressureTests.chunk.count }
            return sent
        }

        /// Lets the upstream read, sends the rest of the body and waits until the upstream has
        /// read at least `expected` bytes.
        func resume(_ client: TCPTestConnection, sent alreadySent: Int, expected: Int) async throws {
            // With room for a loaded machine: only the stalls need a short timeout.
            client.setTimeout(.seconds(30))
            for child in accepted.withLockedValue({ $0 }) {
                try await child.setOption(ChannelOptions.autoRead, value: true).get()
                child.read()
            }
            var sent = alreadySent
            while sent < RequestBodyBackPressureTests.bodySize {
                try client.write(RequestBodyBackPressureTests.chunk)
                sent += RequestBodyBackPressureTests.chunk.count
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while counter.total.withLockedValue({ $0 }) < expected, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(counter.total.withLockedValue { $0 } >= expected, "the upload did not resume")
        }

        func shutdown() async throws {
            try await proxy.close()
            try await upstream.close()
            for child in accepted.withLockedValue({ $0 }) { try? await child.close() }
            try await group.shutdownGracefully()
        }
    }

    static let chunk = [UInt8](repeating: 0x61, count: 256 << 10)
    static let uploadHead = "POST /upload HTTP/1.1\r\nhost: app.local\r\ncontent-length: \(bodySize)\r\n\r\n"

    @Test func anUploadToAStalledUpstreamIsHeldBackAndResumes() async throws {
        let setup = try await Setup()
        // Every send gives up after 2 seconds without progress.
        let client = try TCPTestConnection(host: "127.0.0.1", port: setup.proxyPort, timeout: .seconds(2))
        try client.write(Self.uploadHead)
        let sent = setup.sendUntilStalled(client, upTo: Self.bodySize)
        // Without back-pressure the proxy would read all 128 MiB into memory. With it, only the
        // sockets' buffers on the way (a few MiB each) hold the stalled part.
        print("upload to a stalled upstream: \(sent >> 20) MiB of \(Self.bodySize >> 20) MiB accepted before the client's sends stalled")
        #expect(sent < 48 << 20, "the proxy kept reading the body while the upstream took nothing")
        try await setup.resume(client, sent: sent, expected: Self.bodySize)
        try await setup.shutdown()
    }

    /// An upload that has to wait for a connection (the cluster's one connection is busy) is held
    /// back past the buffer limit; the part it sent meanwhile is too large to keep for retries and
    /// goes out on the connection it finally gets, and the rest follows.
    @Test func anUploadWaitingForAConnectionIsHeldBackAndResumes() async throws {
        let setup = try await Setup(circuitBreakers: """
            "circuit_breakers": {"thresholds": [{"max_connections": 1}]},
            """)
        // The first request takes the cluster's only connection and gets no answer yet.
        let first = try TCPTestConnection(host: "127.0.0.1", port: setup.proxyPort, timeout: .seconds(10))
        try first.write("GET /first HTTP/1.1\r\nhost: app.local\r\n\r\n")
        let deadline = ContinuousClock.now + .seconds(10)
        while setup.accepted.withLockedValue({ $0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let connection = try #require(setup.accepted.withLockedValue { $0.first })

        let client = try TCPTestConnection(host: "127.0.0.1", port: setup.proxyPort, timeout: .seconds(2))
        try client.write(Self.uploadHead)
        let waiting = setup.sendUntilStalled(client, upTo: Self.bodySize)
        print("upload waiting for a connection: \(waiting >> 20) MiB accepted before the client's sends stalled")
        #expect(waiting < 48 << 20, "the proxy kept reading the body while it had no connection")

        // The first response ends: the upload gets the connection, whose reading is still off.
        try await connection.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")).get()
        let status = try first.readLine()
        #expect(status == "HTTP/1.1 200 OK")
        let sent = waiting + setup.sendUntilStalled(client, upTo: Self.bodySize - waiting)
        #expect(setup.accepted.withLockedValue { $0.count } == 1, "the upload should reuse the one connection")

        try await setup.resume(client, sent: sent, expected: Self.bodySize)
        try await setup.shutdown()
    }
}
