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

/// Everything the router needs to send a request upstream and shape the response. A class: the
/// stream reads it at every step of a request, and a struct of this size would be copied (and
/// its references retained and released) each time.
final class ForwardPlan {
    /// The chosen cluster (weighted choice already made).
    var clusterName: String
    /// The route's rewrites and header mutations (``transformRequest(_:)``, ``transformResponse(_:upstreamAddress:)``).
    var rewrite: RouteRewrite
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

    init(clusterName: String, rewrite: RouteRewrite, timeout: Duration?, retry: RetryPlan?, hashKey: UInt64?,
         includeAttemptCount: Bool, mirrors: [MirrorTarget]) {
        self.clusterName = clusterName
        self.rewrite = rewrite
        self.timeout = timeout
        self.retry = retry
        self.hashKey = hashKey
        self.includeAttemptCount = includeAttemptCount
        self.mirrors = mirrors
    }
}

extension ForwardPlan {
    /// Route-level rewrites and header mutations for the upstream request (path, authority, headers).
    func transformRequest(_ head: inout HTTPRequestHead) {
        // A rewritten path keeps the original in `x-envoy-original-path` (Istio's access log
        // format prints it).
        if rewrite.path != head.uri {
            head.headers.replaceOrAdd(name: "x-envoy-original-path", value: head.uri)
            head.uri = rewrite.path
        }
        if let authority = rewrite.authority {
            if rewrite.appendsForwardedHost, let original = head.headers.first(name: "host") { head.headers.add(name: "x-forwarded-host", value: original) }
            head.headers.replaceOrAdd(name: "host", value: authority)
        }
        switch rewrite.decorator {
        case .untraced: break
        case .egress(let operation):
            if let operation { head.headers.replaceOrAdd(name: DecoratorHeader.name, value: operation) }
        case .ingress:
            // An inbound override names the span; it does not go on to the workload.
            head.headers.remove(name: DecoratorHeader.name)
        }
        rewrite.requestMutations.apply(to: &head.headers, context: rewrite.formatter)
    }

    /// Route-level header mutations for the response.
    /// - Parameter upstreamAddress: The upstream host that answered, or was last tried before a
    ///   local reply (`ip:port`), for `%UPSTREAM_REMOTE_ADDRESS%`; formatted only when the route
    ///   mutates response headers.
    func transformResponse(_ headers: inout HTTPHeaders, upstreamAddress: @autoclosure () -> String?) {
        if !rewrite.responseMutations.isEmpty {
            var context = rewrite.formatter
            context.upstreamRemoteAddress = upstreamAddress()
            rewrite.responseMutations.apply(to: &headers, context: context)
        }
        switch rewrite.decorator {
        case .untraced: break
        case .egress: headers.remove(name: DecoratorHeader.name)
        case .ingress(let operation):
            if let operation { headers.replaceOrAdd(name: DecoratorHeader.name, value: operation) }
        }
    }
}

/// What a traced connection manager does with `x-envoy-decorator-operation`, Envoy's way of
/// handing a route decorator's span name between proxies. Without `tracing` the header is
/// neither added nor removed.
enum DecoratorHeader: Equatable {
    static let name = "x-envoy-decorator-operation"

    /// The connection manager has no `tracing`.
    case untraced
    /// An outbound listener: the route's operation (when it propagates) goes upstream, and the
    /// upstream's override is taken off the response.
    case egress(operation: String?)
    /// Any other listener: the downstream's override is taken off the request, and the route's
    /// operation (when it propagates and the request carried no override) goes back in the
    /// response.
    case ingress(operation: String?)
}

/// What a matched route changes in the upstream request and in the response.
struct RouteRewrite {
    /// The upstream path (after prefix or regex rewrite).
    var path: String
    /// The new authority (host rewrite), if any.
    var authority: String?
    /// Whether a rewritten authority keeps the original in `x-forwarded-host`.
    var appendsForwardedHost: Bool
    var decorator: DecoratorHeader
    var requestMutations: HeaderMutations
    var responseMutations: HeaderMutations
    /// What the mutations' `%COMMAND%`s read.
    var formatter: HeaderFormatterContext
}

/// Where a mirrored copy of a request goes.
struct MirrorTarget {
    var cluster: String
    /// The authority of the copy (`<host>-shadow` by default).
    var authority: String
}

/// A route's retry policy as the router applies it: made once per route (a class, so that
/// each stream's plan shares it rather than copying the policy).
final class RetryPlan: Sendable {
    let policy: RetryPolicy

    init(_ policy: RetryPolicy) { self.policy = policy }

    var numRetries: Int { policy.numRetries }
    var perTryTimeout: Duration? { policy.perTryTimeout }
    var hostPredicates: [RetryHostPredicate] { policy.hostPredicateRules }
    /// The priorities the next attempt leaves out, from the priorities of the attempts so far.
    func excludedPriorities(attempted: ArraySlice<UpstreamHost>) -> Set<UInt32> {
        guard let priority = policy.priority else { return [] }
        return priority.excludedPriorities(attempted: attempted.map(\.priority)) ?? []
    }
    var hostSelectionRetryMaxAttempts: Int { max(1, policy.hostSelectionRetryMaxAttempts) }

    func shouldRetry(status: Int, headers: HTTPHeaders) -> Bool { policy.shouldRetry(status: status, headers: headers) }

    func shouldRetry(failure: UpstreamFailure) -> Bool {
        switch failure {
        case .connectFailed: policy.shouldRetry(failure: .connectFailure)
        case .connectionClosed: policy.shouldRetry(failure: .reset(requestSent: true))
        case .perTryTimeout: policy.shouldRetry(failure: .perTryTimeout)
        case .overflow: false
        }
    }

    func backoff(attempt: Int) -> Duration { policy.backoff(attempt: attempt, random: FastRandom.next()) }
}

/// The downstream connection a stream arrived on: made once per connection and shared by its
/// streams (a class: each stream and each routing step would otherwise copy its addresses and
/// TLS details).
final class DownstreamConnectionInfo: Sendable {
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?
    /// The addresses' IPs as text, formatted once per connection (`inet_ntop` is not free).
    let remoteIP: String?
    let localIP: String?
    let isTLS: Bool
    /// What the TLS handshake established, when the connection is TLS (from the connection handler).
    let tls: DownstreamTLSInfo?

    init(remoteAddress: SocketAddress?, localAddress: SocketAddress?, isTLS: Bool, tls: DownstreamTLSInfo? = nil) {
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.remoteIP = remoteAddress?.ipAddress
        self.localIP = localAddress?.ipAddress
        self.isTLS = isTLS
        self.tls = tls
    }
    /// `http` or `https`.
    var scheme: String { isTLS ? "https" : "http" }
    /// The peer as `ip:port` (`[v6]:port`), as Envoy's formatters print addresses.
    var remoteAddressText: String? { Self.text(remoteIP, remoteAddress?.port) }
    /// The local address the connection arrived on, as `ip:port`.
    var localAddressText: String? { Self.text(localIP, localAddress?.port) }

    /// `ip:port`, with the IP bracketed when it is IPv6.
    static func text(_ ip: String?, _ port: Int?) -> String? {
        guard let ip else { return nil }
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return port.map { "\(host):\($0)" } ?? host
    }
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
