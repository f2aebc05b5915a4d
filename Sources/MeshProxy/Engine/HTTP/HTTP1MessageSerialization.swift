import NIOCore
import NIOHTTP1

/// How an HTTP/1.1 response head announces the end of its body, set by the connection manager.
///
/// A head is changed only when its framing is wrong, with the rules NIO's response encoder
/// applies when it frames responses itself:
/// - a response that cannot have a body (1xx, 204, 304, or any answer to `CONNECT`) carries
///   neither `content-length` nor `transfer-encoding`;
/// - with a `content-length`, `transfer-encoding` goes;
/// - without one, an HTTP/1.1 response is sent `transfer-encoding: chunked`; an HTTP/1.0 one ends
///   when the connection closes, and carries no `transfer-encoding` (NIO's encoder leaves one
///   there, though it does not chunk the body).
///
/// A response to `HEAD` keeps the framing a `GET` would have had; ``HTTP1MessageSerializer``
/// leaves out its body.
enum HTTP1ResponseFraming {
    /// Frames `head`, the response to a request with `requestMethod` (nil: none, as for a 400 to
    /// a request that did not parse).
    static func frame(_ head: inout HTTPResponseHead, requestMethod: HTTPMethod?) {
        if requestMethod == .CONNECT || !head.status.mayHaveResponseBody {
            head.headers.removeFields(named: ["content-length", "transfer-encoding"])
        } else if head.headers.contains(name: "content-length") {
            if head.headers.contains(name: "transfer-encoding") { head.headers.remove(name: "transfer-encoding") }
        } else if head.version.major == 1, head.version.minor >= 1 {
            // The body is chunked only when the first `transfer-encoding` is exactly `chunked`.
            let codings = head.headers["transfer-encoding"]
            if codings.isEmpty {
                head.headers.add(name: "transfer-encoding", value: "chunked")
            } else if codings != ["chunked"] {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            }
        } else if head.headers.contains(name: "transfer-encoding") {
            head.headers.remove(name: "transfer-encoding")
        }
    }
}

/// How an HTTP/1.1 request head sent upstream announces the end of its body: NIO's request
/// encoder's rules, which the proxy followed while that encoder wrote its upstream requests.
/// A `TRACE` carries no framing; a request with a `content-length` drops `transfer-encoding`;
/// without one, an HTTP/1.1 `POST`, `PUT` or `PATCH` is sent `transfer-encoding: chunked`, and
/// other methods keep the framing they have.
enum HTTP1RequestFraming {
    static func frame(_ head: inout HTTPRequestHead) {
        if head.method == .TRACE {
            if head.headers.contains(name: "content-length") || head.headers.contains(name: "transfer-encoding") {
                head.headers.removeFields(named: ["content-length", "transfer-encoding"])
            }
        } else if head.headers.contains(name: "content-length") {
            if head.headers.contains(name: "transfer-encoding") { head.headers.remove(name: "transfer-encoding") }
        } else if head.version.major == 1, head.version.minor >= 1, [.POST, .PUT, .PATCH].contains(head.method),
                  head.headers["transfer-encoding"] != ["chunked"] {
            head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
    }
}

/// Writes HTTP/1.1 messages as bytes, collecting a message's head, small body chunks and end in
/// one buffer until its writer flushes: the connection manager's responses downstream and the
/// router's requests upstream.
///
/// This replaces NIO's encoders in the proxy's HTTP/1.1 pipelines. An encoder is another
/// pipeline stage for every message part and writes at least two buffers per message (head, then
/// body and end), each a pending write of its own. Framing follows NIO's encoders: the body of
/// an HTTP/1.1 message framed `transfer-encoding: chunked` (see ``HTTP1ResponseFraming`` and
/// ``HTTP1RequestFraming``) goes out in chunks, an empty chunk is never written (it would end the
/// body), trailers follow the last chunk, and a response to `HEAD` or `CONNECT` (or one whose
/// status allows no body) has no body.
struct HTTP1MessageSerializer {
    /// Body chunks up to this size are copied behind the head; larger ones are written as they are.
    static let copyLimit = 4096

    private let allocator = ByteBufferAllocator()
    /// Bytes serialized and not yet handed to the channel.
    private var pending: ByteBuffer?
    private var chunked = false
    private var bodySuppressed = false

    init() {}

    /// Serializes a final response head (or `101 Switching Protocols`), already framed, answering
    /// a request with `requestMethod`.
    mutating func responseHead(_ head: HTTPResponseHead, requestMethod: HTTPMethod?) {
        bodySuppressed = requestMethod == .HEAD || requestMethod == .CONNECT || !head.status.mayHaveResponseBody
        startMessage(chunked: !bodySuppressed && Self.isChunked(head.headers, head.version)) { Self.write(head, into: &$0) }
    }

    /// Serializes a request head, already framed.
    mutating func requestHead(_ head: HTTPRequestHead) {
        bodySuppressed = false
        startMessage(chunked: Self.isChunked(head.headers, head.version)) { buffer in
            buffer.writeString(head.method.rawValue)
            buffer.writeStaticString(" ")
            buffer.writeString(head.uri)
            buffer.writeStaticString(" ")
            Self.write(head.version, into: &buffer)
            buffer.writeStaticString("\r\n")
            Self.write(head.headers, into: &buffer)
        }
    }

    /// Serializes a head written on its own, at once: a `1xx` before the final response (such as
    /// `100 Continue`), or a complete response without a body.
    func standaloneHead(_ head: HTTPResponseHead) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        Self.write(head, into: &buffer)
        return buffer
    }

    /// Adds a body chunk. Returns the buffers to write now, in order, when the chunk is too large
    /// to copy: what was pending before it, and the chunk itself.
    mutating func body(_ body: ByteBuffer) -> (before: ByteBuffer?, body: ByteBuffer)? {
        let count = body.readableBytes
        guard !bodySuppressed, count > 0 else { return nil }
        guard count <= Self.copyLimit else {
            guard chunked else { return (takePending(), body) }
            var before = takePending() ?? allocator.buffer(capacity: 16)
            Self.writeChunkSize(count, into: &before)
            var after = allocator.buffer(capacity: 16)
            after.writeStaticString("\r\n")
            pending = after
            return (before, body)
        }
        var buffer = takePending() ?? allocator.buffer(capacity: count + 16)
        if chunked { Self.writeChunkSize(count, into: &buffer) }
        buffer.writeImmutableBuffer(body)
        if chunked { buffer.writeStaticString("\r\n") }
        pending = buffer
        return nil
    }

    private static func writeChunkSize(_ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(count, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    /// Ends the message: the last chunk and `trailers` of a chunked body (trailers are dropped
    /// otherwise). Returns everything pending, possibly empty.
    mutating func end(_ trailers: HTTPHeaders?) -> ByteBuffer {
        var buffer = takePending() ?? allocator.buffer(capacity: chunked ? 64 : 0)
        if chunked {
            buffer.writeStaticString("0\r\n")
            Self.write(trailers ?? [:], into: &buffer)
        }
        chunked = false
        bodySuppressed = false
        return buffer
    }

    /// Takes the bytes serialized so far.
    mutating func takePending() -> ByteBuffer? {
        defer { pending = nil }
        return pending
    }

    private mutating func startMessage(chunked: Bool, _ writeHead: (inout ByteBuffer) -> Void) {
        self.chunked = chunked
        var buffer = takePending() ?? allocator.buffer(capacity: 512)
        writeHead(&buffer)
        pending = buffer
    }

    /// Whether a message's body is chunked: as NIO's encoders decide, on HTTP/1.1 with a first
    /// `transfer-encoding` of exactly `chunked`.
    private static func isChunked(_ headers: HTTPHeaders, _ version: HTTPVersion) -> Bool {
        version.major == 1 && version.minor >= 1 && headers.first(name: "transfer-encoding") == "chunked"
    }

    /// The status line and header block of `head`.
    static func write(_ head: HTTPResponseHead, into buffer: inout ByteBuffer) {
        write(head.version, into: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeString(String(head.status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(head.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        write(head.headers, into: &buffer)
    }

    /// `HTTP/1.1` (or the other version).
    private static func write(_ version: HTTPVersion, into buffer: inout ByteBuffer) {
        if version == .http1_1 {
            buffer.writeStaticString("HTTP/1.1")
        } else {
            buffer.writeString("HTTP/\(version.major).\(version.minor)")
        }
    }

    /// Header lines, then the empty line that ends them.
    static func write(_ headers: HTTPHeaders, into buffer: inout ByteBuffer) {
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }
}
