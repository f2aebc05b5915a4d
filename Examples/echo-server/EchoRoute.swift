import NIOHTTP1

/// What a request path asks of the echo server: `/status/CODE` and `/delay/MS`.
struct EchoRoute: Sendable, Hashable {
    /// The status to answer with (200 unless `/status/CODE`).
    var status: HTTPResponseStatus = .ok
    /// How long to wait before answering (`/delay/MS`), at most 60 seconds.
    var delayMilliseconds: Int64 = 0

    /// The longest `/delay/MS` honoured.
    static let maximumDelayMilliseconds: Int64 = 60_000

    init(uri: String) {
        var path = Substring(uri)
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
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
