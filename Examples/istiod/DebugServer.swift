import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A response from a debug endpoint.
struct DebugResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String

    static func json(_ body: String, status: HTTPResponseStatus = .ok) -> DebugResponse {
        DebugResponse(status: status, contentType: "application/json", body: body)
    }

    static func text(_ body: String, status: HTTPResponseStatus = .ok) -> DebugResponse {
        DebugResponse(status: status, contentType: "text/plain; charset=utf-8", body: body)
    }
}

/// Istio's debug HTTP endpoints (`/ready`, `/debug/...`) on a small HTTP/1.1 server.
///
/// Each request is answered by `handler(path, query)`; the server is a `Service` that stops
/// accepting on graceful shutdown and lets requests in flight finish.
struct DebugServer: Service {
    var host: String
    var port: Int
    var logger: Logger
    var handler: @Sendable (_ path: String, _ query: [String: String]) async -> DebugResponse

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("debug server listening on \(host):\(server.channel.localAddress?.port ?? port)")
        let handler = self.handler
        let logger = self.logger
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask {
                            do {
                                try await Self.serve(connection, handler: handler)
                            } catch {
                                logger.debug("debug connection ended: \(error)")
                            }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        handler: @Sendable (String, [String: String]) async -> DebugResponse
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                case .body:
                    continue
                case .end:
                    guard let request = head else { continue }
                    let (path, query) = Self.split(request.uri)
                    let response = request.method == .GET || request.method == .HEAD
                        ? await handler(path, query)
                        : .text("method not allowed\n", status: .methodNotAllowed)
                    var headers = HTTPHeaders()
                    headers.add(name: "content-type", value: response.contentType)
                    headers.add(name: "content-length", value: "\(response.body.utf8.count)")
                    let keepAlive = request.isKeepAlive
                    if !keepAlive { headers.add(name: "connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
                    if request.method != .HEAD {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
                    }
                    try await outbound.write(.end(nil))
                    head = nil
                    if !keepAlive { return }
                }
            }
        }
    }

    /// Splits `/path?a=b&c=d` into the path and decoded query parameters.
    static func split(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            query[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return (String(uri[..<q]), query)
    }
}

extension String {
    /// Percent-decoding without Foundation.
    var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(),
                      let value = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
