import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// The connection manager frames and serializes its HTTP/1.1 responses itself, with the rules
/// of NIO's encoder, and writes the same bytes it would.
@Suite struct HTTP1ResponseFramingTests {
    static func framed(_ status: HTTPResponseStatus, _ headers: [(String, String)], version: HTTPVersion = .http1_1,
                       method: HTTPMethod? = .GET) -> HTTPHeaders {
        var head = HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(headers))
        HTTP1ResponseFraming.frame(&head, requestMethod: method)
        return head.headers
    }

    @Test func aContentLengthIsKeptAndTransferEncodingDropped() {
        let kept = Self.framed(.ok, [("content-length", "5"), ("x-a", "1")])
        #expect(kept == HTTPHeaders([("content-length", "5"), ("x-a", "1")]))
        let both = Self.framed(.ok, [("Transfer-Encoding", "chunked"), ("content-length", "5")])
        #expect(both == HTTPHeaders([("content-length", "5")]))
    }

    @Test func withoutALengthAnHTTP11ResponseIsChunked() {
        #expect(Self.framed(.ok, [("x-a", "1")]) == HTTPHeaders([("x-a", "1"), ("transfer-encoding", "chunked")]))
        #expect(Self.framed(.ok, [("transfer-encoding", "chunked")]) == HTTPHeaders([("transfer-encoding", "chunked")]))
        // NIO's encoder chunks only on exactly `chunked`: any other spelling or a second coding is replaced.
        #expect(Self.framed(.ok, [("transfer-encoding", "Chunked")]) == HTTPHeaders([("transfer-encoding", "chunked")]))
        #expect(Self.framed(.ok, [("transfer-encoding", "chunked"), ("transfer-encoding", "gzip")]) == HTTPHeaders([("transfer-encoding", "chunked")]))
    }

    @Test func anHTTP10ResponseWithoutALengthEndsWithTheConnection() {
        #expect(Self.framed(.ok, [("x-a", "1")], version: .http1_0) == HTTPHeaders([("x-a", "1")]))
        // Nor does it claim a coding it does not have (NIO's encoder left the header).
        #expect(Self.framed(.ok, [("transfer-encoding", "chunked"), ("x-a", "1")], version: .http1_0) == HTTPHeaders([("x-a", "1")]))
    }

    @Test(arguments: [HTTPResponseStatus.continue, .switchingProtocols, .noContent, .notModified])
    func aResponseThatCannotHaveABodyCarriesNoFraming(_ status: HTTPResponseStatus) {
        #expect(Self.framed(status, [("content-length", "5"), ("transfer-encoding", "chunked"), ("x-a", "1")]) == HTTPHeaders([("x-a", "1")]))
    }

    @Test func anAnswerToConnectCarriesNoFramingButOneToHeadKeepsIt() {
        #expect(Self.framed(.ok, [("content-length", "0")], method: .CONNECT).isEmpty)
        #expect(Self.framed(.ok, [("content-length", "42")], method: .HEAD) == HTTPHeaders([("content-length", "42")]))
    }

    // MARK: Against NIO's encoder

    /// What NIO's server pipeline, with its automatic framing, writes for `head` (and `body`)
    /// answering `request`. The header lines are sorted: framing may add `transfer-encoding` at
    /// another position.
    static func nioWire(request: String, head: HTTPResponseHead, body: String?) throws -> [String] {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
        try channel.writeInbound(ByteBuffer(string: request))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if let body { channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
        var bytes = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { bytes += String(buffer: part) }
        _ = try? channel.finish()
        return sortedLines(bytes)
    }

    /// What the connection manager writes: the head framed by ``HTTP1ResponseFraming`` and
    /// serialized by ``HTTP1MessageSerializer`` with the body.
    static func ourWire(method: HTTPMethod, head: HTTPResponseHead, body: String?) -> [String] {
        var head = head
        HTTP1ResponseFraming.frame(&head, requestMethod: method)
        var serializer = HTTP1MessageSerializer()
        serializer.responseHead(head, requestMethod: method)
        var bytes = ""
        if let body, let direct = serializer.body(ByteBuffer(string: body)) {
            bytes += direct.before.map { String(buffer: $0) } ?? ""
            bytes += String(buffer: direct.body)
        }
        bytes += String(buffer: serializer.end(nil))
        return sortedLines(bytes)
    }

    static func sortedLines(_ bytes: String) -> [String] {
        let parts = bytes.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let lines = parts[0].split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        return [lines[0]] + lines.dropFirst().sorted() + ["", parts.count > 1 ? parts[1] : ""]
    }

    @Test(arguments: [HTTPMethod.GET, .HEAD, .CONNECT])
    func framesEveryResponseAsNIOsEncoderDid(_ method: HTTPMethod) throws {
        let request = method == .CONNECT ? "CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n" : "\(method.rawValue) / HTTP/1.1\r\nhost: a\r\n\r\n"
        let headerSets: [[(String, String)]] = [
            [], [("content-length", "5")], [("transfer-encoding", "chunked")], [("Transfer-Encoding", "Chunked")],
            [("content-length", "5"), ("transfer-encoding", "chunked")], [("transfer-encoding", "gzip")],
            [("transfer-encoding", "chunked"), ("transfer-encoding", "gzip")], [("x-a", "1"), ("content-length", "0")],
        ]
        for status in [HTTPResponseStatus.ok, .notFound, .noContent, .notModified] {
            for version in [HTTPVersion.http1_1, .http1_0] {
                for headers in headerSets {
                    let head = HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(headers))
                    // NIO refuses a body on a response that cannot have one (and on HEAD and CONNECT answers).
                    let body = status.mayHaveResponseBody && method == .GET ? "hello" : nil
                    var nio = try Self.nioWire(request: request, head: head, body: body)
                    let ours = Self.ourWire(method: method, head: head, body: body)
                    if version == .http1_0, !headers.contains(where: { $0.0 == "content-length" }) {
                        // The one difference: an HTTP/1.0 body without a length is not announced as chunked.
                        nio.removeAll { $0.lowercased().hasPrefix("transfer-encoding:") }
                    }
                    #expect(ours == nio, "\(method) \(status.code) \(version) \(headers)")
                }
            }
        }
    }

    /// NIO's bytes for a chunked response with `bodies` and `trailers`.
    static func nioChunked(_ bodies: [String], trailers: HTTPHeaders?) throws -> String {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"])), promise: nil)
        for body in bodies { channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        try channel.writeAndFlush(HTTPServerResponsePart.end(trailers)).wait()
        var bytes = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { bytes += String(buffer: part) }
        _ = try? channel.finish()
        return bytes
    }

    @Test func chunkedBodiesLargeAndSmallWithTrailersMatchNIO() throws {
        let large = String(repeating: "x", count: HTTP1MessageSerializer.copyLimit + 1)
        let bodies = ["hello", "", large, "tail"]
        let trailers: HTTPHeaders = ["grpc-status": "0", "grpc-message": "ok"]
        var serializer = HTTP1MessageSerializer()
        serializer.responseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"]), requestMethod: .GET)
        var writes: [ByteBuffer] = []
        for body in bodies {
            if let direct = serializer.body(ByteBuffer(string: body)) {
                if let before = direct.before { writes.append(before) }
                writes.append(direct.body)
            }
        }
        writes.append(serializer.end(trailers))
        #expect(writes.count == 3, "the head and first chunk in one buffer, the large chunk as it is, then the rest")
        #expect(writes.map { String(buffer: $0) }.joined() == (try Self.nioChunked(bodies, trailers: trailers)))
    }

    @Test func aResponseThatCannotHaveABodyWritesNone() {
        for (status, method) in [(HTTPResponseStatus.ok, HTTPMethod.HEAD), (.noContent, .GET), (.ok, .CONNECT)] {
            var head = HTTPResponseHead(version: .http1_1, status: status, headers: ["transfer-encoding": "chunked"])
            HTTP1ResponseFraming.frame(&head, requestMethod: method)
            var serializer = HTTP1MessageSerializer()
            serializer.responseHead(head, requestMethod: method)
            let direct = serializer.body(ByteBuffer(string: String(repeating: "x", count: 10_000)))
            #expect(direct == nil)
            let bytes = String(buffer: serializer.end(["x-trailer": "1"]))
            #expect(bytes.hasSuffix("\r\n\r\n") && !bytes.contains("x-trailer") && !bytes.contains("xxx"), "\(method) \(status.code): \(bytes)")
        }
        // The next response on the connection is framed afresh.
        var serializer = HTTP1MessageSerializer()
        serializer.responseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"]), requestMethod: .HEAD)
        _ = serializer.end(nil)
        serializer.responseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"]), requestMethod: .GET)
        let direct = serializer.body(ByteBuffer(string: "ok"))
        let end = serializer.end(nil)
        #expect(direct == nil && String(buffer: end).hasSuffix("\r\n\r\nok"))
    }

    // MARK: Through the HTTP/1.1 pipeline

    static func exchange(_ request: String) throws -> String {
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try FilterTestSupport.routes([
            #"{"match": {"path": "/empty"}, "direct_response": {"status": 204}}"#,
            #"{"match": {"path": "/body"}, "direct_response": {"status": 200, "body": {"inline_string": "hello"}}}"#,
        ])
        hcm.httpFilters = [try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        let configuration = try HTTPConnectionManagerConfiguration(
            hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: FilterTestSupport.registry)
        let (runtime, _) = try FilterTestSupport.runtime(configuration)
        return try DownstreamHTTP1HandlerTests.wire(runtime, request).response
    }

    @Test func responsesOnTheWireAreFramed() throws {
        let body = try Self.exchange("GET /body HTTP/1.1\r\nhost: a\r\n\r\n")
        #expect(body.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(body)")
        #expect(body.lowercased().contains("content-length: 5\r\n") && body.hasSuffix("\r\n\r\nhello"), "\(body)")
        #expect(!body.lowercased().contains("transfer-encoding"))

        let head = try Self.exchange("HEAD /body HTTP/1.1\r\nhost: a\r\n\r\n")
        #expect(head.lowercased().contains("content-length: 5\r\n") && head.hasSuffix("\r\n\r\n"), "a HEAD response keeps its length, without the body: \(head)")

        let empty = try Self.exchange("GET /empty HTTP/1.1\r\nhost: a\r\n\r\n")
        #expect(empty.hasPrefix("HTTP/1.1 204 No Content\r\n"), "\(empty)")
        #expect(!empty.lowercased().contains("content-length") && !empty.lowercased().contains("transfer-encoding"), "\(empty)")
    }
}
