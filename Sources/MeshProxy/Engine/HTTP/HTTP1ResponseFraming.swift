import NIOHTTP1

/// How an HTTP/1.1 response head announces the end of its body, set by the connection manager
/// rather than by NIO's response encoder.
///
/// NIO's encoder can frame responses itself, but it then removes `transfer-encoding` from every
/// response that has a `content-length`. Removing writes to the header list even when nothing
/// matches, and while the encoder runs the list is still shared with the `NIOAny` it came in, so
/// every response's headers were copied. Here a head is changed only when its framing is wrong,
/// with the same rules as NIO's encoder:
/// - a response that cannot have a body (1xx, 204, 304, or any answer to `CONNECT`) carries
///   neither `content-length` nor `transfer-encoding`;
/// - with a `content-length`, `transfer-encoding` goes;
/// - without one, an HTTP/1.1 response is sent `transfer-encoding: chunked`; an HTTP/1.0 one ends
///   when the connection closes.
///
/// NIO's encoder still leaves out the body of a response to `HEAD` (and `CONNECT`), whose head
/// keeps the framing a `GET` would have had.
enum HTTP1ResponseFraming {
    /// Frames `head`, the response to a request with `requestMethod` (nil: none, as for a 400 to
    /// a request that did not parse).
    static func frame(_ head: inout HTTPResponseHead, requestMethod: HTTPMethod?) {
        if requestMethod == .CONNECT || !head.status.mayHaveResponseBody {
            head.headers.removeFields(named: ["content-length", "transfer-encoding"])
        } else if head.headers.contains(name: "content-length") {
            if head.headers.contains(name: "transfer-encoding") { head.headers.remove(name: "transfer-encoding") }
        } else if head.version.major == 1, head.version.minor >= 1 {
            // NIO's encoder chunks the body only when the first `transfer-encoding` is exactly `chunked`.
            let codings = head.headers["transfer-encoding"]
            if codings.isEmpty {
                head.headers.add(name: "transfer-encoding", value: "chunked")
            } else if codings != ["chunked"] {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            }
        }
    }
}
