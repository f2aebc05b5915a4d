import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// Where a stream writes its response: an HTTP/1.1 connection or an HTTP/2 stream.
protocol DownstreamResponder: AnyObject {
    /// Sends a 1xx head (`100 Continue`) at once; the final head follows later.
    func writeInformationalHead(_ head: HTTPResponseHead)
    func writeResponseHead(_ head: HTTPResponseHead)
    func writeResponseBody(_ body: ByteBuffer)
    func writeResponseEnd(_ trailers: HTTPHeaders?)
    /// Sends what was written so far.
    func flushResponse()
    /// False while the downstream cannot take more bytes.
    var isDownstreamWritable: Bool { get }
    /// Ends the stream abruptly (closes an HTTP/1.1 connection, resets an HTTP/2 stream).
    func resetDownstream()
    /// The stream is done; the responder may take the next request.
    func streamFinished(_ stream: HTTPStream)
    /// Whether the connection can become a byte pipe after a `101` (HTTP/1.1, not an HTTP/2 stream).
    var supportsUpgrade: Bool { get }
    /// Closes the connection once the current response is written (an upgrade request that was
    /// not upgraded: the HTTP/1.1 decoder does not parse past it).
    func closeAfterResponse()
    /// Turns the connection into a tunnel to `upstream` after the `101` head was written; nil
    /// when it cannot.
    func upgrade(to upstream: any Channel, observer: any UpgradeTunnel.Observer) -> UpgradeTunnel?
    /// The connection's stream idle sweeper (one timer for all its streams), if it has one.
    var streamIdleSweeper: StreamIdleSweeper? { get }
    /// Stops (`false`) or resumes (`true`) taking the request body from the downstream, because the
    /// upstream cannot take more (Envoy's buffer watermarks): an HTTP/1.1 connection stops reading,
    /// an HTTP/2 stream stops reopening its flow-control window.
    func setRequestBodyFlowing(_ flowing: Bool)
}

/// Stands in for an ``HTTPStream`` in closures that can outlive it (its timers, a pool's pending
/// connection): it holds the stream until the stream completes, then nothing, so those closures
/// neither keep a finished stream nor act on it. A weak reference would do the same but give the
/// stream a side table, which puts every retain and release of it (hundreds per request) on the
/// runtime's slow path.
final class StreamLink {
    fileprivate(set) var stream: HTTPStream?

    init(_ stream: HTTPStream?) { self.stream = stream }
}

/// One request and its response through the HTTP connection manager: decoder filters, the
/// router (route, cluster, host, connection, retries, timeouts), encoder filters. Runs on the
/// downstream connection's event loop; every method must be called there.
final class HTTPStream: UpstreamResponseReceiver {
    let eventLoop: any EventLoop
    let connection: DownstreamConnectionInfo
    let manager: HTTPConnectionManagerRuntime
    /// Where the response goes. Held strongly (the responder drops the stream when it finishes):
    /// a weak reference would give the responder a side table, which puts every retain and
    /// release of it on the runtime's slow path.
    var responder: (any DownstreamResponder)?
    let startTime: NIODeadline

    // Request side.
    private var requestHead: HTTPRequestHead?
    private var requestComplete = false
    private var pendingBody: [ByteBuffer] = []
    private var pendingTrailers: HTTPHeaders?
    private var retainedBody: [ByteBuffer] = []
    private var retainedBytes = 0
    private var bodyTooLargeToRetry = false
    private var filters: [(filter: any HTTPFilter, context: HTTPFilterContext)] = []
    private var decodeIndex = 0
    private var decodingStopped = false
    private var bufferingFilterIndex: Int?
    private var bufferedBody: ByteBuffer?
    private(set) var resolution: RouteResolution?
    var responseFlags: ResponseFlags = []
    /// Dynamic metadata filters share (``HTTPFilterContext/setDynamicMetadata(namespace:_:)``).
    var dynamicMetadata: [String: Google_Protobuf_Struct] = [:]

    // Router state.
    private var plan: ForwardPlan?
    private var upstreamHead: HTTPRequestHead?
    private var cluster: ClusterRuntime?
    private var attempt = 0
    /// The hosts of the attempts before the current one (the retries' exclusions); kept apart
    /// from the last one so that a request served at the first attempt allocates no list.
    private var earlierAttemptedHosts: [UpstreamHost] = []
    /// The host of the latest attempt.
    private var lastAttemptedHost: UpstreamHost?
    /// Where the attempts a `previous_priorities` retry priority counts begin (it starts over
    /// once every priority was tried).
    private var priorityAttemptsStart = 0
    private var upstream: UpstreamChannel?
    private var upstreamHost: UpstreamHostHandle?
    private var upstreamPool: (any UpstreamPool)?
    private var upstreamStart: NIODeadline?
    private var upstreamRequestEnded = false
    private var holdsRequestSlot = false
    private var holdsRetrySlot = false
    private var globalTimer: Scheduled<Void>?
    private var perTryTimer: Scheduled<Void>?
    private var backoffTimer: Scheduled<Void>?
    private var awaitingConnection = false
    /// The downstream was asked to stop sending the request body (``setRequestBodyFlowing(_:)``).
    private var requestBodyPaused = false

    // Response side.
    private var responseStarted = false
    private var responseStatus: Int?
    private(set) var finished = false
    private var responseEndWritten = false
    private var bytesSent = 0
    private var bytesReceived = 0
    /// Why the response is what it is (a local reply's details), for access logs.
    private var responseCodeDetails: String?
    /// Kept only when the connection manager has access logs (``logAccess(_:status:)``).
    private var loggedResponse: HTTPResponseHead?
    private var loggedTrailers: HTTPHeaders?
    private var loggedUpstreamAddresses: (local: SocketAddress?, remote: SocketAddress?)?
    /// Istio telemetry: what the stats filter reports, nil when neither Istio filter is configured.
    private var istioReport: IstioReport?
    /// A gRPC request's messages each way, counted for Istio's metrics.
    private var grpcMessages: (request: GRPCMessageCounter, response: GRPCMessageCounter)?
    /// The request carried Istio's exchange headers (the response then carries this proxy's).
    private var requestCarriedPeerMetadata = false
    /// Bytes of the response headers sent (`istio_response_bytes` counts headers and body).
    private var responseHeaderBytes = 0

    // Stream timeouts (HCM stream_idle_timeout, request_timeout, max_stream_duration) and upgrades.
    private var streamIdleTimeout: Duration?
    /// The connection's sweeper, which checks ``streamIdleExpiry`` (nil while unwatched).
    private var idleSweeper: StreamIdleSweeper?
    /// When the stream idle timeout expires, moved forward by every activity.
    private(set) var streamIdleExpiry: NIODeadline?
    private var requestTimer: Scheduled<Void>?
    private var durationTimer: Scheduled<Void>?
    /// What timers and a pool's pending connection hold instead of the stream (``StreamLink``).
    private var linkStorage: StreamLink?
    /// The upgrade (`websocket`) the request asks for, when it is allowed.
    private var upgradeType: String?
    /// Whether the request is an HTTP/1.1 upgrade request (`connection: upgrade` and `upgrade`).
    private var isUpgradeRequest = false
    /// A `100 Continue` from the upstream went downstream (once, whatever the retries).
    private var sentUpstreamContinue = false
    private var tunnel: UpgradeTunnel?
    /// The upstream answered `101`: the tunnel opens when that response ends.
    private var switchingProtocols = false
    /// The request head says no body follows (no `content-length` above 0, no `transfer-encoding`):
    /// Envoy's HTTP/1.1 codec ends such a request with its headers.
    private var headEndsRequest = false
    /// Whether the whole request has arrived, as Envoy's timers and connection reuse see it.
    private var requestEnded: Bool { requestComplete || headEndsRequest }

    init(eventLoop: any EventLoop, connection: DownstreamConnectionInfo, manager: HTTPConnectionManagerRuntime, responder: any DownstreamResponder) {
        self.eventLoop = eventLoop
        self.connection = connection
        self.manager = manager
        self.responder = responder
        self.startTime = .now()
    }

    // MARK: Downstream input

    func receiveHead(_ head: HTTPRequestHead, endOfStream: Bool) {
        manager.stats.downstreamRequestStarted()
        var head = head
        isUpgradeRequest = Self.isUpgrade(head.headers)
        manager.prepareRequest(&head, connection: connection)
        if !manager.configuration.proxy100Continue, Self.expectsContinue(head.headers) {
            // Envoy answers `Expect: 100-continue` itself, before any filter runs, and removes
            // the header so that the upstream does not answer it again.
            head.headers.remove(name: "expect")
            manager.stats.informationalResponseSent()
            responder?.writeInformationalHead(HTTPResponseHead(version: head.version, status: .continue))
        }
        if manager.istioStats != nil || manager.peerMetadata != nil { exchangePeerMetadata(request: &head) }
        requestHead = head
        requestComplete = endOfStream
        headEndsRequest = !head.headers.contains(name: "transfer-encoding")
            && (head.headers.first(name: "content-length").map { $0 == "0" } ?? true)
        startStreamTimers()
        routeRandom = FastRandom.next()
        resolution = manager.resolveRoute(head, connection: connection, randomValue: routeRandom)
        var forward: ForwardPlan?
        if case .forward(let plan)? = resolution?.decision { forward = plan }
        if let forward { applyRouteTimeouts(forward) }
        if isUpgradeRequest, let type = head.headers.first(name: "upgrade").map(ASCII.lowercased) {
            switch upgradeAllowed(type, routeUpgrades: forward?.upgrades ?? []) {
            case nil:
                // An h2c upgrade is not an upgrade to proxy: the request goes on as HTTP/1.1.
                responder?.closeAfterResponse()
                isUpgradeRequest = false
            case false?:
                responder?.closeAfterResponse()
                sendLocalReply(HTTPLocalReply(status: .forbidden, details: "upgrade_failed"))
                return
            case true?:
                if forward != nil { upgradeType = type } else { responder?.closeAfterResponse() }
            }
        }
        finishReceiveHead()
    }

    /// A request the downstream codec refuses (as Envoy's codecs do, with a protocol error):
    /// answered with `reply` before any routing or filter, flagged `DPE`, and the connection
    /// closes after it (`downstream_cx_protocol_error`).
    func receiveRefusedHead(_ head: HTTPRequestHead, endOfStream: Bool, reply: HTTPLocalReply) {
        manager.stats.downstreamRequestStarted()
        requestHead = head
        requestComplete = endOfStream
        manager.filterCounter("downstream_cx_protocol_error").increment()
        responder?.closeAfterResponse()
        var reply = reply
        reply.flags.formUnion(.downstreamProtocolError)
        sendLocalReply(reply)
    }

    private func finishReceiveHead() {
        // A filter the route does not need (see HTTPFilterFactory.isNeeded) would do nothing:
        // the stream goes without it. The route changes only when a filter clears the route
        // cache, and then the filters after that one are looked at again (clearRouteCache).
        let perFilterConfig = resolution?.perFilterConfig ?? [:]
        for index in manager.configuration.filters.indices {
            if let made = makeFilterIfNeeded(at: index, perFilterConfig: perFilterConfig) { filters.append(made) }
        }
        decodeIndex = 0
        runDecodeHeaders()
    }

    /// The filter at `index` of the connection manager's chain, with its context, unless the
    /// route's per-filter configuration leaves it not needed (``HTTPFilterFactory/isNeeded(hasPerRouteConfig:)``).
    private func makeFilterIfNeeded(at index: Int, perFilterConfig: [String: Google_Protobuf_Any]) -> (filter: any HTTPFilter, context: HTTPFilterContext)? {
        let entry = manager.configuration.filters[index]
        guard entry.factory.isNeeded(hasPerRouteConfig: !perFilterConfig.isEmpty && perFilterConfig[entry.name] != nil) else { return nil }
        return (entry.factory.makeFilter(), HTTPFilterContext(stream: self, filterName: entry.name, factory: entry.factory, chainIndex: index))
    }

    /// Envoy's `clearRouteCache()` from the decoder filter `context`: the request is routed again
    /// before the next filter or the router runs (so with the head as `context` leaves it).
    func clearRouteCache(after context: HTTPFilterContext) {
        guard !finished, !finishedDecodingHeaders else { return }
        routeCacheClearedBy = context
    }

    /// Routes the request again with the stream's dynamic metadata: the new route's timeouts
    /// apply, and the filters after the one that cleared the route cache that the new route
    /// needs and the stream went without are made (those it no longer needs stay; they find no
    /// configuration and pass).
    private func refreshRoute() {
        guard let context = routeCacheClearedBy else { return }
        routeCacheClearedBy = nil
        guard let head = requestHead else { return }
        resolution = manager.resolveRoute(head, connection: connection, randomValue: routeRandom, dynamicMetadata: dynamicMetadata)
        if case .forward(let plan)? = resolution?.decision { applyRouteTimeouts(plan, refreshing: true) }
        for (_, filterContext) in filters { filterContext.routeChanged() }
        // Filters after the clearing one that have not run yet (decodeIndex is past any that
        // ran or stopped) are looked at again.
        guard let position = filters.firstIndex(where: { $0.context === context }) else { return }
        let last = max(position, decodeIndex - 1)
        let perFilterConfig = resolution?.perFilterConfig ?? [:]
        var later: [(filter: any HTTPFilter, context: HTTPFilterContext)] = []
        var kept = filters[(last + 1)...].makeIterator()
        var nextKept = kept.next()
        for index in (filters[last].context.chainIndex + 1)..<manager.configuration.filters.count {
            if let current = nextKept, current.context.chainIndex == index {
                later.append(current)
                nextKept = kept.next()
            } else if let made = makeFilterIfNeeded(at: index, perFilterConfig: perFilterConfig) {
                later.append(made)
            }
        }
        filters.replaceSubrange((last + 1)..., with: later)
    }

    func receiveBody(_ body: ByteBuffer) {
        guard !finished else { return }
        resetStreamIdleTimer()
        bytesReceived += body.readableBytes
        grpcMessages?.request.consume(body)
        if decodingStopped || plan == nil && !finishedDecodingHeaders {
            pendingBody.append(body)
            return
        }
        decodeBody(body, endOfStream: false)
    }

    func receiveEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        requestComplete = true
        requestTimer?.cancel()
        requestTimer = nil
        resetStreamIdleTimer()
        if decodingStopped || plan == nil && !finishedDecodingHeaders {
            pendingTrailers = trailers
            pendingEnd = true
            return
        }
        decodeEnd(trailers)
    }

    /// The downstream can take bytes again: resume reading the upstream response.
    func downstreamWritable() { upstream?.resumeReading() }

    /// The downstream went away before the response ended.
    func downstreamClosed() {
        // An HTTP/2 stream closes as its end is written: that is not a termination.
        guard !finished, !responseEndWritten, tunnel == nil else { return }
        responseFlags.insert(.downstreamConnectionTermination)
        if responseCodeDetails == nil { responseCodeDetails = "downstream_remote_disconnect" }
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        complete(status: responseStatus ?? 0)
    }

    private var pendingEnd = false
    private var finishedDecodingHeaders = false
    /// The filter that cleared the route cache since the route was last chosen.
    private var routeCacheClearedBy: HTTPFilterContext?
    /// The `grpc-timeout` the client sent (the inner nil: none), kept once a route's limit
    /// replaces it, so that a route chosen again starts from the client's value.
    private var clientGRPCTimeoutHeader: String??
    /// The stream's random value for routing (runtime fractions, weighted clusters), the same
    /// when the route is chosen again.
    private var routeRandom: UInt64 = 0

    // MARK: Decoder filters

    private func runDecodeHeaders() {
        guard var head = requestHead else { return }
        while true {
            // Compared, not bound: binding would retain the context on every pass.
            if routeCacheClearedBy != nil {
                refreshRoute()
                head = requestHead ?? head
            }
            guard decodeIndex < filters.count else { break }
            let (filter, context) = filters[decodeIndex]
            let status = filter.decodeHeaders(&head, endOfStream: requestComplete && pendingBody.isEmpty, context: context)
            requestHead = head
            if finished { return }
            decodeIndex += 1
            switch status {
            case .continue: continue
            case .stopIteration:
                decodingStopped = true
                return
            case .stopAndBuffer:
                bufferingFilterIndex = decodeIndex - 1
                continue
            }
        }
        finishedDecodingHeaders = true
        decodingStopped = false
        routerDecodeHeaders()
        flushPendingRequestParts()
    }

    func continueDecoding(after context: HTTPFilterContext) {
        guard !finished, decodingStopped else { return }
        decodingStopped = false
        runDecodeHeaders()
    }

    /// A filter that stopped in `decodeHeaders` changes the head the next filters and the router see.
    func updateStoppedRequestHead(_ change: (inout HTTPRequestHead) -> Void) {
        guard !finished, decodingStopped, !finishedDecodingHeaders, var head = requestHead else { return }
        change(&head)
        requestHead = head
    }

    private func flushPendingRequestParts() {
        let bodies = pendingBody
        pendingBody = []
        for body in bodies where !finished { decodeBody(body, endOfStream: false) }
        if pendingEnd && !finished {
            pendingEnd = false
            decodeEnd(pendingTrailers)
        }
    }

    private func decodeBody(_ body: ByteBuffer, endOfStream: Bool) {
        var body = body
        if bufferingFilterIndex != nil {
            if bufferedBody == nil { bufferedBody = body } else { bufferedBody!.writeImmutableBuffer(body) }
            return
        }
        for (filter, context) in filters {
            _ = filter.decodeData(&body, endOfStream: endOfStream, context: context)
            if finished { return }
        }
        routerDecodeBody(body)
    }

    private func decodeEnd(_ trailers: HTTPHeaders?) {
        if bufferingFilterIndex != nil {
            var body = bufferedBody ?? ByteBuffer()
            bufferedBody = nil
            bufferingFilterIndex = nil
            for (filter, context) in filters {
                _ = filter.decodeData(&body, endOfStream: trailers == nil, context: context)
                if finished { return }
            }
            if body.readableBytes > 0 { routerDecodeBody(body) }
        }
        if var trailers {
            for (filter, context) in filters {
                _ = filter.decodeTrailers(&trailers, context: context)
                if finished { return }
            }
            routerDecodeEnd(trailers)
        } else {
            routerDecodeEnd(nil)
        }
    }

    // MARK: Router

    private func routerDecodeHeaders() {
        guard let resolution else { return }
        switch resolution.decision {
        case .localReply(let reply):
            sendLocalReply(reply)
        case .forward(let plan):
            if var head = requestHead {
                RouterRequestHeaders.apply(&head.headers, to: plan)
                requestHead = head
            }
            guard let cluster = manager.cluster(named: plan.clusterName) else {
                sendLocalReply(HTTPLocalReply(status: .serviceUnavailable, body: "", details: "cluster_not_found", flags: .noClusterFound))
                return
            }
            self.plan = plan
            self.cluster = cluster
            guard cluster.tryAcquireRequest() else {
                sendLocalReply(Self.overflowReply)
                return
            }
            holdsRequestSlot = true
            if requestComplete && pendingBody.isEmpty { startGlobalTimer() }
            startAttempt()
        }
    }

    private func routerDecodeBody(_ body: ByteBuffer) {
        guard plan != nil else { return }
        retainedBytes += body.readableBytes
        if retainedBytes > manager.bufferLimit { bodyTooLargeToRetry = true }
        guard let upstream, !awaitingConnection else {
            // Not connected yet: keep everything, it is sent once the connection is up; past the
            // buffer limit the downstream waits for the connection.
            retainedBody.append(body)
            if retainedBytes > manager.bufferLimit { pauseRequestBody() }
            return
        }
        if bodyTooLargeToRetry {
            retainedBody = []
        } else {
            retainedBody.append(body)
        }
        upstream.sendBody(body)
        upstream.flush()
        // The upstream's buffer is past its high watermark: stop reading the body until it drains.
        if !upstream.isWritable { pauseRequestBody() }
    }

    private func pauseRequestBody() {
        guard !requestBodyPaused, !requestComplete else { return }
        requestBodyPaused = true
        responder?.setRequestBodyFlowing(false)
    }

    private func resumeRequestBody() {
        guard requestBodyPaused else { return }
        requestBodyPaused = false
        responder?.setRequestBodyFlowing(true)
    }

    func upstreamWritable() {
        if let upstream, !awaitingConnection, upstream.isWritable { resumeRequestBody() }
    }

    private func routerDecodeEnd(_ trailers: HTTPHeaders?) {
        guard let plan else { return }
        if globalTimer == nil { startGlobalTimer() }
        if !plan.mirrors.isEmpty, !bodyTooLargeToRetry, var head = requestHead {
            plan.transformRequest(&head)
            for mirror in plan.mirrors {
                guard let cluster = manager.cluster(named: mirror.cluster) else { continue }
                var copy = head
                copy.headers.replaceOrAdd(name: "host", value: mirror.authority)
                manager.prepareUpstreamRequest(&copy, plan: plan)
                manager.prepareShadowRequest(&copy, plan: plan)
                ShadowRequest.send(head: copy, body: retainedBody, cluster: cluster, eventLoop: eventLoop)
            }
        }
        // The end may already have gone out with the request (it arrived while a filter held the
        // headers, or before the connection was ready).
        if let upstream, !awaitingConnection, !upstreamRequestEnded {
            upstreamRequestEnded = true
            upstream.sendEnd(trailers)
        }
    }

    private func startGlobalTimer() {
        guard let timeout = plan?.timeout, globalTimer == nil else { return }
        globalTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout.timeAmount) { [link] in link.stream?.globalTimeout() }
    }

    private func startAttempt() {
        guard let plan, let cluster, !finished else { return }
        attempt += 1
        if upstreamHead == nil, var head = requestHead {
            plan.transformRequest(&head)
            manager.prepareUpstreamRequest(&head, plan: plan)
            if istioReport != nil { propagatePeerMetadata(&head, cluster: cluster) }
            if let upgradeType {
                // Allowed by the route or the connection manager: the upstream is asked to switch too.
                head.headers.replaceOrAdd(name: "upgrade", value: requestHead?.headers.first(name: "upgrade") ?? upgradeType)
                head.headers.replaceOrAdd(name: "connection", value: "upgrade")
            }
            upstreamHead = head
        }
        let upstreamAuthority = upstreamHead?.headers.first(name: "host")
        let retry = plan.retry
        if let previous = lastAttemptedHost { earlierAttemptedHosts.append(previous) }
        var excludedPriorities = retry?.excludedPriorities(attempted: earlierAttemptedHosts[priorityAttemptsStart...]) ?? []
        if !excludedPriorities.isEmpty, !cluster.upstream.hasAvailablePriority(excluding: excludedPriorities) {
            // Every priority was tried: Envoy's previous_priorities starts over with the cluster's own load.
            priorityAttemptsStart = earlierAttemptedHosts.count
            excludedPriorities = []
        }
        guard let host = cluster.chooseHost(
            hash: plan.hashKey, excluding: earlierAttemptedHosts, maxSelectionAttempts: retry?.hostSelectionRetryMaxAttempts ?? 1, authority: upstreamAuthority,
            downstream: DownstreamDestination(localAddress: connection.localAddress, headers: requestHead?.headers),
            predicates: retry?.hostPredicates ?? [], excludedPriorities: excludedPriorities
        ) else {
            cluster.stats.noHealthyUpstream()
            finishUpstream(failed: true)
            sendLocalReply(HTTPLocalReply(status: .serviceUnavailable, body: "no healthy upstream", details: "no_healthy_upstream", flags: .noHealthyUpstream))
            return
        }
        upstreamHost = host
        lastAttemptedHost = host.host
        host.beginRequest()
        cluster.stats.attemptStarted()
        let pool = cluster.pool(on: eventLoop)
        upstreamPool = pool
        upstreamStart = .now()
        awaitingConnection = true
        if let perTry = retry?.perTryTimeout {
            perTryTimer = eventLoop.assumeIsolated().scheduleTask(in: perTry.timeAmount) { [link] in link.stream?.perTryTimeout() }
        }
        // An idle keep-alive connection, the usual case, is taken at once, without a closure.
        if let connection = pool.takeIdle(host.key) {
            awaitingConnection = false
            sendUpstream(on: connection)
            return
        }
        let attemptNumber = attempt
        let link = self.link
        pool.acquire(host.key) { result in
            guard let self = link.stream, !self.finished, self.attempt == attemptNumber else {
                if case .success(let connection) = result { pool.discard(connection) }
                return
            }
            self.awaitingConnection = false
            switch result {
            case .success(let connection): self.sendUpstream(on: connection)
            case .failure(let failure): self.attemptFailed(failure)
            }
        }
    }

    private func sendUpstream(on connection: UpstreamChannel) {
        guard let plan else { return }
        upstream = connection
        // Set on the stored head, which only this stream holds: a copy changed here would copy
        // the whole header list.
        if plan.includeAttemptCount {
            upstreamHead?.headers.replaceOrAdd(name: "x-envoy-attempt-count", value: String(attempt))
        }
        guard let head = upstreamHead else { return }
        if manager.accessLogs != nil { loggedUpstreamAddresses = (connection.channel.localAddress, connection.channel.remoteAddress) }
        connection.send(head, receiver: self)
        let sendsBody = !retainedBody.isEmpty
        for body in retainedBody { connection.sendBody(body) }
        if bodyTooLargeToRetry { retainedBody = [] }
        if requestComplete && pendingBody.isEmpty && !decodingStopped {
            upstreamRequestEnded = true
            connection.sendEnd(pendingTrailers)
        } else if sendsBody {
            // Flushed even when the body is no longer retained for retries (past the buffer
            // limit): unflushed, it would keep the connection unwritable and the downstream paused.
            connection.flush()
        }
        // A body held while connecting may resume now, unless the new connection is already full.
        if connection.isWritable { resumeRequestBody() } else { pauseRequestBody() }
        // Otherwise the head goes out with the first body chunk or the end (one write, not two);
        // with HTTP/1.1 the end arrives in the same read as a body-less request's head.
    }

    // MARK: Upstream response

    var upstreamMayRead: Bool {
        // A filter holding (not buffering) the response past the buffer limit stops the upstream.
        if let hold = encoderHold, !hold.buffering, hold.heldBytes > manager.bufferLimit { return false }
        return responder?.isDownstreamWritable ?? false
    }

    func upstreamInformationalHead(_ head: HTTPResponseHead) {
        // Only with `proxy_100_continue` did the upstream get the `Expect` header; otherwise the
        // proxy already answered it (Envoy drops the upstream's 100 then).
        guard !finished, manager.configuration.proxy100Continue, !sentUpstreamContinue else { return }
        sentUpstreamContinue = true
        manager.stats.informationalResponseSent()
        responder?.writeInformationalHead(HTTPResponseHead(version: requestHead?.version ?? .http1_1, status: .continue))
    }

    /// `%UPSTREAM_REMOTE_ADDRESS%`: the connected upstream's `ip:port` (a DNS cluster's host
    /// resolved), else the endpoint last tried.
    private var upstreamAddressText: String? {
        upstream.flatMap { DownstreamConnectionInfo.text($0.channel.remoteAddress?.ipAddress, $0.channel.remoteAddress?.port) }
            ?? lastAttemptedHost.map { "\($0.address)" }
    }

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard !finished, let cluster, let host = upstreamHost else { return }
        perTryTimer?.cancel()
        perTryTimer = nil
        let status = Int(head.status.code)
        cluster.recordResponse(host: host, status: status)
        cluster.stats.responseReceived(status: status)
        if let retry = plan?.retry, retry.shouldRetry(status: status, headers: head.headers), canRetry(retry) {
            cluster.stats.retried()
            abandonUpstream()
            scheduleRetry(retry)
            return
        }
        responseStatus = status
        var response = head
        if istioReport != nil { discoverUpstreamPeer(response: &response, host: host) }
        manager.prepareResponse(&response, plan: plan, upstreamStart: upstreamStart, upstreamAddress: upstreamAddressText)
        if status == 101, let upgradeType, upstream != nil {
            sendSwitchingProtocols(response, upgradeType: upgradeType)
            return
        }
        if status == 101 {
            // A switch nobody asked for (or the downstream cannot take): Envoy treats it as an upstream protocol error.
            abandonUpstream()
            finishUpstream(failed: true)
            sendLocalReply(HTTPLocalReply(status: .badGateway, body: "upstream connect error or disconnect/reset before headers. reset reason: protocol error", details: "upstream_reset_before_response_started{protocol_error}", flags: .upstreamConnectionTermination))
            return
        }
        encodeHeaders(response, endOfStream: false)
    }

    func upstreamReadComplete() { responder?.flushResponse() }

    func upstreamResponseBody(_ body: ByteBuffer) {
        guard !finished, responseStarted, tunnel == nil else { return }
        grpcMessages?.response.consume(body)
        encodeBody(body, endOfStream: false)
    }

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        // The end of a 101: both connections become the tunnel.
        if switchingProtocols, tunnel == nil, !finished, let upstream {
            openTunnel(upstream)
            return
        }
        guard !finished, tunnel == nil else { return }
        if manager.accessLogs != nil { loggedTrailers = trailers }
        if istioReport != nil, let trailers {
            if let status = trailers.first(name: "grpc-status") { istioReport?.grpcStatus = status }
            responseHeaderBytes += Self.headerBytes(trailers)
        }
        if let upstream, let upstreamPool {
            if upstreamRequestEnded { upstreamPool.release(upstream) } else { upstreamPool.discard(upstream) }
        }
        upstream = nil
        finishUpstream(failed: false)
        encodeEnd(trailers)
    }

    func upstreamReset(_ error: any Error) {
        guard !finished, tunnel == nil else { return }
        upstream = nil
        if responseStarted {
            responseFlags.insert(.upstreamConnectionTermination)
            finishUpstream(failed: true)
            responder?.resetDownstream()
            complete(status: responseStatus ?? 0)
            return
        }
        attemptFailed(.connectionClosed)
    }

    private func attemptFailed(_ failure: UpstreamFailure) {
        guard !finished, let cluster else { return }
        perTryTimer?.cancel()
        perTryTimer = nil
        if let host = upstreamHost {
            cluster.recordFailure(host: host, failure)
            host.endRequest()
            upstreamHost = nil
        }
        if case .overflow = failure {
            finishUpstream(failed: true)
            sendLocalReply(Self.overflowReply)
            return
        }
        if case .connectFailed = failure { cluster.stats.connectFailed() }
        if let retry = plan?.retry, retry.shouldRetry(failure: failure), canRetry(retry) {
            cluster.stats.retried()
            if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
            upstream = nil
            scheduleRetry(retry)
            return
        }
        let flags: ResponseFlags
        let status: HTTPResponseStatus
        switch failure {
        case .connectFailed: flags = .upstreamConnectionFailure; status = .serviceUnavailable
        case .connectionClosed: flags = .upstreamConnectionTermination; status = .serviceUnavailable
        case .perTryTimeout: flags = .upstreamRequestTimeout; status = .gatewayTimeout
        case .overflow: flags = .upstreamOverflow; status = .serviceUnavailable
        }
        if attempt > 1 { responseFlags.insert(.upstreamRetryLimitExceeded) }
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        finishUpstream(failed: true)
        let body = failure == .perTryTimeout ? "upstream request timeout" : "upstream connect error or disconnect/reset before headers. reset reason: \(failure)"
        sendLocalReply(HTTPLocalReply(status: status, body: body, details: "upstream_reset_before_response_started{\(failure)}", flags: flags))
    }

    private func canRetry(_ retry: RetryPlan) -> Bool {
        guard attempt <= retry.numRetries, !bodyTooLargeToRetry else {
            if attempt > retry.numRetries {
                responseFlags.insert(.upstreamRetryLimitExceeded)
                cluster?.stats.retryLimitExceeded()
            }
            return false
        }
        guard let cluster else { return false }
        if !holdsRetrySlot {
            guard cluster.tryAcquireRetry() else {
                return false
            }
            holdsRetrySlot = true
        }
        return true
    }

    private func scheduleRetry(_ retry: RetryPlan) {
        let delay = retry.backoff(attempt: attempt - 1)
        backoffTimer = eventLoop.assumeIsolated().scheduleTask(in: delay.timeAmount) { [link] in
            guard let self = link.stream, !self.finished else { return }
            self.backoffTimer = nil
            self.upstreamRequestEnded = false
            self.startAttempt()
        }
    }

    private func abandonUpstream() {
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        upstreamHost?.endRequest()
        upstreamHost = nil
    }

    private func perTryTimeout() {
        guard !finished, !responseStarted else { return }
        cluster?.stats.perTryTimeout()
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        attemptFailed(.perTryTimeout)
    }

    private func globalTimeout() {
        guard !finished else { return }
        cluster?.stats.timeout()
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        upstreamHost?.endRequest()
        upstreamHost = nil
        finishUpstream(failed: true)
        if responseHeadSent {
            responseFlags.insert(.upstreamRequestTimeout)
            responder?.resetDownstream()
            complete(status: responseStatus ?? 0)
        } else {
            sendLocalReply(HTTPLocalReply(status: .gatewayTimeout, body: "upstream request timeout", details: "upstream_response_timeout", flags: .upstreamRequestTimeout))
        }
    }

    private func finishUpstream(failed: Bool) {
        perTryTimer?.cancel()
        perTryTimer = nil
        globalTimer?.cancel()
        globalTimer = nil
        backoffTimer?.cancel()
        backoffTimer = nil
        upstreamHost?.endRequest()
        upstreamHost = nil
        guard let cluster else { return }
        if holdsRequestSlot { cluster.releaseRequest(); holdsRequestSlot = false }
        if holdsRetrySlot { cluster.releaseRetry(); holdsRetrySlot = false }
    }

    // MARK: Responses

    func sendLocalReply(_ reply: HTTPLocalReply) {
        guard !finished else { return }
        responseFlags.formUnion(reply.flags)
        responseCodeDetails = reply.details
        if let tunnel {
            // An upgraded stream has no HTTP left to answer in: end the pipe.
            self.tunnel = nil
            tunnel.close()
            complete(status: responseStatus ?? 101)
            return
        }
        if responseHeadSent {
            responder?.resetDownstream()
            complete(status: responseStatus ?? 0)
            return
        }
        // A response still in the encoder filters (held by one of them) is replaced.
        let replacesResponse = responseStarted
        encoderHold = nil
        encoderGeneration += 1
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        finishUpstream(failed: true)
        var head: HTTPResponseHead
        var body = ByteBuffer()
        if let grpcReply = Self.grpcLocalReply(reply, request: requestHead) {
            // Envoy answers a gRPC request in gRPC: a trailers-only response.
            head = grpcReply
        } else {
            var headers = reply.headers
            body = ByteBuffer(string: reply.body)
            if !reply.body.isEmpty && !headers.contains(name: "content-type") { headers.add(name: "content-type", value: "text/plain") }
            headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
            // A HEAD request gets the head only (its content-length still tells the body's size).
            if requestHead?.method == .HEAD { body.clear() }
            head = HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)
        }
        manager.prepareLocalReply(&head, plan: plan, resolution: resolution, upstreamAddress: upstreamAddressText)
        guard !replacesResponse else {
            // Envoy's direct local reply: the encoder filters already had the response it replaces.
            responseStatus = Int(head.status.code)
            writeResponseHeadDownstream(head, endOfStream: body.readableBytes == 0)
            if body.readableBytes > 0, !finished {
                bytesSent += body.readableBytes
                responder?.writeResponseBody(body)
                writeResponseEndDownstream(nil)
            }
            return
        }
        encodeHeaders(head, endOfStream: body.readableBytes == 0)
        if body.readableBytes > 0, !finished { encodeBody(body, endOfStream: true) }
    }

    // MARK: Encoder filters

    /// Where a filter holds the response (encoder filters run in reverse filter order; positions
    /// count in that order). Parts that arrive while it holds pass the filters before it and wait
    /// there, until the filter continues (``continueEncoding(after:)``) or, when it buffers, until
    /// the response has ended.
    private struct EncoderHold {
        /// The filter holding the response.
        var position: Int
        /// The head, which that filter has seen.
        var head: HTTPResponseHead?
        /// Body that filter has seen (it stopped in `encodeData`, or saw the buffered body).
        var seenBody: ByteBuffer?
        /// Body that reached the hold since, not yet seen by that filter.
        var body: ByteBuffer?
        /// `stopAndBuffer`: the filter sees the whole body, with `endOfStream`, once it has arrived.
        var buffering = false
        /// The response ended, with these trailers if any.
        var ended = false
        var trailers: HTTPHeaders?
        /// Whether that filter has seen `trailers` (it stopped in `encodeTrailers`).
        var trailersSeen = false

        var heldBytes: Int { (seenBody?.readableBytes ?? 0) + (body?.readableBytes ?? 0) }
    }

    private var encoderHold: EncoderHold?
    /// Bumped when a local reply replaces a response still in the encoder filters, so that the
    /// filter loops of the replaced one stop.
    private var encoderGeneration = 0
    /// The response head went downstream (after the encoder filters).
    private var responseHeadSent = false

    private func encoderFilter(_ position: Int) -> (filter: any HTTPFilter, context: HTTPFilterContext) {
        filters[filters.count - 1 - position]
    }

    /// The response head enters the encoder filters.
    private func encodeHeaders(_ head: HTTPResponseHead, endOfStream: Bool) {
        resetStreamIdleTimer()
        // A response before the whole request arrived: an HTTP/1.1 connection cannot be reused (Envoy closes it).
        if !requestEnded { responder?.closeAfterResponse() }
        responseStarted = true
        responseStatus = Int(head.status.code)
        runEncodeHeaders(head, from: 0, endOfStream: endOfStream)
    }

    /// A response body part enters the encoder filters; with a hold, it passes the filters before
    /// the holder and waits there.
    private func encodeBody(_ body: ByteBuffer, endOfStream: Bool) {
        resetStreamIdleTimer()
        guard let position = encoderHold?.position else {
            runEncodeData(body, from: 0, endOfStream: endOfStream)
            return
        }
        var body = body
        let generation = encoderGeneration
        passData(&body, through: 0..<position, endOfStream: endOfStream)
        guard !finished, generation == encoderGeneration, encoderHold != nil else { return }
        // In place: the held buffer is not copied for each part.
        if encoderHold!.body == nil { encoderHold!.body = body } else { encoderHold!.body!.writeImmutableBuffer(body) }
        if endOfStream { encoderHold!.ended = true }
        guard !responseBufferOverflowed() else { return }
        if endOfStream, encoderHold!.buffering { releaseBufferedResponse() }
    }

    /// The response ended (from upstream, with its trailers if any).
    private func encodeEnd(_ trailers: HTTPHeaders?) {
        // No encoder filter to tell: the usual end costs no empty body part.
        if filters.isEmpty {
            writeResponseEndDownstream(trailers)
            return
        }
        guard let position = encoderHold?.position else {
            if let trailers {
                runEncodeTrailers(trailers, from: 0)
            } else {
                // The filters learn that the body ended (Envoy's `encodeData` with end of stream).
                runEncodeData(ByteBuffer(), from: 0, endOfStream: true)
            }
            return
        }
        let generation = encoderGeneration
        var trailers = trailers
        if trailers != nil {
            passTrailers(&trailers!, through: 0..<position)
        } else {
            var empty = ByteBuffer()
            passData(&empty, through: 0..<position, endOfStream: true)
        }
        guard !finished, generation == encoderGeneration, encoderHold != nil else { return }
        encoderHold!.ended = true
        encoderHold!.trailers = trailers
        if encoderHold!.buffering { releaseBufferedResponse() }
    }

    /// Parts that arrive while a later filter holds the response pass the filters before it,
    /// which may change them but not stop them (one filter holds a response at a time).
    private func passData(_ body: inout ByteBuffer, through positions: Range<Int>, endOfStream: Bool) {
        let generation = encoderGeneration
        for position in positions where !finished && generation == encoderGeneration {
            let (filter, context) = encoderFilter(position)
            _ = filter.encodeData(&body, endOfStream: endOfStream, context: context)
        }
    }

    private func passTrailers(_ trailers: inout HTTPHeaders, through positions: Range<Int>) {
        let generation = encoderGeneration
        for position in positions where !finished && generation == encoderGeneration {
            let (filter, context) = encoderFilter(position)
            _ = filter.encodeTrailers(&trailers, context: context)
        }
    }

    private func runEncodeHeaders(_ head: HTTPResponseHead, from start: Int, endOfStream: Bool) {
        var head = head
        let generation = encoderGeneration
        var position = start
        while position < filters.count {
            let (filter, context) = encoderFilter(position)
            let status = filter.encodeHeaders(&head, endOfStream: endOfStream, context: context)
            if finished || generation != encoderGeneration { return }
            guard status == .continue else {
                encoderHold = EncoderHold(position: position, head: head, buffering: status == .stopAndBuffer, ended: endOfStream)
                // Buffering a response that has no body: the filter sees the (empty) whole body now.
                if status == .stopAndBuffer, endOfStream { releaseBufferedResponse() }
                return
            }
            position += 1
        }
        writeResponseHeadDownstream(head, endOfStream: endOfStream)
    }

    private func runEncodeData(_ body: ByteBuffer, from start: Int, endOfStream: Bool) {
        var body = body
        let generation = encoderGeneration
        var position = start
        while position < filters.count {
            let (filter, context) = encoderFilter(position)
            let status = filter.encodeData(&body, endOfStream: endOfStream, context: context)
            if finished || generation != encoderGeneration { return }
            // `stopAndBuffer` at the end of the body has nothing more to wait for.
            if status == .stopIteration || (status == .stopAndBuffer && !endOfStream) {
                encoderHold = EncoderHold(position: position, seenBody: body, buffering: status == .stopAndBuffer, ended: endOfStream)
                _ = responseBufferOverflowed()
                return
            }
            position += 1
        }
        if body.readableBytes > 0 {
            bytesSent += body.readableBytes
            responder?.writeResponseBody(body)
        }
        if endOfStream { writeResponseEndDownstream(nil) }
    }

    private func runEncodeTrailers(_ trailers: HTTPHeaders, from start: Int) {
        var trailers = trailers
        let generation = encoderGeneration
        var position = start
        while position < filters.count {
            let (filter, context) = encoderFilter(position)
            let status = filter.encodeTrailers(&trailers, context: context)
            if finished || generation != encoderGeneration { return }
            guard status == .continue else {
                encoderHold = EncoderHold(position: position, ended: true, trailers: trailers, trailersSeen: true)
                return
            }
            position += 1
        }
        writeResponseEndDownstream(trailers)
    }

    /// A filter holding the response head changes it before it goes on.
    func updateHeldResponseHead(_ context: HTTPFilterContext, _ change: (inout HTTPResponseHead) -> Void) {
        guard !finished, var hold = encoderHold, var head = hold.head, encoderFilter(hold.position).context === context else { return }
        change(&head)
        hold.head = head
        encoderHold = hold
    }

    /// A filter that stopped the response lets it go on.
    func continueEncoding(after context: HTTPFilterContext) {
        guard !finished, let hold = encoderHold, encoderFilter(hold.position).context === context else { return }
        resumeEncoding(hold)
    }

    /// The buffering filter sees the whole body, with the end of stream when no trailers follow,
    /// then the response goes on unless it stops it again.
    private func releaseBufferedResponse() {
        guard var hold = encoderHold, hold.ended else { return }
        var whole = hold.seenBody ?? ByteBuffer()
        if var later = hold.body { whole.writeBuffer(&later) }
        hold.buffering = false
        hold.seenBody = nil
        hold.body = nil
        encoderHold = hold
        let generation = encoderGeneration
        let (filter, context) = encoderFilter(hold.position)
        let status = filter.encodeData(&whole, endOfStream: hold.trailers == nil, context: context)
        // The filter may have changed the held head meanwhile (``updateHeldResponseHead``).
        guard !finished, generation == encoderGeneration, var latest = encoderHold else { return }
        latest.seenBody = whole
        guard status != .stopIteration else {
            encoderHold = latest
            return
        }
        resumeEncoding(latest)
    }

    private enum EncoderPart {
        case head(HTTPResponseHead)
        case data(ByteBuffer)
        case trailers(HTTPHeaders)
    }

    /// The held parts go on in order: the head and the body the holder saw from the next filter,
    /// the body and trailers it has not seen from the holder itself. If a filter holds them again,
    /// what is left passes the filters up to it and waits there.
    private func resumeEncoding(_ hold: EncoderHold) {
        encoderHold = nil
        let generation = encoderGeneration
        let next = hold.position + 1
        let bodyEnds = hold.ended && hold.trailers == nil
        var parts: [(part: EncoderPart, start: Int)] = []
        if let head = hold.head { parts.append((.head(head), next)) }
        if let seen = hold.seenBody, seen.readableBytes > 0 { parts.append((.data(seen), next)) }
        if let body = hold.body, body.readableBytes > 0 { parts.append((.data(body), hold.position)) }
        if let trailers = hold.trailers { parts.append((.trailers(trailers), hold.trailersSeen ? next : hold.position)) }
        let lastData = parts.lastIndex { if case .data = $0.part { true } else { false } }
        // A body-less end travels with the head, or as an empty body part when the head went already.
        if bodyEnds, lastData == nil, hold.head == nil { parts.append((.data(ByteBuffer()), hold.position)) }
        let endsAt = parts.lastIndex { if case .trailers = $0.part { false } else { true } }
        for (index, entry) in parts.enumerated() {
            let endOfStream = bodyEnds && index == endsAt
            switch entry.part {
            case .head(let head): runEncodeHeaders(head, from: entry.start, endOfStream: endOfStream)
            case .data(let body): runEncodeData(body, from: entry.start, endOfStream: endOfStream)
            case .trailers(let trailers): runEncodeTrailers(trailers, from: entry.start)
            }
            guard !finished, generation == encoderGeneration else { return }
            guard let again = encoderHold else { continue }
            // Held again: the rest passes the filters before the new holder and waits there.
            for laterIndex in (index + 1)..<parts.count {
                let later = parts[laterIndex]
                switch later.part {
                case .head: break
                case .data(var body):
                    passData(&body, through: later.start..<again.position, endOfStream: bodyEnds && laterIndex == endsAt)
                    if encoderHold!.body == nil { encoderHold!.body = body } else { encoderHold!.body!.writeImmutableBuffer(body) }
                case .trailers(var trailers):
                    passTrailers(&trailers, through: later.start..<again.position)
                    encoderHold!.trailers = trailers
                }
                guard !finished, generation == encoderGeneration, encoderHold != nil else { return }
            }
            if hold.ended { encoderHold!.ended = true }
            if encoderHold!.ended, encoderHold!.buffering { releaseBufferedResponse() }
            return
        }
        // Reading the upstream again if the hold had paused it (``upstreamMayRead``).
        if encoderHold == nil { upstream?.resumeReading() }
    }

    /// Envoy's encoder buffer limit (the connection's buffer limit) for a buffering filter: past
    /// it the response is answered 500 if its head has not gone downstream, else reset. A filter
    /// that only holds the response instead stops the upstream being read (``upstreamMayRead``).
    private func responseBufferOverflowed() -> Bool {
        guard let hold = encoderHold, hold.buffering, hold.heldBytes > manager.bufferLimit else { return false }
        manager.filterCounter("rs_too_large").increment()
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        sendLocalReply(HTTPLocalReply(status: .internalServerError, body: "Internal Server Error", details: "response_payload_too_large"))
        return true
    }

    private func writeResponseHeadDownstream(_ head: HTTPResponseHead, endOfStream: Bool) {
        var head = head
        if istioReport != nil { prepareIstioResponse(&head) }
        if manager.configuration.alwaysSetRequestIDInResponse, let id = requestHead?.headers.first(name: "x-request-id") {
            head.headers.replaceOrAdd(name: "x-request-id", value: id)
        }
        if manager.accessLogs != nil { loggedResponse = head }
        responseHeadSent = true
        responseStatus = Int(head.status.code)
        responder?.writeResponseHead(head)
        if endOfStream { writeResponseEndDownstream(nil) }
    }

    private func writeResponseEndDownstream(_ trailers: HTTPHeaders?) {
        responseEndWritten = true
        responder?.writeResponseEnd(trailers)
        complete(status: responseStatus ?? 0)
    }

    private func complete(status: Int) {
        guard !finished else { return }
        finished = true
        // The connection reads again (the rest of an abandoned body, or the next request).
        resumeRequestBody()
        cancelStreamTimers()
        // An upstream request still in flight is reset: nobody reads its response any more.
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        finishUpstream(failed: false)
        for (filter, context) in filters { filter.onStreamComplete(context: context) }
        manager.stats.downstreamRequestCompleted(status: status)
        // The record (strings for the method, host address...) is only built when it is logged.
        if manager.logsRequests {
            manager.requestCompleted(RequestRecord(
                method: requestHead?.method.rawValue ?? "-", path: requestHead?.uri ?? "-", authority: requestHead?.headers.first(name: "host") ?? "-",
                status: status, flags: responseFlags, routeName: resolution?.routeName, cluster: plan?.clusterName,
                upstreamHost: lastAttemptedHost.map { "\($0.address)" }, attempts: attempt,
                bytesReceived: bytesReceived, bytesSent: bytesSent, start: startTime, end: .now()))
        }
        if let accessLogs = manager.accessLogs { logAccess(accessLogs, status: status) }
        if let stats = manager.istioStats, istioReport != nil { reportIstioMetrics(stats, status: status) }
        responder?.streamFinished(self)
        // What still refers to the stream lets go of it (``StreamLink``).
        for (_, context) in filters { context.stream = nil }
        filters = []
        linkStorage?.stream = nil
    }

    /// The stream's link, made on first use; after the stream completed, an empty one (a link
    /// made then would never be cleared and would keep the stream for good).
    private var link: StreamLink {
        if let linkStorage { return linkStorage }
        guard !finished else { return StreamLink(nil) }
        let made = StreamLink(self)
        linkStorage = made
        return made
    }
}

// MARK: Access log

extension HTTPStream {
    /// Hands the finished stream to the connection manager's access logs (one value, built only
    /// when logs are configured; the loggers format it and queue the line for their writer thread).
    private func logAccess(_ logs: [AccessLogConfiguration], status: Int) {
        var entry = AccessLogEntry.ending(startedAt: startTime)
        entry.request = requestHead
        entry.scheme = connection.scheme
        entry.response = loggedResponse
        entry.responseTrailers = loggedTrailers
        entry.responseCode = loggedResponse.map { Int($0.status.code) } ?? (responseStarted ? status : 0)
        // Envoy's details never contain spaces (they become underscores).
        entry.responseCodeDetails = responseCodeDetails.map { String($0.map { $0 == " " ? "_" : $0 }) }
            ?? (loggedResponse != nil ? "via_upstream" : nil)
        entry.responseFlags = responseFlags
        entry.bytesReceived = bytesReceived
        entry.bytesSent = bytesSent
        entry.upstreamHost = lastAttemptedHost.map { "\($0.address)" }
        entry.upstreamRemoteAddress = loggedUpstreamAddresses?.remote
        entry.upstreamLocalAddress = loggedUpstreamAddresses?.local
        entry.upstreamCluster = plan?.clusterName
        entry.upstreamRequestAttemptCount = attempt
        entry.downstreamLocalAddress = connection.localAddress
        entry.downstreamRemoteAddress = connection.remoteAddress
        entry.downstreamTLS = connection.tls
        entry.requestedServerName = connection.tls?.serverName
        entry.routeName = resolution?.routeName
        for log in logs { log.log(entry) }
    }
}

// MARK: Istio telemetry

extension HTTPStream {
    /// Istio's peer metadata filter on the request: learns the client from the exchange headers
    /// (inbound), removes them, and sends this proxy's own upstream (outbound).
    fileprivate func exchangePeerMetadata(request head: inout HTTPRequestHead) {
        var report = IstioReport()
        report.downstreamTLS = connection.tls
        if let exchange = manager.peerMetadata {
            if !exchange.downstreamDiscovery.isEmpty {
                let value = head.headers.first(name: PeerWorkload.metadataHeader)
                requestCarriedPeerMetadata = value != nil || head.headers.contains(name: PeerWorkload.metadataIDHeader)
                if exchange.downstreamDiscovery.contains(.headers), let value {
                    report.downstreamPeer = manager.peer(fromExchangeHeader: value)
                }
                head.headers.remove(name: PeerWorkload.metadataHeader)
                head.headers.remove(name: PeerWorkload.metadataIDHeader)
            }
        }
        istioReport = report
        if IstioStatsRuntime.isGRPC(head) { grpcMessages = (GRPCMessageCounter(), GRPCMessageCounter()) }
    }

    /// Istio's peer metadata filter on the upstream request: this proxy's metadata, unless the
    /// cluster opts out (`istio.disable_mx`) or is outside the mesh (`istio.external`,
    /// PassthroughCluster) and the filter skips such clusters.
    fileprivate func propagatePeerMetadata(_ head: inout HTTPRequestHead, cluster: ClusterRuntime) {
        guard let exchange = manager.peerMetadata, exchange.upstreamPropagation else { return }
        let istio = cluster.configuration.metadata["istio"]?.fields
        func flag(_ name: String) -> Bool {
            if case .boolValue(true)? = istio?[name]?.kind { return true }
            return false
        }
        if flag("disable_mx") { return }
        if exchange.skipExternalClusters && (cluster.name == "PassthroughCluster" || flag("external")) { return }
        manager.state.local.addExchangeHeaders(to: &head.headers)
    }

    /// Istio's peer metadata filter on the upstream response: the server from the exchange
    /// headers, else from the endpoint's workload metadata; the headers do not go downstream.
    fileprivate func discoverUpstreamPeer(response head: inout HTTPResponseHead, host: UpstreamHostHandle) {
        istioReport?.upstreamPeerPrincipal = upstream?.tlsIdentities?.peer
        istioReport?.upstreamLocalPrincipal = upstream?.tlsIdentities?.local
        guard let exchange = manager.peerMetadata, !exchange.upstreamDiscovery.isEmpty else { return }
        for method in exchange.upstreamDiscovery where istioReport?.upstreamPeer == nil {
            switch method {
            case .headers:
                if let value = head.headers.first(name: PeerWorkload.metadataHeader) {
                    istioReport?.upstreamPeer = manager.peer(fromExchangeHeader: value)
                }
            case .workloadMetadata:
                istioReport?.upstreamPeer = manager.peer(endpointMetadata: host.host.metadata)
            }
        }
        head.headers.remove(name: PeerWorkload.metadataHeader)
        head.headers.remove(name: PeerWorkload.metadataIDHeader)
    }

    /// The response as it leaves: this proxy's metadata for a client that sent its own (inbound),
    /// and the gRPC status and header size for the stats filter.
    fileprivate func prepareIstioResponse(_ head: inout HTTPResponseHead) {
        if requestCarriedPeerMetadata, manager.peerMetadata?.downstreamPropagation == true {
            manager.state.local.addExchangeHeaders(to: &head.headers)
        }
        if let status = head.headers.first(name: "grpc-status") { istioReport?.grpcStatus = status }
        responseHeaderBytes = Self.headerBytes(head.headers)
    }

    /// Header bytes as Envoy counts them for `request.total_size`: names and values.
    static func headerBytes(_ headers: HTTPHeaders) -> Int {
        headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
    }

    fileprivate func reportIstioMetrics(_ stats: IstioStatsRuntime, status: Int) {
        guard var report = istioReport else { return }
        istioReport = nil
        report.request = requestHead
        report.cluster = cluster
        report.responseCode = responseStarted ? (responseStatus ?? status) : 0
        report.flags = responseFlags
        if report.upstreamPeer == nil, !stats.inbound, let host = lastAttemptedHost {
            report.upstreamPeer = manager.peer(endpointMetadata: host.metadata)
        }
        let requestBytes = (requestHead.map { Self.headerBytes($0.headers) } ?? 0) + bytesReceived
        stats.recordRequest(
            report, durationNanoseconds: (NIODeadline.now() - startTime).nanoseconds,
            requestBytes: requestBytes, responseBytes: responseHeaderBytes + bytesSent,
            messages: grpcMessages.map { ($0.request.messages, $0.response.messages) })
    }
}

// MARK: Stream timeouts and upgrades

extension HTTPStream: UpgradeTunnel.Observer {
    /// Envoy's `Utility::isUpgrade`: a `connection` header naming `upgrade`, and an `upgrade` header.
    static func isUpgrade(_ headers: HTTPHeaders) -> Bool {
        guard headers.contains(name: "upgrade") else { return false }
        return headers[canonicalForm: "connection"].contains { ASCII.lowercased(String($0)) == "upgrade" }
    }

    /// Whether the route (`upgrade_configs`, `enabled` defaulting to true) or else the connection
    /// manager allows `type`, as Envoy's `createUpgradeFilterChain` decides; nil for `h2c`, which
    /// Envoy's HTTP/1.1 codec drops instead of proxying.
    fileprivate func upgradeAllowed(_ type: String, routeUpgrades: [ForwardAction.Upgrade]) -> Bool? {
        if type == "h2c" { return nil }
        if let route = routeUpgrades.first(where: { $0.type == type }) {
            if route.enabled == false { return false }
            return responder?.supportsUpgrade ?? false
        }
        return manager.configuration.upgradeTypes.contains(type) && (responder?.supportsUpgrade ?? false)
    }

    /// Arms the connection manager's timers as a stream starts: the stream idle timeout, the
    /// request timeout (until the request is complete) and `max_stream_duration`.
    fileprivate func startStreamTimers() {
        streamIdleTimeout = manager.configuration.streamIdleTimeout
        resetStreamIdleTimer()
        if let timeout = manager.configuration.requestTimeout, !requestEnded {
            requestTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout.timeAmount) { [link] in link.stream?.requestTimedOut() }
        }
        if let limit = manager.configuration.maxStreamDuration {
            durationTimer = eventLoop.assumeIsolated().scheduleTask(in: limit.timeAmount) { [link] in link.stream?.maxDurationReached() }
        }
    }

    /// The route's `idle_timeout` replaces the stream idle timeout (zero disables it), and its
    /// `max_stream_duration` (or a capped `grpc-timeout`) replaces the stream duration limit,
    /// counted from the start of the stream (Envoy's `refreshIdleTimeout` and `refreshDurationTimeout`).
    /// When the route is chosen again (`refreshing`), the client's `grpc-timeout` is put back
    /// first, and a route without `max_stream_duration` falls back to the connection manager's limit.
    fileprivate func applyRouteTimeouts(_ plan: ForwardPlan, refreshing: Bool = false) {
        if let routeIdle = plan.streamIdleTimeout {
            streamIdleTimeout = routeIdle == .zero ? nil : routeIdle
            if streamIdleTimeout == nil {
                stopStreamIdleTimer()
            } else {
                resetStreamIdleTimer()
            }
        }
        if refreshing, case .some(let original) = clientGRPCTimeoutHeader, var head = requestHead {
            if let original { head.headers.replaceOrAdd(name: "grpc-timeout", value: original) } else { head.headers.remove(name: "grpc-timeout") }
            requestHead = head
        }
        guard let route = plan.maxStreamDuration else {
            if refreshing { restartDurationTimer(manager.configuration.maxStreamDuration) }
            return
        }
        guard var head = requestHead else { return }
        let isGRPC = head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/grpc") ?? false
        if isGRPC, clientGRPCTimeoutHeader == nil { clientGRPCTimeoutHeader = .some(head.headers.first(name: "grpc-timeout")) }
        let clientTimeout = Self.grpcTimeout(head.headers)
        var limit: Duration?
        if let grpcTimeout = clientTimeout, let cap = route.grpcTimeoutHeaderMax {
            var timeout = grpcTimeout
            if cap != .zero, timeout > cap { timeout = cap }
            if timeout != .zero, let offset = route.grpcTimeoutHeaderOffset { timeout = offset < timeout ? timeout - offset : .zero }
            limit = timeout
        } else {
            limit = route.maxStreamDuration ?? manager.configuration.maxStreamDuration
        }
        guard let limit, limit != .zero || clientTimeout != nil else {
            restartDurationTimer(nil)
            if isGRPC {
                head.headers.remove(name: "grpc-timeout")
                requestHead = head
            }
            return
        }
        if isGRPC {
            head.headers.replaceOrAdd(name: "grpc-timeout", value: Self.grpcTimeoutValue(limit))
            requestHead = head
        }
        // A zero limit from grpc-timeout ends the stream at once.
        restartDurationTimer(limit, evenIfZero: true)
    }

    /// The stream duration timer for `limit` counted from the start of the stream; none for nil,
    /// nor for zero unless `evenIfZero`.
    private func restartDurationTimer(_ limit: Duration?, evenIfZero: Bool = false) {
        durationTimer?.cancel()
        durationTimer = nil
        guard let limit, limit != .zero || evenIfZero else { return }
        let used = Duration.nanoseconds((NIODeadline.now() - startTime).nanoseconds)
        let remaining = limit > used ? limit - used : .zero
        durationTimer = eventLoop.assumeIsolated().scheduleTask(in: remaining.timeAmount) { [link] in link.stream?.maxDurationReached() }
    }

    /// Restarts the stream idle timer (any activity on the stream, either way).
    fileprivate func resetStreamIdleTimer() {
        guard let timeout = streamIdleTimeout, !finished else { return }
        // The loop's clock (the one its timers use; a test loop has its own).
        let deadline = eventLoop.now + timeout.timeAmount
        let earlier = streamIdleExpiry.map { deadline < $0 } ?? true
        streamIdleExpiry = deadline
        if let idleSweeper {
            // Usually later than what the sweeper is armed for: nothing to do.
            if earlier { idleSweeper.deadlineMoved(to: deadline) }
            return
        }
        let sweeper = responder?.streamIdleSweeper ?? StreamIdleSweeper(eventLoop: eventLoop)
        idleSweeper = sweeper
        sweeper.watch(self, deadline: deadline)
    }

    private func stopStreamIdleTimer() {
        idleSweeper?.unwatch(self)
        idleSweeper = nil
        streamIdleExpiry = nil
    }

    fileprivate func cancelStreamTimers() {
        stopStreamIdleTimer()
        requestTimer?.cancel()
        requestTimer = nil
        durationTimer?.cancel()
        durationTimer = nil
    }

    /// Envoy's `maybeRequestTimeoutCode`: 504 once the whole request arrived, 408 before.
    private var timeoutStatus: HTTPResponseStatus { requestEnded ? .gatewayTimeout : .requestTimeout }

    /// Called by the sweeper once ``streamIdleExpiry`` has passed (it no longer watches the stream).
    func streamIdleTimedOut() {
        // The stream ends with this reply: writing it must not start watching it again.
        streamIdleTimeout = nil
        idleSweeper = nil
        streamIdleExpiry = nil
        guard !finished else { return }
        manager.filterCounter("downstream_rq_idle_timeout").increment()
        sendLocalReply(HTTPLocalReply(status: timeoutStatus, body: "stream timeout", details: "stream_idle_timeout", flags: .streamIdleTimeout))
    }

    private func requestTimedOut() {
        guard !finished else { return }
        manager.filterCounter("downstream_rq_timeout").increment()
        sendLocalReply(HTTPLocalReply(status: timeoutStatus, body: "request timeout", details: "request_overall_timeout"))
    }

    private func maxDurationReached() {
        guard !finished else { return }
        manager.filterCounter("downstream_rq_max_duration_reached").increment()
        sendLocalReply(HTTPLocalReply(status: timeoutStatus, body: "downstream duration timeout", details: "max_duration_timeout"))
    }

    /// A `grpc-timeout` header's value (`<up to 8 digits><H|M|S|m|u|n>`), nil when absent or malformed.
    static func grpcTimeout(_ headers: HTTPHeaders) -> Duration? {
        guard let value = headers.first(name: "grpc-timeout"), value.count >= 2, value.count <= 9,
              let amount = Int64(value.dropLast()), amount >= 0 else { return nil }
        switch value.last {
        case "H": return .seconds(amount * 3600)
        case "M": return .seconds(amount * 60)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }

    /// A `grpc-timeout` value for `duration` in milliseconds, or a coarser unit when it needs more than 8 digits.
    static func grpcTimeoutValue(_ duration: Duration) -> String {
        var amount = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, factor) in [("m", Int64(1000)), ("S", 60), ("M", 60), ("H", 1)] {
            if amount <= 99_999_999 || unit == "H" { return "\(min(amount, 99_999_999))\(unit)" }
            amount /= factor
        }
        return "99999999H"
    }

    /// The upstream switched protocols: the `101` goes downstream at once; route timeouts end
    /// here. The stream idle timeout and the stream duration limit keep applying to the tunnel,
    /// as in Envoy.
    fileprivate func sendSwitchingProtocols(_ response: HTTPResponseHead, upgradeType: String) {
        globalTimer?.cancel()
        globalTimer = nil
        var head = response
        for (filter, context) in filters.reversed() { _ = filter.encodeHeaders(&head, endOfStream: false, context: context) }
        head.headers.replaceOrAdd(name: "connection", value: "upgrade")
        if !head.headers.contains(name: "upgrade") { head.headers.add(name: "upgrade", value: upgradeType) }
        responseStarted = true
        switchingProtocols = true
        if manager.accessLogs != nil { loggedResponse = head }
        resetStreamIdleTimer()
        responder?.writeResponseHead(head)
        responder?.flushResponse()
    }

    /// The `101` ended: turn both connections into one byte pipe.
    fileprivate func openTunnel(_ upstream: UpstreamChannel) {
        guard let tunnel = responder?.upgrade(to: upstream.channel, observer: self) else {
            responseFlags.insert(.upstreamConnectionTermination)
            abandonUpstream()
            responder?.resetDownstream()
            complete(status: 101)
            return
        }
        self.tunnel = tunnel
        manager.filterCounter("downstream_cx_upgrades_total").increment()
        do {
            try tunnel.installUpstream()
            tunnel.open()
        } catch {
            tunnel.close()
        }
    }

    /// The router's answer when a circuit breaker is full (`UO`), with Envoy's `x-envoy-overloaded: true`.
    static let overflowReply = HTTPLocalReply(
        status: .serviceUnavailable, headers: HTTPHeaders([("x-envoy-overloaded", "true")]),
        body: "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        details: "upstream_reset_before_response_started{overflow}", flags: .upstreamOverflow)

    func tunnelRelayed(bytes: Int, toUpstream: Bool) {
        if toUpstream { bytesReceived += bytes } else { bytesSent += bytes }
        resetStreamIdleTimer()
    }

    func tunnelClosed() {
        tunnel = nil
        if let upstream, let upstreamPool { upstreamPool.discard(upstream) }
        upstream = nil
        responseEndWritten = true
        complete(status: 101)
    }
}

extension Duration {
    /// The duration as NIO's `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension HTTPStream {
    /// Whether a request asks for `100 Continue` before it sends its body.
    static func expectsContinue(_ headers: HTTPHeaders) -> Bool {
        headers.first(name: "expect").map { ASCII.lowercased($0) == "100-continue" } ?? false
    }
}

extension HTTPStream {
    /// A local reply to a gRPC request (`content-type: application/grpc...`) as Envoy sends it:
    /// HTTP 200, trailers only, `grpc-status` from the HTTP status (Envoy's mapping) and the body
    /// as `grpc-message`; nil for other requests.
    static func grpcLocalReply(_ reply: HTTPLocalReply, request: HTTPRequestHead?) -> HTTPResponseHead? {
        // Envoy's gRPC content types: `application/grpc` or `application/grpc+...` (not grpc-web).
        guard let type = request?.headers.first(name: "content-type").map(ASCII.lowercased),
              type == "application/grpc" || type.hasPrefix("application/grpc+") else { return nil }
        var headers = reply.headers
        headers.replaceOrAdd(name: "content-type", value: "application/grpc")
        headers.replaceOrAdd(name: "grpc-status", value: String(grpcStatus(forHTTPStatus: Int(reply.status.code))))
        if !reply.body.isEmpty { headers.replaceOrAdd(name: "grpc-message", value: grpcPercentEncoded(reply.body)) }
        headers.remove(name: "content-length")
        return HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
    }

    /// Envoy's `httpToGrpcStatus`.
    static func grpcStatus(forHTTPStatus status: Int) -> Int {
        switch status {
        case 400: 13  // INTERNAL
        case 401: 16  // UNAUTHENTICATED
        case 403: 7  // PERMISSION_DENIED
        case 404: 12  // UNIMPLEMENTED
        case 429, 502, 503, 504: 14  // UNAVAILABLE
        default: 2  // UNKNOWN
        }
    }

    /// `grpc-message`'s percent-encoding, as Envoy does it: bytes outside ` `...`}`, and `%`.
    static func grpcPercentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte < 0x7E, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
