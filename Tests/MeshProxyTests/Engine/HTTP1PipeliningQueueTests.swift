@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Pipelined HTTP/1.1 requests (``HTTP1PipeliningQueue``): one exchange at a time, in order,
/// without withholding reads from a client that waits for each response.
@Suite struct HTTP1PipeliningQueueTests {
    static func head(_ uri: String) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri))
    }

    static func describe(_ part: HTTPServerRequestPart?) -> String? {
        switch part {
        case .head(let head)?: "head \(head.uri)"
        case .body(let body)?: "body \(String(buffer: body))"
        case .end?: "end"
        case nil: nil
        }
    }

    /// Every part that is served now, in order, then the held ones `nextHeld()` releases.
    static func served(_ queue: inout HTTP1PipeliningQueue, _ parts: [HTTPServerRequestPart]) -> [String] {
        parts.compactMap { describe(queue.arrived($0)) }
    }

    static func drain(_ queue: inout HTTP1PipeliningQueue) -> [String] {
        var released: [String] = []
        while let part = queue.nextHeld() { released.append(describe(part)!) }
        return released
    }

    @Test func requestsOneAfterAnotherAreNeverHeld() {
        var queue = HTTP1PipeliningQueue()
        let first = Self.served(&queue, [Self.head("/one"), .end(nil)])
        #expect(first == ["head /one", "end"])
        let waiting = queue.responseEndWritten()
        #expect(!waiting, "nothing waits")
        let second = Self.served(&queue, [Self.head("/two"), .end(nil)])
        #expect(second == ["head /two", "end"])
        #expect(!queue.isHolding)
    }

    @Test func aPipelinedRequestWaitsForThePreviousResponse() {
        var queue = HTTP1PipeliningQueue()
        let served = Self.served(&queue, [Self.head("/one"), .end(nil), Self.head("/two"), .body(ByteBuffer(string: "b")), .end(nil), Self.head("/three"), .end(nil)])
        #expect(served == ["head /one", "end"])
        #expect(queue.isHolding)
        let early = Self.drain(&queue)
        #expect(early.isEmpty, "nothing is released while the first exchange is open")

        let ready = queue.responseEndWritten()
        #expect(ready)
        let next = Self.drain(&queue)
        #expect(next == ["head /two", "body b", "end"], "the next exchange only")
        #expect(queue.isHolding)
        let readyAgain = queue.responseEndWritten()
        #expect(readyAgain)
        let last = Self.drain(&queue)
        #expect(last == ["head /three", "end"])
        #expect(!queue.isHolding)
    }

    @Test func aResponseThatEndsBeforeItsRequestClosesTheExchange() {
        var queue = HTTP1PipeliningQueue()
        let upload = Self.served(&queue, [.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload"))])
        #expect(upload.count == 1)
        // e.g. a 413 local reply while the body is still arriving
        let waiting = queue.responseEndWritten()
        #expect(!waiting)
        let rest = Self.served(&queue, [.body(ByteBuffer(string: "x")), .end(nil), Self.head("/next"), .end(nil)])
        #expect(rest == ["body x", "end", "head /next", "end"])
    }

    // MARK: Through the connection manager

    /// Counts the `read()` calls that reach the channel (it sits next to the head).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test func theConnectionManagerAnswersPipelinedRequestsInOrderAndHoldsReadsMeanwhile() throws {
        let (runtime, stats) = try StreamTimeoutTests.manager()
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try ResponseBytesDecoder.install(DownstreamHTTP1Handler(manager: runtime, isTLS: false), on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()

        try StreamTimeoutTests.send(channel, "/held")
        channel.read()
        #expect(counter.reads == 1, "no pipelined request is held, so the read reaches the socket")
        try StreamTimeoutTests.send(channel, "/direct")
        #expect(stats.value("http.test.downstream_rq_total") == 1, "the second request waits behind the first")
        channel.read()
        #expect(counter.reads == 1, "reading stops while a request is held")

        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        let first = try #require(try StreamTimeoutTests.response(channel))
        #expect(first.head.status == .serviceUnavailable, "the fault delay ends and the cluster is missing")
        let second = try #require(try StreamTimeoutTests.response(channel))
        #expect(second.head.status == .accepted && second.body == "direct answer")
        #expect(counter.reads == 2, "the withheld read goes out once nothing is held")
        _ = try? channel.finish()
    }

    /// Passes writes on but never completes their promises, as a socket whose client reads slowly.
    final class SlowClient: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var held: [EventLoopPromise<Void>] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if let promise { held.append(promise) }
            context.write(data, promise: nil)
        }
    }

    @Test func nothingPipelinedBehindAConnectionCloseIsServed() throws {
        let (runtime, stats) = try StreamTimeoutTests.manager()
        let channel = EmbeddedChannel()
        let slow = SlowClient()
        try channel.pipeline.syncOperations.addHandlers([ResponseBytesDecoder(), slow, DownstreamHTTP1Handler(manager: runtime, isTLS: false)])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.9", port: 80)).wait()
        try StreamTimeoutTests.send(channel, "/held", headers: [("connection", "close")])
        try StreamTimeoutTests.send(channel, "/direct")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        let first = try #require(try StreamTimeoutTests.response(channel))
        #expect(first.head.headers["connection"] == ["close"])
        channel.embeddedEventLoop.run()
        #expect(try StreamTimeoutTests.response(channel) == nil)
        #expect(stats.value("http.test.downstream_rq_total") == 1, "the held request is not served while the close waits for the flush")
        for promise in slow.held { promise.succeed() }
        #expect(!channel.isActive, "the connection closes once the response is out")
    }
}
