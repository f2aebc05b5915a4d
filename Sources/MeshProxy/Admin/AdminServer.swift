import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// What the admin endpoint reads from the running proxy.
protocol AdminDataSource: Sendable {
    /// Envoy's `/config_dump` JSON.
    func configDump() -> String
    /// Envoy's `/clusters` text.
    func clustersText() -> String
    /// Whether every initial resource has arrived (`/ready` answers 200 then).
    var isReady: Bool { get }
    /// `/server_info` JSON.
    func serverInfo() -> String
    /// Every stat as `name: value` lines, sorted (Envoy's `/stats`).
    func statsText() -> String
    /// Prometheus text exposition (Envoy's `/stats/prometheus`).
    func prometheusText() -> String
    /// Asks the proxy to exit (`/quitquitquit`).
    func requestShutdown()
    /// Envoy's `/certs` JSON: the certificates the proxy holds for TLS.
    func certsJSON() -> String
}

extension AdminDataSource {
    func certsJSON() -> String { "{\n \"certificates\": []\n}\n" }
}

/// The admin endpoint on the admin port, with Envoy's paths: `/ready`, `/server_info`,
/// `/config_dump`, `/clusters`, `/stats`, `/stats/prometheus`, `/quitquitquit`.
final class AdminServer: Sendable {
    private let source: any AdminDataSource
    private let logger: Logger

    init(source: any AdminDataSource, logger: Logger) {
        self.source = source
        self.logger = logger
    }

    func bind(host: String, port: Int, group: any EventLoopGroup) async throws -> any Channel {
        let source = self.source
        return try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(source: source))
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Answers one admin request.
    static func respond(method: HTTPMethod, uri: String, source: any AdminDataSource) -> (HTTPResponseStatus, String, String) {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        switch path {
        case "/ready":
            return source.isReady ? (.ok, "text/plain", "LIVE\n") : (.serviceUnavailable, "text/plain", "PRE_INITIALIZING\n")
        case "/server_info":
            return (.ok, "application/json", source.serverInfo())
        case "/config_dump":
            return (.ok, "application/json", source.configDump())
        case "/clusters":
            return (.ok, "text/plain", source.clustersText())
        case "/stats":
            if query.contains("format=prometheus") { return (.ok, "text/plain; version=0.0.4", source.prometheusText()) }
            var text = source.statsText()
            if let raw = query.split(separator: "&").first(where: { $0.hasPrefix("filter=") })?.dropFirst(7) {
                let filter = percentDecoded(raw)
                text = text.split(separator: "\n").filter { $0.contains(filter) }.joined(separator: "\n") + "\n"
            }
            return (.ok, "text/plain", text)
        case "/stats/prometheus":
            return (.ok, "text/plain; version=0.0.4", source.prometheusText())
        case "/certs":
            return (.ok, "application/json", source.certsJSON())
        case "/quitquitquit":
            guard method == .POST else { return (.methodNotAllowed, "text/plain", "This endpoint requires POST.\n") }
            source.requestShutdown()
            return (.ok, "text/plain", "OK\n")
        case "/reopen_logs":
            // Envoy's log rotation hook: every access log file is reopened before its next write.
            guard method == .POST else { return (.methodNotAllowed, "text/plain", "This endpoint requires POST.\n") }
            for file in AccessLogFlusher.shared.allFiles { file.reopen() }
            return (.ok, "text/plain", "OK\n")
        case "/", "/help":
            return (.ok, "text/plain", "admin commands are:\n  /clusters\n  /config_dump\n  /quitquitquit\n  /ready\n  /server_info\n  /stats\n  /stats/prometheus\n")
        default:
            return (.notFound, "text/plain", "invalid path. admin commands are: /clusters /config_dump /quitquitquit /ready /server_info /stats /stats/prometheus\n")
        }
    }
}

/// `%XX` escapes decoded (query values).
func percentDecoded(_ text: Substring) -> String {
    var bytes: [UInt8] = []
    var index = text.utf8.startIndex
    let utf8 = text.utf8
    while index < utf8.endIndex {
        let byte = utf8[index]
        if byte == UInt8(ascii: "%"), let hi = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex), hi < utf8.endIndex,
           let lo = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), lo < utf8.endIndex,
           let value = UInt8(String(decoding: [utf8[hi], utf8[lo]], as: UTF8.self), radix: 16) {
            bytes.append(value)
            index = utf8.index(after: lo)
        } else {
            bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index = utf8.index(after: index)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Serves admin requests on one connection.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let source: any AdminDataSource
    private var head: HTTPRequestHead?

    init(source: any AdminDataSource) { self.source = source }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let (status, type, body) = AdminServer.respond(method: head.method, uri: head.uri, source: source)
            let buffer = ByteBuffer(string: body)
            var headers = HTTPHeaders([("content-type", type), ("content-length", String(buffer.readableBytes))])
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            self.head = nil
        }
    }
}
