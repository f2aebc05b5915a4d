@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// ``HTTP1PipeliningGate``: one exchange at a time, in order, without withholding reads from a
/// client that waits for each response.
@Suite struct HTTP1PipeliningGateTests {
    /// Counts the `read()` calls that reach the channel (it sits next to the head).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// Records the request parts the connection manager would see, as short strings.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var seen: [String] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): seen.append("head \(head.uri)")
            case .body(let body): seen.append("body \(String(buffer: body))")
            case .end: seen.append("end")
            }
        }
    }

    static func setUp() throws -> (EmbeddedChannel, ReadCounter, Recorder) {
        let counter = ReadCounter(), recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, HTTP1PipeliningGate(), recorder])
        return (channel, counter, recorder)
    }

    static func request(_ channel: EmbeddedChannel, _ uri: String, body: String? = nil) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: body == nil ? .GET : .POST, uri: uri)))
        if let body { try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: body))) }
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
    }

    static func respond(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        channel.embeddedEventLoop.run()
    }

    @Test func readsContinueWhileAResponseIsPending() throws {
        let (channel, counter, recorder) = try Self.setUp()
        try Self.request(channel, "/one")
        channel.read()
        #expect(counter.reads == 1, "no pipelined request is held, so the read reaches the socket")
        try Self.respond(channel)
        try Self.request(channel, "/two")
        #expect(recorder.seen == ["head /one", "end", "head /two", "end"])
    }

    @Test func aPipelinedRequestWaitsForThePreviousResponseAndHoldsReads() throws {
        let (channel, counter, recorder) = try Self.setUp()
        try Self.request(channel, "/one")
        try Self.request(channel, "/two", body: "b")
        try Self.request(channel, "/three")
        #expect(recorder.seen == ["head /one", "end"])
        channel.read()
        #expect(counter.reads == 0, "reading stops while requests are held")

        try Self.respond(channel)
        #expect(recorder.seen == ["head /one", "end", "head /two", "body b", "end"], "the next exchange only")
        #expect(counter.reads == 0)
        try Self.respond(channel)
        #expect(recorder.seen.suffix(2) == ["head /three", "end"])
        #expect(counter.reads == 1, "the withheld read goes out once nothing is held")
    }

    @Test func aResponseThatEndsBeforeItsRequestClosesTheExchange() throws {
        let (channel, _, recorder) = try Self.setUp()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload")))
        try Self.respond(channel)  // e.g. a 413 local reply while the body is still arriving
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "x")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try Self.request(channel, "/next")
        #expect(recorder.seen == ["head /upload", "body x", "end", "head /next", "end"])
    }

    @Test func removalDeliversWhatIsHeldAndTheOwedRead() throws {
        let (channel, counter, recorder) = try Self.setUp()
        try Self.request(channel, "/one")
        try Self.request(channel, "/two")
        channel.read()
        let gate = try channel.pipeline.syncOperations.handler(type: HTTP1PipeliningGate.self)
        try channel.pipeline.syncOperations.removeHandler(gate).wait()
        #expect(recorder.seen == ["head /one", "end", "head /two", "end"])
        #expect(counter.reads == 1)
    }
}
