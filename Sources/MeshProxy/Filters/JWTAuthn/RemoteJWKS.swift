internal import MeshXDS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Why a `remote_jwks` fetch failed. Every failure makes the waiting tokens fail with
/// "Jwks remote fetch is failed", as in Envoy.
enum RemoteJWKSFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// `http_uri.cluster` is not a configured cluster.
    case unknownCluster(String)
    /// The cluster had no host to send to, or its circuit breaker was open.
    case noHost
    /// Connecting or the connection failed before the response ended.
    case network(String)
    /// `http_uri.timeout` elapsed.
    case timeout
    /// The response was not `200`.
    case status(Int)
    /// A `200` with an empty body.
    case emptyBody
    /// The body is not a JWKS with at least one usable key.
    case invalidJWKS

    var description: String {
        switch self {
        case .unknownCluster(let name): "cluster \"\(name)\" is not configured"
        case .noHost: "no healthy upstream"
        case .network(let reason): "network error: \(reason)"
        case .timeout: "timeout"
        case .status(let code): "response status code \(code)"
        case .emptyBody: "body is empty"
        case .invalidJWKS: "invalid jwks"
        }
    }
}

/// A provider's `remote_jwks`, shared by every stream of one filter configuration: the keys
/// fetched from `http_uri.uri` through the cluster `http_uri.cluster` (with its endpoints, DNS
/// resolution, load balancing and TLS transport socket), cached for `cache_duration` (default
/// 10 minutes).
///
/// As in Envoy, a request that needs keys that are missing or expired waits for a fetch; a fetch
/// that fails is not cached, so the next request fetches again. Unlike Envoy (which fetches per
/// waiting request), concurrent requests share the one fetch in flight. With `async_fetch`, keys
/// are fetched as soon as the configuration is in use and refreshed 5 s before `cache_duration`
/// elapses (after `failed_refetch_duration`, default 1 s, when a fetch fails); such keys do not
/// expire on their own.
final class RemoteJWKSSource: Sendable {
    /// The validated `RemoteJwks`.
    struct Settings: Sendable {
        var uri: String
        var cluster: String
        /// The `host` header: the URI's authority as written.
        var authority: String
        /// The URI's path with its query, `/` when empty.
        var path: String
        /// `http_uri.timeout`; nil when zero (no limit).
        var timeout: Duration?
        var cacheDuration: Duration
        /// `async_fetch`, when set.
        var asyncFetch: (fastListener: Bool, failedRefetch: Duration)?
        /// `retry_policy`: retries on connect failure, reset and 5xx, with Envoy's jittered
        /// exponential backoff.
        var retry: (numRetries: Int, baseInterval: Duration, maxInterval: Duration)?

        static let defaultCacheDuration = Duration.seconds(600)
        static let refetchBeforeExpiry = Duration.seconds(5)
        static let defaultFailedRefetch = Duration.seconds(1)

        init(_ proto: Envoy_Extensions_Filters_Http_JwtAuthn_V3_RemoteJwks, field: String) throws(FilterConfigurationError) {
            let httpURI = proto.httpUri
            guard proto.hasHTTPUri, !httpURI.uri.isEmpty else { throw FilterConfigurationError(field: field + ".http_uri.uri", "must not be empty") }
            guard case .cluster(let cluster)? = httpURI.httpUpstreamType, !cluster.isEmpty else {
                throw FilterConfigurationError(field: field + ".http_uri.cluster", "must name the cluster the keys are fetched through")
            }
            guard httpURI.hasTimeout else { throw FilterConfigurationError(field: field + ".http_uri.timeout", "is required") }
            guard httpURI.timeout.seconds >= 0, httpURI.timeout.nanos >= 0 else { throw FilterConfigurationError(field: field + ".http_uri.timeout", "must not be negative") }
            guard let (authority, path) = Self.split(httpURI.uri) else {
                throw FilterConfigurationError(field: field + ".http_uri.uri", "\"\(httpURI.uri)\" is not an absolute http(s) URI")
            }
            uri = httpURI.uri
            self.cluster = cluster
            self.authority = authority
            self.path = path
            timeout = httpURI.timeout.durationOrNil
            if proto.hasCacheDuration {
                guard proto.cacheDuration.seconds >= 0, proto.cacheDuration.nanos >= 0 else { throw FilterConfigurationError(field: field + ".cache_duration", "must not be negative") }
                cacheDuration = proto.cacheDuration.swiftDuration
            } else {
                cacheDuration = Self.defaultCacheDuration
            }
            if proto.hasAsyncFetch {
                let fetch = proto.asyncFetch
                asyncFetch = (fetch.fastListener, fetch.hasFailedRefetchDuration ? fetch.failedRefetchDuration.swiftDuration : Self.defaultFailedRefetch)
            } else {
                asyncFetch = nil
            }
            if proto.hasRetryPolicy {
                let policy = proto.retryPolicy
                var base = Duration.milliseconds(25)
                var maximum: Duration?
                if policy.hasRetryBackOff {
                    let backOff = policy.retryBackOff
                    guard backOff.hasBaseInterval, backOff.baseInterval.swiftDuration >= .milliseconds(1) else {
                        throw FilterConfigurationError(field: field + ".retry_policy.retry_back_off.base_interval", "is required and must be at least 1ms")
                    }
                    base = backOff.baseInterval.swiftDuration
                    if backOff.hasMaxInterval {
                        maximum = backOff.maxInterval.swiftDuration
                        guard let maximum, maximum >= base else {
                            throw FilterConfigurationError(field: field + ".retry_policy.retry_back_off.max_interval", "must not be less than base_interval")
                        }
                    }
                }
                if !policy.retryHostPredicate.isEmpty || policy.hasRetryPriority {
                    throw FilterConfigurationError.unsupported(field: field + ".retry_policy", "retry_host_predicate and retry_priority are not supported by the Swift proxy")
                }
                retry = (policy.hasNumRetries ? Int(policy.numRetries.value) : 1, base, maximum ?? base * 10)
            } else {
                retry = nil
            }
        }

        /// `scheme://authority/path` → (authority, path), as Envoy splits an `HttpUri`.
        static func split(_ uri: String) -> (authority: String, path: String)? {
            guard let schemeEnd = uri.range(of: "://") else { return nil }
            let scheme = uri[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else { return nil }
            let rest = uri[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            guard !authority.isEmpty else { return nil }
            var path = String(rest[authority.endIndex...])
            if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
            if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
            return (String(authority), path)
        }
    }

    /// Finds a cluster by name (the proxy's current clusters).
    typealias ClusterLookup = @Sendable (String) -> ClusterRuntime?
    /// Receives the outcome of a fetch.
    typealias Completion = @Sendable (Result<JWTKeySet, RemoteJWKSFailure>) -> Void

    private struct State {
        var keys: JWTKeySet?
        var expiry: NIODeadline = .uptimeNanoseconds(0)
        var waiters: [Completion] = []
        var fetching = false
        var counters: (success: StatCounter, failed: StatCounter)?
        var fetchesStarted = 0
        var asyncStarted = false
        var asyncFirstFetchDone = false
        var asyncFirstFetchWaiters: [@Sendable () -> Void] = []
        var refetch: Scheduled<Void>?
    }

    let settings: Settings
    private let state = NIOLockedValueBox(State())

    init(settings: Settings) { self.settings = settings }

    deinit {
        state.withLockedValue { $0.refetch?.cancel() }
    }

    /// The cached keys, unless they expired at `now`.
    func currentKeys(now: NIODeadline = .now()) -> JWTKeySet? {
        state.withLockedValue { state in
            guard let keys = state.keys, now < state.expiry else { return nil }
            return keys
        }
    }

    /// How many fetches have started (stats and tests).
    var fetchCount: Int { state.withLockedValue { $0.fetchesStarted } }

    /// Fetches the keys (joining the fetch in flight, if any) and calls `completion` with them on
    /// `eventLoop`'s thread or the thread of the fetch in flight. Fetched keys are cached for
    /// `cache_duration`; a failure is not cached.
    ///
    /// `counters` (`jwks_fetch_success`, `jwks_fetch_failed`) count the fetch if this call starts it.
    func fetch(clusters: @escaping ClusterLookup, on eventLoop: any EventLoop, counters: (success: StatCounter, failed: StatCounter)? = nil,
               completion: @escaping Completion) {
        let start: Bool = state.withLockedValue { state in
            state.waiters.append(completion)
            guard !state.fetching else { return false }
            state.fetching = true
            state.fetchesStarted += 1
            state.counters = counters
            return true
        }
        guard start else { return }
        let settings = self.settings
        eventLoop.execute {
            JWKSFetch.start(settings: settings, cluster: clusters(settings.cluster), eventLoop: eventLoop) { result in
                self.finish(result, asynchronous: false)
            }
        }
    }

    private func finish(_ result: Result<JWTKeySet, RemoteJWKSFailure>, asynchronous: Bool) {
        let waiters: [Completion] = state.withLockedValue { state in
            if case .success(let keys) = result {
                state.keys = keys
                // Keys an asynchronous fetch installs stay until the next one replaces them.
                state.expiry = asynchronous ? .distantFuture : .now() + settings.cacheDuration.timeAmount
            }
            state.fetching = false
            if let counters = state.counters {
                if case .success = result { counters.success.increment() } else { counters.failed.increment() }
            }
            state.counters = nil
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter(result) }
    }

    // MARK: async_fetch

    /// With `async_fetch`: fetches now (once per source) and keeps refreshing in the background
    /// while this source is alive. Without it, does nothing.
    func startAsyncFetch(clusters: @escaping ClusterLookup, on eventLoop: any EventLoop) {
        guard settings.asyncFetch != nil else { return }
        let first = state.withLockedValue { state in
            defer { state.asyncStarted = true }
            return !state.asyncStarted
        }
        guard first else { return }
        asyncFetch(clusters: clusters, on: eventLoop)
    }

    /// Calls `body` once the first `async_fetch` finished (successfully or not), at once when it
    /// already has or when the source does not fetch asynchronously — Envoy's listener warming
    /// waits for this unless `fast_listener` is set.
    func whenAsyncFetchSettled(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = state.withLockedValue { state in
            guard settings.asyncFetch != nil, !state.asyncFirstFetchDone else { return true }
            state.asyncFirstFetchWaiters.append(body)
            return false
        }
        if now { body() }
    }

    /// Whether a listener using this source waits for its first fetch before serving.
    var holdsListenerWarming: Bool { settings.asyncFetch.map { !$0.fastListener } ?? false }

    private func asyncFetch(clusters: @escaping ClusterLookup, on eventLoop: any EventLoop) {
        state.withLockedValue { $0.fetchesStarted += 1 }
        let settings = self.settings
        eventLoop.execute { [weak self] in
            guard self != nil else { return }
            JWKSFetch.start(settings: settings, cluster: clusters(settings.cluster), eventLoop: eventLoop) { [weak self] result in
                guard let self, let asyncFetch = settings.asyncFetch else { return }
                var delay = asyncFetch.failedRefetch
                if case .success = result {
                    delay = settings.cacheDuration > Settings.refetchBeforeExpiry ? settings.cacheDuration - Settings.refetchBeforeExpiry : settings.cacheDuration
                    self.installAsync(result)
                }
                let settled: [@Sendable () -> Void] = self.state.withLockedValue { state in
                    state.refetch = eventLoop.scheduleTask(in: delay.timeAmount) { [weak self] in
                        self?.asyncFetch(clusters: clusters, on: eventLoop)
                    }
                    guard !state.asyncFirstFetchDone else { return [] }
                    state.asyncFirstFetchDone = true
                    defer { state.asyncFirstFetchWaiters = [] }
                    return state.asyncFirstFetchWaiters
                }
                for body in settled { body() }
            }
        }
    }

    private func installAsync(_ result: Result<JWTKeySet, RemoteJWKSFailure>) {
        guard case .success(let keys) = result else { return }
        state.withLockedValue { state in
            state.keys = keys
            state.expiry = .distantFuture
        }
    }
}

/// One JWKS request (with its retries) through a cluster: `GET path` with `host: authority`, the
/// response buffered, then parsed. Lives on one event loop until it completes.
final class JWKSFetch: UpstreamResponseReceiver {
    private let settings: RemoteJWKSSource.Settings
    private let cluster: ClusterRuntime
    private let eventLoop: any EventLoop
    private let pool: any UpstreamPool
    private var completion: ((Result<JWTKeySet, RemoteJWKSFailure>) -> Void)?
    private var connection: UpstreamChannel?
    private var host: UpstreamHostHandle?
    private var status: Int?
    private var body: ByteBuffer?
    private var retriesLeft: Int
    private var attempt = 0
    private var timer: Scheduled<Void>?
    private var backoffTimer: Scheduled<Void>?
    /// The fetch keeps itself alive until it completes (connections hold their receiver weakly).
    private var keepAlive: JWKSFetch?

    private init(settings: RemoteJWKSSource.Settings, cluster: ClusterRuntime, eventLoop: any EventLoop, completion: @escaping (Result<JWTKeySet, RemoteJWKSFailure>) -> Void) {
        self.settings = settings
        self.cluster = cluster
        self.eventLoop = eventLoop
        self.pool = cluster.pool(on: eventLoop)
        self.completion = completion
        self.retriesLeft = settings.retry?.numRetries ?? 0
    }

    /// Starts a fetch; `completion` runs once, on `eventLoop`. Call on `eventLoop`.
    static func start(settings: RemoteJWKSSource.Settings, cluster: ClusterRuntime?, eventLoop: any EventLoop, completion: @escaping (Result<JWTKeySet, RemoteJWKSFailure>) -> Void) {
        eventLoop.preconditionInEventLoop()
        guard let cluster else {
            completion(.failure(.unknownCluster(settings.cluster)))
            return
        }
        let fetch = JWKSFetch(settings: settings, cluster: cluster, eventLoop: eventLoop, completion: completion)
        fetch.keepAlive = fetch
        if let timeout = settings.timeout {
            fetch.timer = eventLoop.assumeIsolated().scheduleTask(in: timeout.timeAmount) { [weak fetch] in fetch?.timedOut() }
        }
        fetch.startAttempt()
    }

    private func startAttempt() {
        guard completion != nil else { return }
        attempt += 1
        status = nil
        body = nil
        guard let host = cluster.beginOwnRequest(authority: settings.authority) else {
            complete(.failure(.noHost))
            return
        }
        self.host = host
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: settings.path)
        head.headers.add(name: "host", value: settings.authority)
        let attemptNumber = attempt
        let pool = self.pool
        pool.acquire(host.key) { [weak self] result in
            guard let self, self.completion != nil, self.attempt == attemptNumber else {
                if case .success(let connection) = result { pool.discard(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.connection = connection
                connection.send(head, receiver: self)
                connection.sendEnd()
            case .failure(let failure):
                self.cluster.recordFailure(host: host, failure)
                self.attemptFailed(.network(failure.description))
            }
        }
    }

    var upstreamMayRead: Bool { true }

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        let code = Int(head.status.code)
        status = code
        if let host { cluster.recordResponse(host: host, status: code) }
        cluster.stats.responseReceived(status: code)
    }

    func upstreamResponseBody(_ part: ByteBuffer) {
        var part = part
        if body == nil { body = part } else { body!.writeBuffer(&part) }
    }

    func upstreamReadComplete() {}

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        if let connection { pool.release(connection) }
        connection = nil
        endAttempt()
        let code = status ?? 0
        if code >= 500, retry() { return }
        guard code == 200 else {
            complete(.failure(.status(code)))
            return
        }
        guard let body, body.readableBytes > 0 else {
            complete(.failure(.emptyBody))
            return
        }
        if let keys = JWTKeySet(jwks: String(buffer: body)) {
            complete(.success(keys))
        } else {
            complete(.failure(.invalidJWKS))
        }
    }

    func upstreamReset(_ error: any Error) {
        connection = nil
        attemptFailed(.network("\(error)"))
    }

    private func attemptFailed(_ failure: RemoteJWKSFailure) {
        endAttempt()
        if retry() { return }
        complete(.failure(failure))
    }

    private func endAttempt() {
        host?.endRequest()
        host = nil
        cluster.releaseRequest()
    }

    /// Schedules the next attempt when the retry policy allows one.
    private func retry() -> Bool {
        guard let policy = settings.retry, retriesLeft > 0, completion != nil else { return false }
        retriesLeft -= 1
        cluster.stats.retried()
        let delay = RetryPolicy.jitteredBackoff(
            attempt: attempt - 1, base: policy.baseInterval, max: max(policy.maxInterval, policy.baseInterval), random: FastRandom.next())
        backoffTimer = eventLoop.assumeIsolated().scheduleTask(in: delay.timeAmount) { [weak self] in
            self?.backoffTimer = nil
            self?.startAttempt()
        }
        return true
    }

    private func timedOut() {
        guard completion != nil else { return }
        cluster.stats.timeout()
        if let connection { pool.discard(connection) }
        connection = nil
        if host != nil { endAttempt() }
        complete(.failure(.timeout))
    }

    private func complete(_ result: Result<JWTKeySet, RemoteJWKSFailure>) {
        timer?.cancel()
        timer = nil
        backoffTimer?.cancel()
        backoffTimer = nil
        guard let completion else { return }
        self.completion = nil
        keepAlive = nil
        completion(result)
    }
}
