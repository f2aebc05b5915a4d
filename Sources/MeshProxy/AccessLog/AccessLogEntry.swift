#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import NIOCore
public import NIOHTTP1

/// What an access log line is made from: one finished HTTP stream or TCP connection (Envoy's
/// `StreamInfo` plus the request and response headers). A value handed to the access loggers
/// once, when the stream ends; the proxy builds it only when an access log is configured.
public struct AccessLogEntry: Sendable {
    /// When the stream started, wall clock.
    public var startTime: WallClockTime
    /// From start to end, in nanoseconds.
    public var durationNanoseconds: Int64
    /// The request as the connection manager forwarded it (after header mutations); nil for TCP.
    public var request: HTTPRequestHead?
    /// `http` or `https` (the `:scheme`).
    public var scheme: String?
    /// The response headers sent downstream (status included), nil when none was sent.
    public var response: HTTPResponseHead?
    /// The response trailers, if any.
    public var responseTrailers: HTTPHeaders?
    /// The response code, 0 when none was sent (TCP, a reset before headers).
    public var responseCode: Int
    /// Why the response code is what it is (`via_upstream`, `route_not_found`, ...).
    public var responseCodeDetails: String?
    /// Why the proxy closed the connection, when it did.
    public var connectionTerminationDetails: String?
    /// Why the upstream TLS (or other transport) handshake failed.
    public var upstreamTransportFailureReason: String?
    /// Envoy's response flags.
    public var responseFlags: ResponseFlags
    /// Body bytes received from downstream (TCP: all bytes).
    public var bytesReceived: Int
    /// Body bytes sent downstream (TCP: all bytes).
    public var bytesSent: Int
    /// The last upstream host tried, as its endpoint names it (`10.0.0.1:80`).
    public var upstreamHost: String?
    /// The peer address of the upstream connection (the resolved host), when one was made.
    public var upstreamRemoteAddress: SocketAddress?
    /// The upstream cluster's name.
    public var upstreamCluster: String?
    /// The local address of the upstream connection.
    public var upstreamLocalAddress: SocketAddress?
    /// Upstream attempts (retries included).
    public var upstreamRequestAttemptCount: Int
    /// The downstream connection's local address (the original destination for captured traffic).
    public var downstreamLocalAddress: SocketAddress?
    /// The downstream peer.
    public var downstreamRemoteAddress: SocketAddress?
    /// The downstream TLS session, if any.
    public var downstreamTLS: DownstreamTLSInfo?
    /// The SNI the downstream sent.
    public var requestedServerName: String?
    /// The matched route's name.
    public var routeName: String?

    /// An entry with nothing but its timing; fill in the rest.
    public init(startTime: WallClockTime, durationNanoseconds: Int64) {
        self.startTime = startTime
        self.durationNanoseconds = durationNanoseconds
        responseCode = 0
        responseFlags = []
        bytesReceived = 0
        bytesSent = 0
        upstreamRequestAttemptCount = 0
    }

    /// An entry for a stream that started at `start` (monotonic) and ends now: the wall-clock
    /// start is now minus the elapsed time, so streams carry no wall-clock reading of their own.
    static func ending(startedAt started: NIODeadline) -> AccessLogEntry {
        let elapsed = max(0, (NIODeadline.now() - started).nanoseconds)
        return AccessLogEntry(startTime: WallClockTime.now().subtracting(nanoseconds: elapsed), durationNanoseconds: elapsed)
    }
}

/// A point in UTC wall-clock time, nanosecond resolution.
public struct WallClockTime: Sendable, Hashable {
    /// Seconds since the Unix epoch.
    public var seconds: Int64
    /// Nanoseconds within the second (0..<1e9).
    public var nanoseconds: Int64

    /// - Parameters:
    ///   - seconds: seconds since the epoch.
    ///   - nanoseconds: nanoseconds within the second.
    public init(seconds: Int64, nanoseconds: Int64) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The current time (`CLOCK_REALTIME`).
    public static func now() -> WallClockTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return WallClockTime(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }

    func subtracting(nanoseconds amount: Int64) -> WallClockTime {
        let total = seconds * 1_000_000_000 + nanoseconds - amount
        return WallClockTime(seconds: total / 1_000_000_000, nanoseconds: total % 1_000_000_000)
    }
}
