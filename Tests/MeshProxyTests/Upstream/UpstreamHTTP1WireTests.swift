@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Requests to an HTTP/1.1 upstream go out as bytes the proxy serializes (``UpstreamChannel``,
/// ``HTTP1MessageSerializer``), framed as NIO's request encoder framed them, and the response
/// decoder learns each request's method from the connection rather than from a write it observes.
@Suite struct UpstreamHTTP1WireTests {
    final class Recorder: UpstreamResponseReceiver {
        var events: [String] = []
        func upstreamResponseHead(_ head: HTTPResponseHead) { events.append("head \(head.status.code)") }
        func upstreamResponseBody(_ body: ByteBuffer) { events.append("body \(String(buffer: body))") }
        func upstreamReadComplete() {}
        /// Called at the response's end, as the pool hands the connection to a waiting request.
        var onEnd: () -> Void = {}
        func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
            events.append("end")
            onEnd()
        }
        func upstreamReset(_ error: any Error) { events.append("reset \(error)") }
        var upstreamMayRead: Bool { true }
    }

    /// An upstream connection over an `EmbeddedChannel`, with the pool's pipeline.
    static func connection() throws -> (UpstreamChannel, EmbeddedChannel) {
        let channel = EmbeddedChannel()
        let decoder = UpstreamResponseDecoder(leftOverBytesStrategy: .forwardBytes)
        let handler = UpstreamChannelHandler()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        let connection = UpstreamChannel(channel: channel, host: UpstreamEndpointKey(host: "127.0.0.1", port: 8080), responseDecoder: decoder)
        handler.attach(connection)
        return (connection, channel)
    }

    static func written(_ channel: EmbeddedChannel) throws -> [String] {
        var writes: [String] = []
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) { writes.append(String(buffer: bytes)) }
        return writes
    }

    static func request(_ method: HTTPMethod, _ uri: String, _ headers: HTTPHeaders = ["host": "app"]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
    }

    @Test func aHeadAnswerHasNoBodyAndTheConnectionCarriesOn() throws {
        let (connection, channel) = try Self.connection()
        let recorder = Recorder()
        connection.send(Self.request(.HEAD, "/x"), receiver: recorder)
        connection.sendEnd()
        #expect(try Self.written(channel) == ["HEAD /x HTTP/1.1\r\nhost: app\r\n\r\n"], "the head and end in one write")
        // Announces the length a GET would have had: without the method, the decoder would wait for 5 bytes.
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"))
        #expect(recorder.events == ["head 200", "end"])

        let next = Recorder()
        connection.send(Self.request(.GET, "/y"), receiver: next)
        connection.sendEnd()
        #expect(try Self.written(channel) == ["GET /y HTTP/1.1\r\nhost: app\r\n\r\n"])
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"))
        #expect(next.events == ["head 200", "body hello", "end"])
        #expect(connection.isReusable)
    }

    /// A request sent while a read is still being decoded (the first response's end released the
    /// connection to it) does not claim a second response that came in the same read: that
    /// response is one nobody asked for, as with NIO's decoder handler.
    @Test func aRequestSentDuringADecodeDoesNotClaimAResponseFromTheSameRead() throws {
        let (connection, channel) = try Self.connection()
        let first = Recorder(), second = Recorder()
        first.onEnd = {
            connection.send(Self.request(.GET, "/b"), receiver: second)
            connection.sendEnd()
        }
        connection.send(Self.request(.GET, "/a"), receiver: first)
        connection.sendEnd()
        let response = "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: response + "a" + response + "b"))
        #expect(first.events == ["head 200", "body a", "end"])
        #expect(second.events.count == 1 && second.events[0].hasPrefix("reset"), "\(second.events)")
        #expect(!connection.isReusable)
    }

    @Test func aStreamedBodyWithoutALengthIsChunked() throws {
        let (connection, channel) = try Self.connection()
        connection.send(Self.request(.POST, "/upload"), receiver: Recorder())
        connection.sendBody(ByteBuffer(string: "abc"))
        connection.flush()
        #expect(try Self.written(channel) == ["POST /upload HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n"])
        let large = String(repeating: "z", count: HTTP1MessageSerializer.copyLimit + 1)
        connection.sendBody(ByteBuffer(string: large))
        connection.sendEnd(["x-checksum": "1"])
        let hex = String(large.utf8.count, radix: 16)
        #expect(try Self.written(channel) == ["\(hex)\r\n", large, "\r\n0\r\nx-checksum: 1\r\n\r\n"], "a large chunk is written as it is")
    }

    /// Our request bytes against NIO's request encoder with its automatic framing, as the proxy
    /// used it. Header lines are sorted: framing may add `transfer-encoding` at another position.
    @Test(arguments: [HTTPMethod.GET, .POST, .PUT, .PATCH, .DELETE, .TRACE, .OPTIONS])
    func framesEveryRequestAsNIOsEncoderDid(_ method: HTTPMethod) throws {
        let headerSets: [[(String, String)]] = [
            [], [("content-length", "5")], [("transfer-encoding", "chunked")], [("Transfer-Encoding", "Chunked")],
            [("content-length", "5"), ("transfer-encoding", "chunked")], [("transfer-encoding", "gzip")],
        ]
        for version in [HTTPVersion.http1_1, .http1_0] {
            for headers in headerSets {
                let head = HTTPRequestHead(version: version, method: method, uri: "/p?q=1", headers: HTTPHeaders([("host", "app")] + headers))
                let body = method == .TRACE ? nil : "hello"

                let nio = EmbeddedChannel(handler: HTTPRequestEncoder())
                try nio.writeOutbound(HTTPClientRequestPart.head(head))
                if let body { try nio.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body)))) }
                try nio.writeOutbound(HTTPClientRequestPart.end(nil))
                let theirs = try Self.written(nio).joined()

                let (connection, channel) = try Self.connection()
                connection.send(head, receiver: Recorder())
                if let body { connection.sendBody(ByteBuffer(string: body)) }
                connection.sendEnd()
                let ours = try Self.written(channel).joined()
                #expect(HTTP1ResponseFramingTests.sortedLines(ours) == HTTP1ResponseFramingTests.sortedLines(theirs), "\(method) \(version) \(headers)")
            }
        }
    }
}
