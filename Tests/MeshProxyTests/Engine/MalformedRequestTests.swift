@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// A request the HTTP/1.1 codec cannot parse is answered 400 with `connection: close`, and the
/// connection closes (what NIO's error handler did before the connection manager took it over).
@Suite struct MalformedRequestTests {
    static func exchange(_ request: String) throws -> (response: String, open: Bool) {
        let (runtime, _) = try FilterTestSupport.manager([])
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 40000)).wait()
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        channel.embeddedEventLoop.run()
        var response = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { response += String(buffer: part) }
        return (response, channel.isActive)
    }

    @Test(arguments: ["NOT A REQUEST\r\n\r\n", "GET / HTTP/1.1\r\nhost: a\r\nbad header\r\n\r\n", "GET / HTTP/1.1\r\ncontent-length: x\r\n\r\n"])
    func anUnparsableRequestGets400AndTheConnectionCloses(_ request: String) throws {
        let (response, open) = try Self.exchange(request)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(response.lowercased().contains("connection: close\r\n") && response.lowercased().contains("content-length: 0\r\n"))
        #expect(!open)
    }

    @Test func aParsableRequestIsServed() throws {
        let (response, open) = try Self.exchange("GET / HTTP/1.1\r\nhost: app.local\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        #expect(open)
    }
}
