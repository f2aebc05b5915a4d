#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import MeshXDS
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import Synchronization

/// One HTTP connection manager (a listener filter chain) at one configuration version: the
/// compiled configuration plus access to the proxy's live routes and clusters. Connections keep
/// the runtime they were accepted with; routes and clusters are looked up per request, so RDS
/// and CDS updates reach existing connections' next requests, as in Envoy.
final class HTTPConnectionManagerRuntime: Sendable {
    let configuration: HTTPConnectionManagerConfiguration
    let stats: HTTPManagerStats
    let state: ProxyStateStore
    let inlineRoutes: RouteTable?
    let logger: Logger
    /// Envoy's connection buffer limit: request body kept for retries, response body held by filters.
    let bufferLimit: Int
    let statsStore: StatsStore
    /// Per filter name: its routes' parsed `typed_per_filter_config`, shared by every stream.
    let perRouteConfigs: [String: ParsedConfigCache<ParsedPerRouteConfig>]
    /// The access logs, nil when none is configured (streams then build no log entry).
    let accessLogs: [AccessLogConfiguration]?
    /// Istio's stats filter, nil when not configured.
    let istioStats: IstioStatsRuntime?
    /// Istio's peer metadata filter, nil when not configured.
    let peerMetadata: PeerMetadataConfiguration?
    /// Which side a traced manager's spans are on (Envoy's operation name: egress on an outbound
    /// listener, ingress otherwise); nil without `tracing`.
    let tracedTraffic: TracedTraffic?

    enum TracedTraffic { case ingress, egress }

    init(
        configuration: HTTPConnectionManagerConfiguration, state: ProxyStateStore, stats: StatsStore, bufferLimit: Int,
        trafficDirection: Envoy_Config_Core_V3_TrafficDirection = .unspecified, logger: Logger
    ) throws(ProxyConfigurationError) {
        self.configuration = configuration
        self.state = state
        self.stats = HTTPManagerStats(store: stats, prefix: configuration.statPrefix)
        self.statsStore = stats
        self.perRouteConfigs = Dictionary(configuration.filters.map { ($0.name, ParsedConfigCache<ParsedPerRouteConfig>()) }) { first, _ in first }
        if case .inline(let config) = configuration.routes {
            inlineRoutes = try RouteTable(config)
        } else {
            inlineRoutes = nil
        }
        self.bufferLimit = bufferLimit
        self.logger = logger
        self.accessLogs = configuration.accessLogs.isEmpty ? nil : configuration.accessLogs
        self.istioStats = configuration.istioStats.map { IstioStatsRuntime(configuration: $0, inbound: trafficDirection == .inbound, local: state.local, store: stats.istio) }
        self.peerMetadata = configuration.peerMetadata
        self.tracedTraffic = configuration.tracing ? (trafficDirection == .outbound ? .egress : .ingress) : nil
    }

    /// Peers' exchange headers and endpoints' `istio.workload` metadata, decoded once (keyed by
    /// the whole value: a node id alone could be replayed with other metadata); at most 1024 of
    /// each, then the cache starts over.
    private let peers = Mutex<[String: PeerIdentity]>([:])
    private let endpointPeers = Mutex<[String: PeerIdentity]>([:])

    /// The peer an `x-envoy-peer-metadata` value describes.
    func peer(fromExchangeHeader value: String) -> PeerIdentity? {
        Self.cachedPeer(in: peers, key: value) { PeerWorkload(exchangeHeaderValue: value) }
    }

    /// The peer an endpoint's `istio.workload` metadata names.
    func peer(endpointMetadata metadata: [String: Google_Protobuf_Struct]) -> PeerIdentity? {
        guard let value = PeerWorkload.endpointWorkloadValue(metadata) else { return nil }
        return Self.cachedPeer(in: endpointPeers, key: value) { PeerWorkload(endpointWorkload: value) }
    }

    private static func cachedPeer(in cache: borrowing Mutex<[String: PeerIdentity]>, key: String, decode: () -> PeerWorkload?) -> PeerIdentity? {
        if let known = cache.withLock({ $0[key] }) { return known }
        guard let workload = decode() else { return nil }
        let peer = PeerIdentity(workload)
        cache.withLock { entries in
            if entries.count >= 1024 { entries.removeAll() }
            entries[key] = peer
        }
        return peer
    }

    /// The route table for the next request.
    var routeTable: RouteTable? {
        if let inlineRoutes { return inlineRoutes }
        if case .rds(let name) = configuration.routes { return state.routeTable(named: name) }
        return nil
    }

    func cluster(named name: String) -> ClusterRuntime? { state.cluster(named: name) }

    /// `raw` parsed by `factory` once per distinct configuration (nil when it does not parse: the
    /// filter then runs with its listener-level configuration).
    func parsedPerRouteConfig(filterName: String, raw: Google_Protobuf_Any, factory: any HTTPFilterFactory) -> (any Sendable)? {
        guard let cache = perRouteConfigs[filterName] else { return try? factory.parsePerRouteConfig(raw) }
        return (try? cache.value(for: raw) { ParsedPerRouteConfig(value: try factory.parsePerRouteConfig($0)) })?.value
    }

    /// `http.<prefix>.<name>`, as Envoy's HTTP filters name their stats.
    func filterCounter(_ name: String) -> StatCounter {
        let prefix = configuration.statPrefix
        return statsStore.counter("http.\(prefix).\(name)", prometheus: .init(
            name: "envoy_http_" + String(name.map { $0 == "." ? "_" : $0 }),
            labels: [.init(name: "envoy_http_conn_manager_prefix", value: prefix)]))
    }

    /// Connection-manager mutations of the incoming request (Envoy's `mutateRequestHeaders`).
    func prepareRequest(_ head: inout HTTPRequestHead, connection: DownstreamConnectionInfo) {
        // Moved out of the head so that the mutations below do not copy the header storage.
        var headers = head.headers
        head.headers = HTTPHeaders()
        // The list is still shared with the parsed request, so the first change copies it: with
        // room for what this proxy adds (forwarding headers, request id, the router's headers),
        // it is not copied again to grow.
        headers.reserveCapacity(headers.count + 6)
        // Absolute-form targets (HTTP proxy clients: `GET http://host:port/path`): the URL's authority
        // becomes the host and the path is routed, as Envoy does.
        if !head.uri.hasPrefix("/"), head.method != .CONNECT, let (authority, path) = Self.splitAbsoluteURI(head.uri) {
            headers.replaceOrAdd(name: "host", value: authority)
            head.uri = path
        }
        if configuration.stripAnyHostPort, let host = headers.first(name: "host"), let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            headers.replaceOrAdd(name: "host", value: String(host[..<colon]))
        }
        let carriesEnvoyHeaders = headers.containsEnvoyHeaders
        // Only this proxy says a request is internal.
        if carriesEnvoyHeaders { headers.remove(name: "x-envoy-internal") }
        // The peer address that decides whether the request is internal: the connection's (with
        // `use_remote_address`, when no proxy before it set x-forwarded-for), else the single
        // address of x-forwarded-for; none means external.
        var trustedPeer: String?
        if configuration.useRemoteAddress {
            if !headers.contains(name: "x-forwarded-for") { trustedPeer = connection.remoteIP }
            if !configuration.skipXFFAppend, let ip = connection.remoteIP { headers.appendForwardedFor(ip) }
            headers.replaceOrAdd(name: "x-forwarded-proto", value: connection.scheme)
        } else {
            if let forwarded = headers.first(name: "x-forwarded-for"), !forwarded.contains(",") {
                trustedPeer = String(Substring(forwarded).trimmed(" \t"))
            }
            if !headers.contains(name: "x-forwarded-proto") { headers.add(name: "x-forwarded-proto", value: connection.scheme) }
        }
        applyForwardedClientCert(&headers, connection: connection)
        // Envoy's internal and external requests: an internal peer's request is marked and may
        // steer the router (``RouterRequestHeaders``); any other loses the headers that steer
        // Envoy, and an edge request (external, with `use_remote_address`) also loses the ones
        // only Envoy sets and gets its peer address and a request id of the proxy's own.
        let isInternal = !configuration.internalAddresses.isEmpty
            && trustedPeer.flatMap(IPAddressBytes.parse).map { address in configuration.internalAddresses.contains { $0.contains(address) } } == true
        let isEdge = configuration.useRemoteAddress && !isInternal
        if isInternal {
            headers.add(name: "x-envoy-internal", value: "true")
        } else if carriesEnvoyHeaders {
            headers.removeFields(named: Self.externalRemovedHeaders)
            if isEdge { headers.removeFields(named: Self.edgeRemovedHeaders) }
        }
        if isEdge, let ip = connection.remoteIP { headers.replaceOrAdd(name: "x-envoy-external-address", value: ip) }
        if configuration.generateRequestID {
            if isEdge && !configuration.preserveExternalRequestID {
                headers.replaceOrAdd(name: "x-request-id", value: Self.makeRequestID())
            } else if !headers.contains(name: "x-request-id") {
                headers.add(name: "x-request-id", value: Self.makeRequestID())
            }
        }
        if configuration.normalizePath || configuration.mergeSlashes {
            // Assigned only when changed: setting the head's URI copies its shared storage.
            let normalized = PathNormalizer.normalize(head.uri, mergeSlashes: configuration.mergeSlashes, normalize: configuration.normalizePath)
            if normalized != head.uri { head.uri = normalized }
        }
        head.headers = headers
    }

    /// Router mutations of the upstream request: hop-by-hop headers out, Envoy's headers in.
    func prepareUpstreamRequest(_ head: inout HTTPRequestHead, plan: ForwardPlan) {
        var headers = head.headers
        head.headers = HTTPHeaders()
        let upgrade = headers.first(name: "upgrade")?.lowercased()
        let allowedUpgrade = upgrade.map { configuration.upgradeTypes.contains($0) } ?? false
        let teTrailers = headers.first(name: "te").map { $0.lowercased().contains("trailers") } ?? false
        headers.removeFields(named: allowedUpgrade ? Self.hopByHopRequestHeaders : Self.hopByHopRequestHeadersAndUpgrade)
        if allowedUpgrade { headers.add(name: "connection", value: "upgrade") }
        if teTrailers { headers.add(name: "te", value: "trailers") }
        if let timeout = plan.timeout {
            let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
            headers.replaceOrAdd(name: "x-envoy-expected-rq-timeout-ms", value: String(milliseconds))
        }
        head.headers = headers
        if head.version != .http1_1 { head.version = .http1_1 }
    }

    /// Connection-manager and route mutations of an upstream response.
    func prepareResponse(_ head: inout HTTPResponseHead, plan: ForwardPlan?, upstreamStart: NIODeadline?, upstreamAddress: @autoclosure () -> String?) {
        var headers = head.headers
        head.headers = HTTPHeaders()
        // One copy of the shared list, with room for the headers added below.
        headers.reserveCapacity(headers.count + 4)
        headers.removeFields(named: Self.hopByHopResponseHeaders)
        if let upstreamStart {
            let elapsed = (NIODeadline.now() - upstreamStart).nanoseconds / 1_000_000
            headers.replaceOrAdd(name: "x-envoy-upstream-service-time", value: String(elapsed))
        }
        // As Envoy: an upstream's own date stays, a missing one is added.
        if !headers.contains(name: "date") { headers.add(name: "date", value: HTTPDate.now()) }
        applyServerHeader(&headers)
        plan?.transformResponse(&headers, upstreamAddress: upstreamAddress())
        head.headers = headers
        if head.version != .http1_1 { head.version = .http1_1 }
    }

    /// What Envoy's shadow requests carry beyond the upstream request's headers: the first
    /// attempt's count (where the virtual host asks for it), and the marks of a request the proxy
    /// makes itself (`x-envoy-internal`, its own address appended to `x-forwarded-for`).
    func prepareShadowRequest(_ head: inout HTTPRequestHead, plan: ForwardPlan) {
        if plan.includeAttemptCount { head.headers.replaceOrAdd(name: "x-envoy-attempt-count", value: "1") }
        head.headers.replaceOrAdd(name: "x-envoy-internal", value: "true")
        if let address = state.local.address { head.headers.appendForwardedFor(address) }
    }

    func prepareLocalReply(_ head: inout HTTPResponseHead, plan: ForwardPlan?, resolution: RouteResolution?, upstreamAddress: @autoclosure () -> String?) {
        var headers = head.headers
        headers.add(name: "date", value: HTTPDate.now())
        applyServerHeader(&headers)
        plan?.transformResponse(&headers, upstreamAddress: upstreamAddress())
        head.headers = headers
    }

    private func applyServerHeader(_ headers: inout HTTPHeaders) {
        switch configuration.serverHeaderTransformation {
        case .passThrough: break
        case .appendIfAbsent: if !headers.contains(name: "server") { headers.add(name: "server", value: configuration.serverName) }
        default: headers.replaceOrAdd(name: "server", value: configuration.serverName)
        }
    }

    /// Hop-by-hop headers the router removes from upstream requests (`te: trailers` is re-added).
    private static let hopByHopRequestHeaders = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"]
    private static let hopByHopRequestHeadersAndUpgrade = hopByHopRequestHeaders + ["upgrade"]
    /// Hop-by-hop headers removed from upstream responses.
    private static let hopByHopResponseHeaders = ["connection", "keep-alive", "proxy-connection", "transfer-encoding"]
    /// Headers that steer Envoy, removed from every request that is not internal (Envoy's
    /// `cleanInternalHeaders`).
    private static let externalRemovedHeaders = RouterRequestHeaders.all + [
        "x-envoy-retriable-header-names", "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-alt-response",
        "x-envoy-expected-rq-timeout-ms", "x-envoy-force-trace", "x-envoy-ip-tags", "x-envoy-original-url", "x-envoy-hedge-on-per-try-timeout",
    ]
    /// Headers only Envoy sets, also removed from edge requests.
    private static let edgeRemovedHeaders = [DecoratorHeader.name, "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node"]


    /// Whether finished requests are logged (``requestCompleted(_:)``): the record is built only then.
    var logsRequests: Bool { logger.logLevel <= .debug }

    func requestCompleted(_ record: RequestRecord) {
        if logger.logLevel <= .debug {
            let duration = (record.end - record.start).nanoseconds / 1_000_000
            logger.debug("\"\(record.method) \(record.path)\" \(record.status) \(record.flags) \(record.bytesReceived) \(record.bytesSent) \(duration) \"\(record.authority)\" \(record.upstreamHost ?? "-") \(record.cluster ?? "-") \(record.routeName ?? "-")")
        }
    }

    /// `http://host:port/path?q` → (`host:port`, `/path?q`); nil when not an absolute URI.
    static func splitAbsoluteURI(_ uri: String) -> (authority: String, path: String)? {
        guard let schemeEnd = uri.firstRange(of: "://") else { return nil }
        let rest = uri[schemeEnd.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty else { return nil }
        var path = String(rest[end...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        return (authority, path)
    }

    /// A random UUID-formatted request id (`xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx`), written into the
    /// string's storage directly.
    static func makeRequestID() -> String {
        let a = FastRandom.next()
        let b = FastRandom.next()
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var out = 0
            for i in 0..<32 {
                if i == 8 || i == 12 || i == 16 || i == 20 {
                    buffer[out] = UInt8(ascii: "-")
                    out += 1
                }
                let nibble: UInt64 = i < 16 ? (a >> (60 - 4 * UInt64(i))) & 0xF : (b >> (60 - 4 * UInt64(i - 16))) & 0xF
                buffer[out] = i == 12 ? UInt8(ascii: "4") : digits.utf8Start[Int(nibble)]
                out += 1
            }
            return out
        }
    }
}

/// Per-connection-manager stats with Envoy's names (`http.<prefix>.downstream_rq_total`, ...).
final class HTTPManagerStats: Sendable {
    let requestsTotal: StatCounter
    let requestsActive: StatGauge
    let responses: [StatCounter]  // 1xx...5xx

    init(store: StatsStore, prefix: String) {
        func name(_ stat: String) -> String { "http.\(prefix).\(stat)" }
        let label = StatsStore.PrometheusName.Label(name: "envoy_http_conn_manager_prefix", value: prefix)
        requestsTotal = store.counter(name("downstream_rq_total"), prometheus: .init(name: "envoy_http_downstream_rq_total", labels: [label]))
        requestsActive = store.gauge(name("downstream_rq_active"), prometheus: .init(name: "envoy_http_downstream_rq_active", labels: [label]))
        responses = (1...5).map { klass in
            store.counter(name("downstream_rq_\(klass)xx"), prometheus: .init(name: "envoy_http_downstream_rq_xx", labels: [label, .init(name: "envoy_response_code_class", value: String(klass))]))
        }
    }

    func downstreamRequestStarted() {
        requestsTotal.increment()
        requestsActive.add(1)
    }

    /// A `100 Continue` went downstream (Envoy counts it in `downstream_rq_1xx`).
    func informationalResponseSent() { responses[0].increment() }

    func downstreamRequestCompleted(status: Int) {
        requestsActive.subtract(1)
        let klass = status / 100
        if (1...5).contains(klass) { responses[klass - 1].increment() }
    }
}

/// RFC 7231 dates for `date` headers, formatted once per second (Envoy's date provider
/// refreshes its cached value twice a second).
enum HTTPDate {
    private static let cache = Mutex<(second: Int, value: String)>((-1, ""))

    /// The current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func now() -> String {
        var time = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_REALTIME_COARSE, &time)  // Second resolution is all a date needs.
        #else
        clock_gettime(CLOCK_REALTIME, &time)
        #endif
        let second = Int(time.tv_sec)
        if let value = cache.withLock({ $0.second == second ? $0.value : nil }) { return value }
        let value = format(second)
        // A thread that read an older second does not move the cache back.
        cache.withLock { if second > $0.second { $0 = (second, value) } }
        return value
    }

    static func format(_ second: Int) -> String {
        var seconds = time_t(second)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

/// RFC 3986 path normalisation (dot segments) and slash merging, query untouched.
enum PathNormalizer {
    static func normalize(_ uri: String, mergeSlashes: Bool, normalize: Bool) -> String {
        guard uri.hasPrefix("/") else { return uri }
        // The common case, nothing to change, found in one pass over the bytes of the path.
        var previousIsSlash = false
        var changes = false
        for byte in uri.utf8 {
            if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
            if previousIsSlash, byte == UInt8(ascii: ".") || (mergeSlashes && byte == UInt8(ascii: "/")) {
                changes = true
                break
            }
            previousIsSlash = byte == UInt8(ascii: "/")
        }
        if !changes { return uri }
        let queryStart = uri.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? uri.endIndex
        let path = uri[..<queryStart]
        if !path.contains("/.") && !(mergeSlashes && path.contains("//")) { return uri }
        var segments: [Substring] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, part) in parts.enumerated() {
            if normalize && part == "." { if index == parts.count - 1 { segments.append("") }; continue }
            if normalize && part == ".." {
                if !segments.isEmpty { segments.removeLast() }
                if index == parts.count - 1 { segments.append("") }
                continue
            }
            if mergeSlashes && part.isEmpty && index != parts.count - 1 { continue }
            segments.append(part)
        }
        return "/" + segments.joined(separator: "/") + uri[queryStart...]
    }
}

extension HTTPHeaders {
    /// Appends an address to `x-forwarded-for` (comma-separated, as Envoy appends), or adds the header.
    mutating func appendForwardedFor(_ address: String) {
        if let existing = first(name: "x-forwarded-for") {
            replaceOrAdd(name: "x-forwarded-for", value: "\(existing),\(address)")
        } else {
            add(name: "x-forwarded-for", value: address)
        }
    }

    /// Whether any field is named `x-envoy-...`: one allocation-free pass, so that the usual
    /// request, which has none, skips the work on Envoy's headers.
    var containsEnvoyHeaders: Bool {
        contains { $0.name.utf8.count > 8 && ASCII.equals($0.name.prefix(8), "x-envoy-", ignoringCase: true) }
    }

    /// Removes every field named one of `names` (lower-case). One pass finds which are present,
    /// comparing only names of equal length, so the usual case (none of them) costs no removal.
    mutating func removeFields(named names: [String]) {
        var present: [String] = []
        for (name, _) in self {
            let length = name.utf8.count
            for candidate in names where candidate.utf8.count == length && !present.contains(candidate)
                && ASCII.equals(name[...], candidate, ignoringCase: true) {
                present.append(candidate)
            }
        }
        for name in present { remove(name: name) }
    }
}
