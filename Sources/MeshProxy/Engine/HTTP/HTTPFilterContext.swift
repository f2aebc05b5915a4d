public import NIOCore
public import NIOHTTP1
public import SwiftProtobuf

/// A filter's view of its stream: the route, the per-route configuration, the connection, and the
/// ways to resume or answer the stream. Use it only on ``eventLoop``; to resume from elsewhere
/// use ``resumer``. Once the stream has completed (after ``HTTPFilter/onStreamComplete(context:)``)
/// the context no longer refers to it: a filter may keep the context, but its route and metadata
/// read empty and resuming or answering does nothing.
public final class HTTPFilterContext {
    /// The stream, until it completes (it then clears this); strong rather than weak, so that
    /// the stream has no side table (see ``StreamLink``).
    var stream: HTTPStream?
    let filterName: String
    let factory: any HTTPFilterFactory
    /// The filter's position in the connection manager's `http_filters`.
    let chainIndex: Int

    private let loop: any EventLoop
    private let manager: HTTPConnectionManagerRuntime

    init(stream: HTTPStream, filterName: String, factory: any HTTPFilterFactory, chainIndex: Int) {
        self.stream = stream
        self.chainIndex = chainIndex
        self.loop = stream.eventLoop
        self.manager = stream.manager
        self.filterName = filterName
        self.factory = factory
    }

    /// The event loop the stream runs on.
    public var eventLoop: any EventLoop { loop }

    /// The name of the route the request matched, if any.
    public var routeName: String? { stream?.resolution?.routeName }

    /// The `typed_per_filter_config` of the matched route (or its virtual host) for this filter,
    /// parsed by the factory's ``HTTPFilterFactory/parsePerRouteConfig(_:)``.
    /// Parsed once per distinct configuration and remembered until a filter clears the route
    /// cache (``clearRouteCache()``).
    public var perRouteConfig: (any Sendable)? {
        if let parsedPerRoute { return parsedPerRoute.value }
        guard let raw = stream?.resolution?.perFilterConfig[filterName] else { return nil }
        let value = manager.parsedPerRouteConfig(filterName: filterName, raw: raw, factory: factory)
        parsedPerRoute = ParsedPerRouteConfig(value: value)
        return value
    }
    private var parsedPerRoute: ParsedPerRouteConfig?

    /// The stream chose its route again: the per-route configuration is read afresh.
    func routeChanged() { parsedPerRoute = nil }

    /// The downstream peer's address.
    public var downstreamRemoteAddress: SocketAddress? { stream?.connection.remoteAddress }

    /// The local address the downstream connection arrived on.
    public var downstreamLocalAddress: SocketAddress? { stream?.connection.localAddress }

    /// The downstream TLS session (peer certificate SANs, SNI, ALPN), or nil for plaintext.
    public var downstreamTLS: DownstreamTLSInfo? { stream?.connection.tls }

    /// Flags recorded for this request's logs and metrics.
    public var responseFlags: ResponseFlags {
        get { stream?.responseFlags ?? [] }
        set { stream?.responseFlags = newValue }
    }

    /// The counter `http.<stat_prefix>.<name>` of this connection manager (Envoy's per-filter
    /// stats, such as `fault.aborts_injected`), created on first use.
    public func counter(_ name: String) -> StatCounter { manager.filterCounter(name) }

    /// A uniformly random 64-bit value (for percentages).
    public func randomValue() -> UInt64 { FastRandom.next() }

    /// Resumes the request after a hook returned ``HTTPFilterStatus/stopIteration``.
    public func continueDecoding() { stream?.continueDecoding(after: self) }

    /// Resumes the response after an encoder hook returned ``HTTPFilterStatus/stopIteration``.
    public func continueEncoding() { stream?.continueEncoding(after: self) }

    /// Changes the request head after `decodeHeaders` returned ``HTTPFilterStatus/stopIteration``
    /// and before ``continueDecoding()``, as a filter that finishes its work asynchronously does
    /// (removing a verified token, adding claim headers). Ignored once decoding went on.
    public func updateRequestHead(_ change: (inout HTTPRequestHead) -> Void) { stream?.updateStoppedRequestHead(change) }

    /// Changes the response head while this filter holds it (its `encodeHeaders` returned
    /// ``HTTPFilterStatus/stopIteration`` or ``HTTPFilterStatus/stopAndBuffer``), before
    /// ``continueEncoding()``: a filter that rewrote the buffered body fixes `content-length`
    /// this way. Ignored once the head went on.
    public func updateResponseHead(_ change: (inout HTTPResponseHead) -> Void) { stream?.updateHeldResponseHead(self, change) }

    /// Answers the request from the proxy; the rest of the request is discarded.
    public func sendLocalReply(_ reply: HTTPLocalReply) { stream?.sendLocalReply(reply) }

    // MARK: Dynamic metadata

    /// The stream's dynamic metadata (Envoy's `StreamInfo` dynamic metadata): one `Struct` per
    /// namespace, conventionally the writing filter's name. Filters share per-request facts this
    /// way, as `jwt_authn` hands verified token payloads to `rbac`
    /// (`envoy.filters.http.jwt_authn` → issuer → claims). Empty when the stream has ended.
    public var allDynamicMetadata: [String: Google_Protobuf_Struct] { stream?.dynamicMetadata ?? [:] }

    /// The metadata of one namespace, if any filter wrote it.
    public func dynamicMetadata(namespace: String) -> Google_Protobuf_Struct? { stream?.dynamicMetadata[namespace] }

    /// Merges `fields` into a namespace as Envoy's `setDynamicMetadata` does: each top-level field
    /// replaces the field of the same name; other fields stay.
    public func setDynamicMetadata(namespace: String, _ fields: Google_Protobuf_Struct) {
        guard let stream else { return }
        var current = stream.dynamicMetadata[namespace] ?? Google_Protobuf_Struct()
        for (key, value) in fields.fields { current.fields[key] = value }
        stream.dynamicMetadata[namespace] = current
    }

    /// Routes the request again, as Envoy's `clearRouteCache()`: a decoder filter that changed
    /// what routing reads (headers it set in `decodeHeaders`, dynamic metadata such as
    /// `jwt_authn`'s verified claims) calls this before it continues, and the filters after it
    /// and the router see the route chosen now, with its per-filter configuration and timeouts.
    /// Filters that only the new route needs are added after this one. Once the router has
    /// started, the call does nothing. Whether the request is upgraded stays as first decided.
    public func clearRouteCache() { stream?.clearRouteCache(after: self) }

    // MARK: Addresses

    /// `http` or `https`: how the request reached this proxy (the `:scheme` pseudo-header).
    public var downstreamScheme: String { stream?.connection.scheme ?? "http" }

    /// Envoy's "downstream remote address" of a request, as address bytes: with
    /// `use_remote_address` the TCP peer (or, with `xff_num_trusted_hops` N > 0, the N-th
    /// `x-forwarded-for` entry from the right before this proxy appended the peer); without it the
    /// last `x-forwarded-for` entry after skipping `xff_num_trusted_hops`. Nil when that entry is
    /// missing or not an IP (callers then use the TCP peer). RBAC's `remote_ip` matches this.
    public func downstreamEffectiveRemoteAddress(_ head: HTTPRequestHead) -> [UInt8]? {
        guard let stream else { return nil }
        let configuration = stream.manager.configuration
        let skip: Int
        if configuration.useRemoteAddress {
            guard configuration.xffNumTrustedHops > 0 else { return nil }
            // The connection manager already appended the peer to x-forwarded-for.
            skip = configuration.xffNumTrustedHops - (configuration.skipXFFAppend ? 1 : 0)
        } else {
            skip = configuration.xffNumTrustedHops
        }
        guard let forwarded = head.headers.joinedValue(lowercasedName: "x-forwarded-for") else { return nil }
        let entries = forwarded.split(separator: ",", omittingEmptySubsequences: false)
        guard skip >= 0, entries.count > skip else { return nil }
        var entry = entries[entries.count - 1 - skip]
        while let first = entry.first, first == " " || first == "\t" { entry = entry.dropFirst() }
        while let last = entry.last, last == " " || last == "\t" { entry = entry.dropLast() }
        return IPAddressBytes.parse(String(entry))
    }

    /// A handle that resumes or answers the stream from any thread or task.
    public var resumer: HTTPStreamResumer { HTTPStreamResumer(context: NIOLoopBound(self, eventLoop: eventLoop)) }
}

/// Resumes a stopped stream from another thread or an async task.
///
/// ```swift
/// func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
///     let resumer = context.resumer
///     Task {
///         let allowed = await checkWithRemoteService()
///         allowed ? resumer.continueDecoding() : resumer.sendLocalReply(HTTPLocalReply(status: .forbidden, details: "denied"))
///     }
///     return .stopIteration
/// }
/// ```
public struct HTTPStreamResumer: Sendable {
    let context: NIOLoopBound<HTTPFilterContext>

    /// Continues the request on its event loop.
    public func continueDecoding() {
        let context = self.context
        context.eventLoop.execute { context.value.continueDecoding() }
    }

    /// Continues the response on its event loop.
    public func continueEncoding() {
        let context = self.context
        context.eventLoop.execute { context.value.continueEncoding() }
    }

    /// Answers the request on its event loop.
    public func sendLocalReply(_ reply: HTTPLocalReply) {
        let context = self.context
        context.eventLoop.execute { context.value.sendLocalReply(reply) }
    }
}
