import NIOCore
import NIOHTTP1

/// Serialises pipelined HTTP/1.1 requests on a downstream connection for
/// ``DownstreamHTTP1Handler``: a request that arrives before the previous response has ended is
/// held (with its body and end) and served once that response's end is written, so the
/// connection manager serves one exchange at a time and responses leave in request order.
///
/// Unlike NIO's `HTTPServerPipelineHandler`, reading stops only while a pipelined request is
/// actually held (the handler withholds `read()` while ``isHolding``). That handler also stops
/// reading between every request's end and its response's end, which costs two `epoll_ctl`
/// system calls per request on a keep-alive connection (read interest removed, then restored); a
/// client that waits for each response, as nearly all do, never makes this queue hold anything.
/// What one socket read decodes is all that is ever held.
struct HTTP1PipeliningQueue {
    /// The exchange the connection manager is serving: its request and response ends seen.
    private(set) var exchangeOpen = false
    private var requestEnded = false
    private var responseEnded = false
    /// Parts of requests that arrived while an exchange was open, oldest first.
    private var held = CircularBuffer<HTTPServerRequestPart>()

    init() {}

    /// Whether parts of pipelined requests are waiting.
    var isHolding: Bool { !held.isEmpty }

    /// A request part was decoded: returns it when it is to be served now, nil when it is held.
    mutating func arrived(_ part: HTTPServerRequestPart) -> HTTPServerRequestPart? {
        if !held.isEmpty || (exchangeOpen && Self.isHead(part)) {
            held.append(part)
            return nil
        }
        serving(part)
        return part
    }

    /// The response's end was written. Returns true when held parts may now be served
    /// (with ``nextHeld()``, on a later event-loop tick than the write).
    mutating func responseEndWritten() -> Bool {
        guard exchangeOpen else { return false }
        responseEnded = true
        guard requestEnded else { return false }
        exchangeOpen = false
        return !held.isEmpty
    }

    /// The next held part that may be served now: nil when nothing is held or the next held part
    /// starts a request while an exchange is open.
    mutating func nextHeld() -> HTTPServerRequestPart? {
        guard let part = held.first, !(exchangeOpen && Self.isHead(part)) else { return nil }
        held.removeFirst()
        serving(part)
        return part
    }

    private mutating func serving(_ part: HTTPServerRequestPart) {
        switch part {
        case .head:
            exchangeOpen = true
            requestEnded = false
            responseEnded = false
        case .body:
            break
        case .end:
            requestEnded = true
            // A response can end before its request (a local reply to a request still sending its body).
            if responseEnded { exchangeOpen = false }
        }
    }

    private static func isHead(_ part: HTTPServerRequestPart) -> Bool {
        if case .head = part { return true }
        return false
    }
}
