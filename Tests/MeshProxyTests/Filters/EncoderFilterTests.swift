import Dispatch
import Logging
import MeshTestSupport
import MeshXDS
@testable import MeshProxy
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf
import Testing

/// The response side of the filter API, over real sockets: an upstream that answers in chunks
/// with trailers, the connection manager with a filter under test before the router, and a raw
/// HTTP/1.1 client. Filters hold the response head, buffer the whole body and rewrite it, resume
/// later from another thread, rewrite trailers, and replace the response with a local reply.
@Suite struct EncoderFilterTests {
    /// What the filter under test does with the response.
    enum Behaviour: Sendable {
        /// Holds the head, buffers the body, upper-cases it, fixes the head and adds a trailer.
        case rewriteBody
        /// Holds the head and continues 50 ms later from another thread, adding a header.
        case holdThenContinue
        /// Replaces a 200 with a 403 local reply.
        case replaceWithLocalReply
        /// Buffers the whole body (and so overflows a small limit).
        case bufferOnly
        /// Counts the body bytes and ends it sees (placed after a holding filter in encode order).
        case count
    }

    final class ResponseFilter: HTTPFilter {
        let behaviour: Behaviour
        let endsSeen: NIOLockedValueBox<Int>
        let bytesSeen: NIOLockedValueBox<Int>
        init(_ behaviour: Behaviour, endsSeen: NIOLockedValueBox<Int>, bytesSeen: NIOLockedValueBox<Int>) {
            self.behaviour = behaviour
            self.endsSeen = endsSeen
            self.bytesSeen = bytesSeen
        }

        func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            switch behaviour {
            case .rewriteBody, .bufferOnly:
                return .stopAndBuffer
            case .holdThenContinue:
                let resumer = context.resumer
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                // Another thread (not the cooperative pool, which the test's blocking client may hold).
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
                    // On the stream's loop, before the resumer's continuation (which it queues after).
                    bound.eventLoop.execute { bound.value.updateResponseHead { $0.headers.add(name: "x-held", value: "50ms") } }
                    resumer.continueEncoding()
                }
                return .stopIteration
            case .count:
                return .continue
            case .replaceWithLocalReply:
                guard head.status == .ok else { return .continue }
                context.sendLocalReply(HTTPLocalReply(status: .forbidden, body: "replaced", details: "replaced_by_filter"))
                return .stopIteration
            }
        }

        func encodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            if endOfStream { endsSeen.withLockedValue { $0 += 1 } }
            if behaviour == .count { bytesSeen.withLockedValue { $0 += data.readableBytes } }
            guard behaviour == .rewriteBody else { return .continue }
            let text = String(buffer: data).uppercased()
            data = ByteBuffer(string: text)
            context.updateResponseHead {
                $0.headers.remove(name: "content-length")
                $0.headers.add(name: "x-rewritten-length", value: String(text.utf8.count))
            }
            return .continue
        }

        func encodeTrailers(_ trailers: inout HTTPHeaders, context: HTTPFilterContext) -> HTTPFilterStatus {
            if behaviour == .rewriteBody { trailers.add(name: "x-filter", value: "saw-trailers") }
            endsSeen.withLockedValue { $0 += 1 }
            return .continue
        }
    }

    struct ResponseFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.StringValue"
        static let current = NIOLockedValueBox<(Behaviour, NIOLockedValueBox<Int>)?>(nil)
        let behaviour: Behaviour
        let endsSeen: NIOLockedValueBox<Int>
        let bytesSeen = NIOLockedValueBox(0)
        init(config: Google_Protobuf_Any) throws {
            let value = try Google_Protobuf_StringValue(unpackingAny: config).value
            behaviour = switch value {
            case "rewrite": .rewriteBody
            case "hold": .holdThenContinue
            case "replace": .replaceWithLocalReply
            case "count": .count
            default: .bufferOnly
            }
            endsSeen = NIOLockedValueBox(0)
        }
        func makeFilter() -> any HTTPFilter { ResponseFilter(behaviour, endsSeen: endsSeen, bytesSeen: bytesSeen) }
    }

    /// Answers `/chunks` with `hello ` and `world` in two flushed chunks and a trailer, and
    /// `/big` with 4 KiB.
    final class ChunkedUpstream: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let request) = unwrapInboundIn(data) else { return }
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            if request.uri == "/big" {
                head.headers.add(name: "content-length", value: "4096")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x62, count: 4096)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            head.headers.add(name: "transfer-encoding", value: "chunked")
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "hello ")))), promise: nil)
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(20)) {
                let context = loopBound.value
                context.writeAndFlush(handler.value.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "world")))), promise: nil)
                context.writeAndFlush(handler.value.wrapOutboundOut(.end(["x-checksum": "abc"])), promise: nil)
            }
        }
    }

    /// Runs one request through a connection manager with the filter configured by `mode`.
    static func exchange(mode: String, path: String, bufferLimit: Int = 1 << 20, laterModes: [String] = []) async throws -> (HTTP1TestResponse, StatsStore, Int) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let result = try await exchange(mode: mode, path: path, bufferLimit: bufferLimit, laterModes: laterModes, group: group)
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// - Parameter laterModes: Filters after the one under test in the chain, so before it in
    ///   encode order; the counts returned are the last one's.
    static func exchange(mode: String, path: String, bufferLimit: Int, laterModes: [String], group: MultiThreadedEventLoopGroup) async throws -> (HTTP1TestResponse, StatsStore, Int) {
        let upstream = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ChunkedUpstream())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { upstream.close(promise: nil) }
        let upstreamPort = try #require(upstream.localAddress?.port)

        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [
              {"match": {"path": "/nobody"}, "direct_response": {"status": 204}},
              {"match": {"prefix": "/"}, "route": {"cluster": "chunks"}}]}]}
            """)
        func filter(_ mode: String) throws -> FilterTestSupport.HTTPFilterProto {
            var config = Google_Protobuf_StringValue()
            config.value = mode
            return try FilterTestSupport.filter("response-filter-\(mode)", config)
        }
        hcm.httpFilters = try ([mode] + laterModes).map(filter)
            + [try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        var registry = HTTPFilterRegistry.standard
        registry.register(ResponseFilterFactory.self)
        let configuration = try HTTPConnectionManagerConfiguration(
            hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: registry)
        let factory = try #require(configuration.filters[laterModes.count].factory as? ResponseFilterFactory)
        let cluster = ClusterRuntime(configuration: try ClusterConfiguration(Fixtures.cluster("""
            {"name": "chunks", "type": "STATIC", "connect_timeout": "1s", "load_assignment": {"cluster_name": "chunks", "endpoints": [{"lb_endpoints": [
              {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \(upstreamPort)}}}}]}]}}
            """)), endpoints: nil)
        let state = ProxyStateStore()
        state.update { $0.clusters["chunks"] = cluster }
        let stats = StatsStore()
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: state, stats: stats, bufferLimit: bufferLimit, logger: Logger(label: "test"))
        let proxy = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { proxy.close(promise: nil) }
        let proxyPort = try #require(proxy.localAddress?.port)
        let client = try TCPTestConnection(host: "127.0.0.1", port: proxyPort, timeout: .seconds(5))
        try client.sendHTTP1Request(path: path, host: "app.local")
        let response = try client.readHTTP1Response()
        return (response, stats, factory.endsSeen.withLockedValue { $0 })
    }

    @Test func aFilterBuffersTheWholeBodyRewritesItAndItsHeadAndSeesTheTrailers() async throws {
        let (response, _, ends) = try await Self.exchange(mode: "rewrite", path: "/chunks")
        #expect(response.status == 200)
        #expect(response.text == "HELLO WORLD")
        #expect(response.header("x-rewritten-length") == "11")
        #expect(response.header("content-length") == nil)
        // encodeData with end of stream is not called when trailers follow; encodeTrailers is.
        #expect(ends == 1)
    }

    @Test func aFilterHoldsTheHeadAndContinuesLaterWithTheBodyIntact() async throws {
        let (response, _, ends) = try await Self.exchange(mode: "hold", path: "/chunks")
        #expect(response.status == 200)
        #expect(response.header("x-held") == "50ms")
        #expect(response.text == "hello world")
        #expect(ends == 1)
    }

    @Test func aFilterReplacesTheUpstreamResponseWithALocalReply() async throws {
        let (response, stats, _) = try await Self.exchange(mode: "replace", path: "/chunks")
        #expect(response.status == 403)
        #expect(response.text == "replaced")
        #expect(stats.value("http.test.downstream_rq_4xx") == 1)
    }

    /// While one filter holds the response, the filters before it in encode order still see every
    /// part as it arrives, and the end.
    @Test func filtersBeforeAHolderSeeTheWholeBodyAndTheEnd() async throws {
        let (response, _, ends) = try await Self.exchange(mode: "hold", path: "/big", laterModes: ["count"])
        #expect(response.status == 200 && response.body.count == 4096 && response.header("x-held") == "50ms")
        #expect(ends == 1)
    }

    /// A buffering filter on a response without a body sees the (empty) whole body at once instead
    /// of waiting for a body that never comes.
    @Test func bufferingAResponseWithoutABodyDoesNotHang() async throws {
        let (response, _, ends) = try await Self.exchange(mode: "buffer", path: "/nobody")
        #expect(response.status == 204)
        #expect(ends == 1)
    }

    @Test func aBufferedResponseBeyondTheBufferLimitBecomes500() async throws {
        let (response, stats, _) = try await Self.exchange(mode: "buffer", path: "/big", bufferLimit: 1024)
        #expect(response.status == 500)
        #expect(stats.value("http.test.rs_too_large") == 1)
        let (fits, _, ends) = try await Self.exchange(mode: "buffer", path: "/big")
        #expect(fits.status == 200 && fits.body.count == 4096)
        // The end of a response without trailers reaches the filters as data with end of stream.
        #expect(ends == 1)
    }
}
