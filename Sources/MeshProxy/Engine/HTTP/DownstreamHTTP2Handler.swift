import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The HTTP connection manager over one HTTP/2 downstream connection, at the connection level: it
/// reads the frames of every stream from NIO's HTTP/2 codec and drives one ``HTTPStream`` per
/// request stream, writing the responses back as frames.
///
/// A NIO stream multiplexer would give every stream a child channel with its own pipeline,
/// handlers, promises and HTTP/1 conversion; that per-stream machinery cost more than the proxy's
/// routing did. Here a stream is one small ``DownstreamHTTP2Stream`` in a dictionary.
///
/// Flow control follows NIO's stream channels: the connection and every open request stream get
/// a `WINDOW_UPDATE` back to their target window once half of it was consumed, and a stream is
/// writable while its and the connection's send windows are open and the socket is writable.
///
/// The connection manager's `idle_timeout` closes a connection without open streams (with a
/// `GOAWAY` naming the last stream), and `max_requests_per_connection` starts Envoy's drain
/// (``DownstreamHTTP2DrainHandler``) once that many streams were opened.
final class DownstreamHTTP2Handler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The stream window the connection advertises in its SETTINGS (`initialWindowSize`).
    static let streamWindow = 1 << 20
    /// The connection window kept open for the peer (Envoy's `initial_connection_window_size` default).
    static let connectionWindow = 1 << 20

    private let manager: HTTPConnectionManagerRuntime
    private let isTLS: Bool
    private let tls: DownstreamTLSInfo?
    /// Which response fields this connection keeps out of the HPACK dynamic table.
    let fieldIndexing = ResponseFieldIndexing()
    /// The destination `original_dst` restored (nil: the socket's local address).
    private let originalDestination: SocketAddress?
    fileprivate let sweeper: StreamIdleSweeper
    fileprivate var context: ChannelHandlerContext?
    /// The open request streams.
    private(set) var streams: [HTTP2StreamID: DownstreamHTTP2Stream] = [:]
    private var connectionInfo: DownstreamConnectionInfo?
    private var connectionSendWindowOpen = true
    /// Window increments written but not yet applied by the codec (a WINDOW_UPDATE waits while the
    /// socket is not writable): counted so that each consumed half-window is granted only once.
    private var connectionGrantOutstanding = 0
    private var streamsOpened = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var idleTimer: ConnectionIdleTimer?

    /// - Parameter streamIdleSweeper: The connection's sweeper for the streams' idle timeouts.
    init(manager: HTTPConnectionManagerRuntime, isTLS: Bool, tls: DownstreamTLSInfo? = nil, originalDestination: SocketAddress? = nil,
         streamIdleSweeper: StreamIdleSweeper) {
        self.originalDestination = originalDestination
        self.manager = manager
        self.isTLS = isTLS
        self.tls = tls
        self.sweeper = streamIdleSweeper
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Envoy's `idle_timeout` on HTTP/2 starts its drain sequence: the shutdown GOAWAY, the
        // final one after `drain_timeout`, then the close (the drain handler runs it).
        if let timeout = manager.configuration.idleTimeout?.timeAmount {
            // Strong: the timer goes in handlerRemoved. A weak reference would give the handler a
            // side table, which puts every retain and release of it on the runtime's slow path.
            idleTimer = ConnectionIdleTimer(eventLoop: context.eventLoop, timeout: timeout) {
                guard let context = self.context else { return }
                self.manager.filterCounter("downstream_cx_idle_timeout").increment()
                context.fireUserInboundEventTriggered(ConnectionDrainEvent())
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let stream = streams[frame.streamID] {
                stream.receiveTrailers(headers.headers)
            } else {
                openStream(frame.streamID, headers: headers, context: context)
            }
        case .data(let data):
            guard let stream = streams[frame.streamID], case .byteBuffer(let body) = data.data else { return }
            stream.receiveData(body, endStream: data.endStream)
        default:
            // SETTINGS, PING and GOAWAY are the codec's; a RST_STREAM arrives as a StreamClosedEvent.
            break
        }
    }

    private func openStream(_ id: HTTP2StreamID, headers: HTTP2Frame.FramePayload.Headers, context: ChannelHandlerContext) {
        if id > lastStreamID { lastStreamID = id }
        let head: HTTPRequestHead
        do {
            head = try HTTP2HeaderConversion.requestHead(headers.headers, endStream: headers.endStream)
        } catch let missing as HTTP2HeaderConversion.MissingPseudoHeader where missing.name == ":authority" {
            // RFC 9113 allows a request without `:authority`; Envoy's connection manager answers
            // it 400 (`missing_host_header`), and so does this one.
            manager.stats.downstreamRequestStarted()
            manager.stats.downstreamRequestCompleted(status: 400)
            let response: HPACKHeaders = [":status": "400", "content-length": "0"]
            write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: response, endStream: true))), flush: headers.endStream)
            if !headers.endStream { write(HTTP2Frame(streamID: id, payload: .rstStream(.noError)), flush: true) }
            return
        } catch {
            write(HTTP2Frame(streamID: id, payload: .rstStream(.protocolError)), flush: true)
            return
        }
        idleTimer?.busy()
        streamsOpened += 1
        if let limit = manager.configuration.maxRequestsPerConnection, streamsOpened == limit {
            // Envoy drains the connection: streams already open are served, the client opens a new one.
            context.fireUserInboundEventTriggered(ConnectionDrainEvent())
        }
        let info = connectionInfo ?? DownstreamConnectionInfo(
            remoteAddress: context.channel.remoteAddress, localAddress: originalDestination ?? context.channel.localAddress, isTLS: isTLS, tls: tls)
        connectionInfo = info
        let stream = DownstreamHTTP2Stream(id: id, connection: self)
        streams[id] = stream
        stream.start(head, endStream: headers.endStream, connection: info, manager: manager, eventLoop: context.eventLoop)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let window as NIOHTTP2WindowUpdatedEvent:
            // Consumed here: the most frequent event (several per request), and no later handler needs it.
            windowUpdated(window)
            return
        case let closed as StreamClosedEvent:
            removeStream(closed.streamID)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func windowUpdated(_ event: NIOHTTP2WindowUpdatedEvent) {
        if event.streamID == .rootStream {
            if let inbound = event.inboundWindowSize {
                connectionGrantOutstanding += reopenReceiveWindow(
                    of: .rootStream, current: inbound + connectionGrantOutstanding, target: Self.connectionWindow
                ) { increment in self.connectionGrantOutstanding -= increment }
            }
            if let outbound = event.outboundWindowSize {
                let wasOpen = connectionSendWindowOpen
                connectionSendWindowOpen = outbound > 0
                if !wasOpen, connectionSendWindowOpen { notifyWritable() }
            }
            return
        }
        guard let stream = streams[event.streamID] else { return }
        if let inbound = event.inboundWindowSize { stream.receiveWindowChanged(inbound) }
        if let outbound = event.outboundWindowSize { stream.sendWindowChanged(open: outbound > 0) }
    }

    /// Reopens the receive window of a stream (or of the connection, `.rootStream`) to `target` once
    /// half of it was consumed; `current` includes increments still on their way. Returns the
    /// increment granted, which `applied` gets back once the codec has sent it (or dropped it).
    fileprivate func reopenReceiveWindow(
        of id: HTTP2StreamID, current: Int, target: Int = streamWindow, applied: @escaping (Int) -> Void
    ) -> Int {
        guard current <= target / 2, let context else { return 0 }
        let increment = target - current
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in applied(increment) }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: increment))), promise: promise)
        return increment
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { notifyWritable() }
        context.fireChannelWritabilityChanged()
    }

    private func notifyWritable() {
        guard isWritable else { return }
        for stream in Array(streams.values) { stream.connectionWritable() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let open = streams
        streams = [:]
        for stream in open.values { stream.closed() }
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    /// Whether the socket and the connection's send window can take more bytes.
    fileprivate var isWritable: Bool {
        connectionSendWindowOpen && (context?.channel.isWritable ?? false)
    }

    fileprivate func write(_ frame: HTTP2Frame, flush: Bool, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
        if flush { context.flush() }
    }

    /// A promise on the connection's event loop, nil once the handler is gone.
    fileprivate func makePromise() -> EventLoopPromise<Void>? { context?.eventLoop.makePromise(of: Void.self) }

    /// The codec failed a frame of one stream (its headers or its content length, say): that stream
    /// is reset and ends; any other error ends the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            if streams[streamError.streamID] != nil {
                write(HTTP2Frame(streamID: streamError.streamID, payload: .rstStream(.internalError)), flush: true)
                removeStream(streamError.streamID)
            }
            return
        }
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    fileprivate func flush() { context?.flush() }

    /// A stream is over (closed by the codec, or reset for an error): it ends, and the connection
    /// is idle once it was the last.
    private func removeStream(_ id: HTTP2StreamID) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        stream.closed()
        if streams.isEmpty { idleTimer?.idle() }
    }
}

/// One request stream of a ``DownstreamHTTP2Handler`` connection: feeds its ``HTTPStream`` and
/// writes its response as HEADERS and DATA frames.
///
/// The last frame written is held until the next write or flush, so the end of a response is
/// carried by its last DATA (or HEADERS) frame rather than by an extra empty DATA frame.
final class DownstreamHTTP2Stream: DownstreamResponder {
    let id: HTTP2StreamID
    private unowned let connection: DownstreamHTTP2Handler
    private(set) var stream: HTTPStream?
    private var held: HTTP2Frame.FramePayload?
    private var sendWindowOpen = true
    /// The stream's receive window as NIO last reported it.
    private var receiveWindow: Int?
    /// Increments granted but not yet applied by the codec.
    private var grantOutstanding = 0
    /// The upstream cannot take more of the request body: the receive window is not reopened.
    private(set) var requestBodyPaused = false
    /// The client's END_STREAM arrived.
    private(set) var requestEnded = false
    /// The response's END_STREAM was written (or the stream was reset): nothing more goes out.
    private var responseEnded = false
    /// The codec reported the stream closed.
    private var isClosed = false

    fileprivate init(id: HTTP2StreamID, connection: DownstreamHTTP2Handler) {
        self.id = id
        self.connection = connection
    }

    fileprivate func start(_ head: HTTPRequestHead, endStream: Bool, connection info: DownstreamConnectionInfo, manager: HTTPConnectionManagerRuntime, eventLoop: any EventLoop) {
        let stream = HTTPStream(eventLoop: eventLoop, connection: info, manager: manager, responder: self)
        self.stream = stream
        requestEnded = endStream
        stream.receiveHead(head, endOfStream: false)
        if endStream { stream.receiveEnd(nil) }
    }

    fileprivate func receiveData(_ body: ByteBuffer, endStream: Bool) {
        if body.readableBytes > 0 { stream?.receiveBody(body) }
        if endStream {
            requestEnded = true
            stream?.receiveEnd(nil)
        }
    }

    fileprivate func receiveTrailers(_ headers: HPACKHeaders) {
        requestEnded = true
        stream?.receiveEnd(HTTP2HeaderConversion.httpHeaders(headers))
    }

    /// The stream closed (reset by the client, or both ends done) or the connection went away.
    fileprivate func closed() {
        isClosed = true
        responseEnded = true
        held = nil
        let stream = self.stream
        self.stream = nil
        stream?.downstreamClosed()
    }

    fileprivate func receiveWindowChanged(_ window: Int) {
        receiveWindow = window
        reopenReceiveWindow()
    }

    /// Grants the window back once half of it is consumed, counting increments still on their way.
    private func reopenReceiveWindow() {
        guard !requestEnded, !requestBodyPaused, !responseEnded, let receiveWindow else { return }
        grantOutstanding += connection.reopenReceiveWindow(of: id, current: receiveWindow + grantOutstanding) { increment in
            self.grantOutstanding -= increment
        }
    }

    fileprivate func sendWindowChanged(open: Bool) {
        let wasOpen = sendWindowOpen
        sendWindowOpen = open
        if !wasOpen, open, connection.isWritable { stream?.downstreamWritable() }
    }

    fileprivate func connectionWritable() {
        if sendWindowOpen { stream?.downstreamWritable() }
    }

    private func hold(_ payload: HTTP2Frame.FramePayload) {
        writeHeld()
        held = payload
    }

    private func writeHeld() {
        guard let held else { return }
        self.held = nil
        connection.write(HTTP2Frame(streamID: id, payload: held), flush: false)
    }

    // MARK: DownstreamResponder

    func writeInformationalHead(_ head: HTTPResponseHead) {
        guard !responseEnded else { return }
        writeHeld()
        connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: HTTP2HeaderConversion.responseHeaders(head, indexing: connection.fieldIndexing)))), flush: true)
    }

    func writeResponseHead(_ head: HTTPResponseHead) {
        guard !responseEnded else { return }
        hold(.headers(.init(headers: HTTP2HeaderConversion.responseHeaders(head, indexing: connection.fieldIndexing))))
    }

    func writeResponseBody(_ body: ByteBuffer) {
        guard !responseEnded else { return }
        hold(.data(.init(data: .byteBuffer(body))))
    }

    func flushResponse() {
        writeHeld()
        connection.flush()
    }

    func writeResponseEnd(_ trailers: HTTPHeaders?) {
        guard !responseEnded else { return }
        responseEnded = true
        if let trailers, !trailers.isEmpty {
            writeHeld()
            held = .headers(.init(headers: HTTP2HeaderConversion.trailers(trailers, indexing: connection.fieldIndexing), endStream: true))
        } else {
            switch held {
            case .headers(var headers)?:
                headers.endStream = true
                held = .headers(headers)
            case .data(var data)?:
                data.endStream = true
                held = .data(data)
            default:
                writeHeld()
                held = .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
            }
        }
        guard !requestEnded, let last = held, let promise = connection.makePromise() else {
            writeHeld()
            connection.flush()
            return
        }
        // A response complete before its request (a local reply to an upload, say): once its last
        // frame has left, the client is asked to stop sending without error, as RFC 9113 §8.1
        // allows and Envoy does. Not before: closing the stream drops DATA the codec still holds
        // for want of flow-control window.
        held = nil
        promise.futureResult.assumeIsolated().whenSuccess {
            guard !self.isClosed, !self.requestEnded else { return }
            self.connection.write(HTTP2Frame(streamID: self.id, payload: .rstStream(.noError)), flush: true)
        }
        connection.write(HTTP2Frame(streamID: id, payload: last), flush: true, promise: promise)
    }

    var isDownstreamWritable: Bool { sendWindowOpen && connection.isWritable }

    func resetDownstream() {
        guard !responseEnded else { return }
        responseEnded = true
        held = nil
        connection.write(HTTP2Frame(streamID: id, payload: .rstStream(.cancel)), flush: true)
    }

    func streamFinished(_ stream: HTTPStream) {
        if self.stream === stream { self.stream = nil }
    }

    var supportsUpgrade: Bool { false }

    func closeAfterResponse() {}

    func upgrade(to upstream: any Channel, observer: any UpgradeTunnel.Observer) -> UpgradeTunnel? { nil }

    var streamIdleSweeper: StreamIdleSweeper? { connection.sweeper }

    func setRequestBodyFlowing(_ flowing: Bool) {
        requestBodyPaused = !flowing
        // The connection window keeps being reopened (other streams go on); this stream's client
        // can send at most the rest of its window until the upstream drains.
        if flowing { reopenReceiveWindow() }
    }
}

/// Header blocks between HTTP/2 and the HTTP/1-style heads the connection manager works on.
enum HTTP2HeaderConversion {
    struct MissingPseudoHeader: Error, CustomStringConvertible {
        var name: String
        var description: String { "HTTP/2 request without \(name)" }
    }

    /// A request head from a request's header block (validated by NIO's codec): `:authority`
    /// becomes `host`, a body-carrying method without `content-length` gets
    /// `transfer-encoding: chunked` (or `content-length: 0` when the headers end the stream), and
    /// cookie crumbs are joined into one `cookie` header (RFC 9113 §8.2.3).
    static func requestHead(_ block: HPACKHeaders, endStream: Bool) throws -> HTTPRequestHead {
        var method: String?
        var path: String?
        var authority: String?
        var host: String?
        var hasContentLength = false
        var cookies: [String] = []
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count + 1)
        fields.append(("host", ""))
        for (name, value, _) in block {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case "host": host = value
            case "cookie": cookies.append(value)
            default:
                if name.utf8.first == UInt8(ascii: ":") { continue }
                if name == "content-length" { hasContentLength = true }
                fields.append((name, value))
            }
        }
        guard let method else { throw MissingPseudoHeader(name: ":method") }
        // The authority is the host (a `host` field is only a fallback, RFC 9113 §8.3.1).
        guard let hostValue = authority ?? host else { throw MissingPseudoHeader(name: ":authority") }
        fields[0].1 = hostValue
        let httpMethod = HTTPMethod(rawValue: method)
        let uri: String
        if httpMethod == .CONNECT {
            uri = hostValue
        } else {
            guard let path else { throw MissingPseudoHeader(name: ":path") }
            uri = path
        }
        if !cookies.isEmpty { fields.append(("cookie", cookies.joined(separator: "; "))) }
        switch httpMethod {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE:
            break
        default:
            if !hasContentLength { fields.append(endStream ? ("content-length", "0") : ("transfer-encoding", "chunked")) }
        }
        return HTTPRequestHead(version: .init(major: 2, minor: 0), method: httpMethod, uri: uri, headers: HTTPHeaders(fields))
    }

    /// A response header block: `:status`, then the headers with lower-case names and without the
    /// connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2).
    /// `indexing` (the connection's) also keeps fields out of the dynamic table once their value
    /// changed between responses.
    static func responseHeaders(_ head: HTTPResponseHead, indexing: ResponseFieldIndexing? = nil) -> HPACKHeaders {
        var block = HPACKHeaders()
        block.reserveCapacity(head.headers.count + 1)
        block.add(name: ":status", value: String(head.status.code))
        appendFields(head.headers, to: &block, indexing: indexing)
        return block
    }

    /// A trailer block, normalised as ``responseHeaders(_:indexing:)``.
    static func trailers(_ trailers: HTTPHeaders, indexing: ResponseFieldIndexing? = nil) -> HPACKHeaders {
        var block = HPACKHeaders()
        block.reserveCapacity(trailers.count)
        appendFields(trailers, to: &block, indexing: indexing)
        return block
    }

    /// The regular (non-pseudo) fields of a block, as HTTP/1 headers.
    static func httpHeaders(_ block: HPACKHeaders) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(block.count)
        for (name, value, _) in block where name.utf8.first != UInt8(ascii: ":") {
            headers.add(name: name, value: value)
        }
        return headers
    }

    /// What HTTP/2 does with a response field, by name.
    private enum FieldKind {
        /// Connection-specific: not sent over HTTP/2 (RFC 9113 §8.2.2).
        case connectionSpecific
        /// `te`: only `trailers` may be sent.
        case te
        /// A value that changes from one response to the next: sent as a literal without indexing.
        /// Indexing it would only evict the fields that do repeat, and NIO's encoder searches the
        /// dynamic table linearly for every field, so a table kept to repeating fields is both
        /// smaller on the wire and cheaper to encode.
        case varying
        /// Credentials and cookies: never indexed, by any hop.
        case sensitive
        case regular
    }

    /// The field's kind, comparing only the names of its length.
    private static func kind(_ name: String) -> FieldKind {
        switch name.utf8.count {
        case 2: name == "te" ? .te : .regular
        case 3: name == "age" ? .varying : .regular
        case 4: name == "date" || name == "etag" ? .varying : .regular
        case 6: name == "cookie" ? .sensitive : .regular
        case 7: name == "upgrade" ? .connectionSpecific : name == "expires" ? .varying : .regular
        case 10: name == "connection" || name == "keep-alive" ? .connectionSpecific : name == "set-cookie" ? .sensitive : .regular
        case 12: name == "x-request-id" || name == "grpc-message" ? .varying : .regular
        case 13: name == "last-modified" ? .varying : name == "authorization" ? .sensitive : .regular
        case 14: name == "content-length" ? .varying : .regular
        case 16: name == "proxy-connection" ? .connectionSpecific : .regular
        case 17: name == "transfer-encoding" ? .connectionSpecific : .regular
        case 21: name == "x-envoy-attempt-count" ? .varying : .regular
        case 29: name == "x-envoy-upstream-service-time" ? .varying : .regular
        default: .regular
        }
    }

    private static func appendFields(_ headers: HTTPHeaders, to block: inout HPACKHeaders, indexing policy: ResponseFieldIndexing?) {
        var nominated: Set<String> = []
        for (name, value) in headers {
            let lowered = name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? name.lowercased() : name
            let indexing: HPACKIndexing
            switch kind(lowered) {
            case .connectionSpecific:
                if lowered == "connection" {
                    for token in value.split(separator: ",") {
                        let trimmed = token.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
                        nominated.insert(String(trimmed).lowercased())
                    }
                }
                continue
            case .te:
                guard value.lowercased() == "trailers" else { continue }
                indexing = .indexable
            case .varying: indexing = .nonIndexable
            case .sensitive: indexing = .neverIndexed
            case .regular: indexing = policy?.indexing(name: lowered, value: value) ?? .indexable
            }
            block.add(name: lowered, value: value, indexing: indexing)
        }
        // Fields the `connection` header names are connection-specific too, wherever they were.
        if !nominated.isEmpty {
            var kept = HPACKHeaders()
            kept.reserveCapacity(block.count)
            for (name, value, indexing) in block where !nominated.contains(name) { kept.add(name: name, value: value, indexing: indexing) }
            block = kept
        }
    }
}

/// Learns, per downstream connection, which response fields change value from one response to
/// the next (a per-response counter or id a workload adds, say) and sends those as literals
/// without indexing from then on: indexing them would only churn the HPACK dynamic table, which
/// NIO's encoder searches linearly for every field. A field is indexed until its value first
/// differs; at most ``maximumNames`` names are remembered, later new names are not indexed.
final class ResponseFieldIndexing {
    static let maximumNames = 64
    private var lastValues: [String: String] = [:]
    private var varying: Set<String> = []

    func indexing(name: String, value: String) -> HPACKIndexing {
        if varying.contains(name) { return .nonIndexable }
        if let last = lastValues[name] {
            if last == value { return .indexable }
            varying.insert(name)
            lastValues[name] = nil
            return .nonIndexable
        }
        guard lastValues.count + varying.count < Self.maximumNames else { return .nonIndexable }
        lastValues[name] = value
        return .indexable
    }
}
