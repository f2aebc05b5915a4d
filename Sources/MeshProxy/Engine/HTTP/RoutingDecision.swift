import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// The outcome of routing one request, made before the decoder filters run (they may read the
/// route's per-filter configuration).
struct RouteResolution {
    var decision: RoutingDecision
    /// The matched route's name.
    var routeName: String?
    /// `typed_per_filter_config` of the matched route, merged over its virtual host's.
    var perFilterConfig: [String: Google_Protobuf_Any]
}

/// What the router does with a request.
enum RoutingDecision {
    /// Answer from the proxy: no route (404 NR), a direct response or a redirect.
    case localReply(HTTPLocalReply)
    /// Send upstream.
    case forward(ForwardPlan)
}

/// Everything the router needs to send a request upstream and shape the response.
struct ForwardPlan {
    /// The chosen cluster (weighted choice already made).
    var clusterName: String
    /// Route-level rewrites and header mutations for the upstream request (path, authority, headers).
    var transformRequest: (inout HTTPRequestHead) -> Void
    /// Route-level header mutations for the response.
    var transformResponse: (inout HTTPHeaders) -> Void
    /// The route timeout, or nil when disabled.
    var timeout: Duration?
    /// The retry policy, if any.
    var retry: RetryPlan?
    /// The request hash for ring hash and maglev.
    var hashKey: UInt64?
    /// Whether to send `x-envoy-attempt-count` upstream.
    var includeAttemptCount: Bool
    /// Clusters that get a copy of the request (responses discarded).
    var mirrors: [MirrorTarget]
    /// The route's `idle_timeout`, replacing the connection manager's stream idle timeout
    /// (`.zero` disables it); nil keeps the connection manager's.
    var streamIdleTimeout: Duration? = nil
    /// The route's `max_stream_duration`, when set (Envoy then ignores the route `timeout`).
    var maxStreamDuration: ForwardAction.MaxStreamDuration? = nil
    /// The route's `upgrade_configs`.
    var upgrades: [ForwardAction.Upgrade] = []
}

/// Where a mirrored copy of a request goes.
struct MirrorTarget {
    var cluster: String
    /// The authority of the copy (`<host>-shadow` by default).
    var authority: String
}

/// A route's retry policy as the router applies it.
struct RetryPlan {
    var numRetries: Int
    var perTryTimeout: Duration?
    var avoidsPreviousHosts: Bool
    var hostSelectionRetryMaxAttempts: Int
    var retriesStatus: (_ status: Int, _ headers: HTTPHeaders) -> Bool
    var retriesFailure: (_ failure: UpstreamFailure) -> Bool
    var backoffFor: (_ attempt: Int) -> Duration

    func shouldRetry(status: Int, headers: HTTPHeaders) -> Bool { retriesStatus(status, headers) }
    func shouldRetry(failure: UpstreamFailure) -> Bool { retriesFailure(failure) }
    func backoff(attempt: Int) -> Duration { backoffFor(attempt) }
}

/// The downstream connection a stream arrived on.
struct DownstreamConnectionInfo {
    var remoteAddress: SocketAddress?
    var localAddress: SocketAddress?
    var isTLS: Bool
    /// What the TLS handshake established, when the connection is TLS (set by the TLS layer).
    var tls: DownstreamTLSInfo? = nil
    /// `http` or `https`.
    var scheme: String { isTLS ? "https" : "http" }
}

/// One finished request, for stats and access logs.
struct RequestRecord {
    var method: String
    var path: String
    var authority: String
    var status: Int
    var flags: ResponseFlags
    var routeName: String?
    var cluster: String?
    var upstreamHost: String?
    var attempts: Int
    var bytesReceived: Int
    var bytesSent: Int
    var start: NIODeadline
    var end: NIODeadline
}
