import NIOHTTP1

/// What a request path asks of the echo server: `/status/CODE` and `/delay/MS`.
struct EchoRoute: Sendable, Hashable {
    /// The status to answer with (200 unless `/status/CODE`).
    var status: HTTPResponseStatus = .ok
    /// How long to wait before answering (`/delay/MS`, or `?delay=MS` on any path), at most 60 seconds.
    var delayMilliseconds: Int64 = 0
    /// Close the connection (reset the HTTP/2 stream) instead of answering (`/reset/N/KEY`).
    var resetsConnection = false

    /// The longest `/delay/MS` honoured.
    static let maximumDelayMilliseconds: Int64 = 60_000

    init(uri: String) {
        var path = Substring(uri)
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            if path[query] == "?" {
                let parameters = path[path.index(after: query)...].prefix { $0 != "#" }.split(separator: "&")
                if let delay = parameters.first(where: { $0.hasPrefix("delay=") }), let ms = Int64(delay.dropFirst("delay=".count)), ms >= 0 {
                    delayMilliseconds = min(ms, Self.maximumDelayMilliseconds)
                }
            }
            path = path[..<query]
        }
        if path.hasPrefix("/status/"), let code = Int(path.dropFirst("/status/".count)), (200...599).contains(code) {
            status = HTTPResponseStatus(statusCode: code)
        } else if path.hasPrefix("/delay/"), let ms = Int64(path.dropFirst("/delay/".count)), ms >= 0 {
            delayMilliseconds = min(ms, Self.maximumDelayMilliseconds)
        }
    }

    /// Whether a response with `status` may carry a body (not 1xx, 204 or 304).
    static func statusAllowsBody(_ status: HTTPResponseStatus) -> Bool {
        let code = status.code
        return !(code < 200 || code == 204 || code == 304)
    }
}
