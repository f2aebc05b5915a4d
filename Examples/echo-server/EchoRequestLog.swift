import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// What the echo server remembers across requests: how many it has answered (reported in the
/// `x-echo-requests` response header, so a test can count requests a mirror received), the last
/// few requests' heads (``lastRequest(withPathPrefix:)``, answered at ``lastRequestPath``, so a test
/// can see what a mirror received) and,
/// for `/flaky/N/KEY` and `/reset/N/KEY`, how many attempts each key has seen.
final class EchoRequestLog: Sendable {
    /// The log of this process.
    static let shared = EchoRequestLog()

    /// The most flaky keys remembered; beyond it the oldest counts are forgotten, so memory stays bounded.
    static let maximumKeys = 10_000

    /// The path that answers with an earlier request instead of itself: the latest one, or with
    /// `?prefix=P` the latest whose path starts with P.
    static let lastRequestPath = "/last-request"
    /// How many recent requests are remembered.
    static let recentLimit = 32

    private struct State {
        var total = 0
        var recent = CircularBuffer<HTTPRequestHead>(initialCapacity: EchoRequestLog.recentLimit)
        var attempts: [String: Int] = [:]

        mutating func remember(_ head: HTTPRequestHead) {
            if recent.count == EchoRequestLog.recentLimit { _ = recent.popFirst() }
            recent.append(head)
        }
    }

    private let state = NIOLockedValueBox(State())

    /// Requests answered so far, counting the one being answered.
    var total: Int { state.withLockedValue { $0.total } }

    /// The latest remembered request whose path starts with `prefix`.
    func lastRequest(withPathPrefix prefix: String) -> HTTPRequestHead? {
        state.withLockedValue { $0.recent.last { $0.uri.hasPrefix(prefix) } }
    }

    /// Records a request; returns the route with `/flaky/N/KEY` applied (503 for the first N
    /// attempts with that key, then 200) or `/reset/N/KEY` (the first N attempts reset).
    func record(_ route: EchoRoute, head: HTTPRequestHead) -> EchoRoute {
        let uri = head.uri
        let remembered = uri.hasPrefix(Self.lastRequestPath) ? nil : head
        guard let flaky = FlakyPath(uri: uri) else {
            state.withLockedValue { state in
                state.total += 1
                if let remembered { state.remember(remembered) }
            }
            return route
        }
        let attempt = state.withLockedValue { state -> Int in
            state.total += 1
            if let remembered { state.remember(remembered) }
            if state.attempts.count >= Self.maximumKeys, state.attempts[flaky.key] == nil { state.attempts.removeAll() }
            let next = (state.attempts[flaky.key] ?? 0) + 1
            state.attempts[flaky.key] = next
            return next
        }
        var out = route
        let fails = attempt <= flaky.failures
        switch flaky.failure {
        case .serviceUnavailable: out.status = fails ? .serviceUnavailable : .ok
        case .reset: out.resetsConnection = fails
        }
        return out
    }
}

/// `/flaky/N/KEY` (503) or `/reset/N/KEY` (the connection closed without an answer): fail the
/// first N attempts for KEY (any text without `/`, `?` or `#`).
struct FlakyPath: Sendable, Hashable {
    /// How a failing attempt fails.
    enum Failure: Sendable, Hashable {
        case serviceUnavailable
        case reset
    }

    /// Attempts that fail before the key succeeds.
    var failures: Int
    var failure: Failure
    /// The key attempts are counted under (with N, so different budgets never share a count).
    var key: String

    /// The largest N honoured.
    static let maximumFailures = 1_000

    init?(uri: String) {
        var path = Substring(uri)
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        let prefix: String
        if path.hasPrefix("/flaky/") {
            (prefix, failure) = ("/flaky/", .serviceUnavailable)
        } else if path.hasPrefix("/reset/") {
            (prefix, failure) = ("/reset/", .reset)
        } else {
            return nil
        }
        let parts = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), (0...Self.maximumFailures).contains(n), !parts[1].isEmpty else { return nil }
        failures = n
        key = "\(prefix)\(n)/\(parts[1])"
    }
}
