#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The listening side of the echo server: binds, accepts, and drains on graceful shutdown.
///
/// Each accepted connection starts with an ``HTTPProtocolDetector`` that chooses HTTP/1.1 or
/// HTTP/2 (prior knowledge) from the first bytes. On graceful shutdown the listener closes, every
/// connection is asked to quiesce (idle HTTP/1 connections close, HTTP/2 ones get a GOAWAY), and
/// connections still open after `drainTimeout` are closed.
struct EchoServer: Service {
    var address: ListenAddress
    var name: String
    var drainTimeout: TimeAmount
    var logger: Logger

    func run() async throws {
        let connections = ConnectionTracker()
        let name = self.name
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let info = EchoResponder(name: name, localAddress: channel.localAddress, remoteAddress: channel.remoteAddress)
                    try channel.pipeline.syncOperations.addHandler(HTTPProtocolDetector(responder: info, logger: logger))
                }
            }
        let serverChannel = try await bootstrap.bind(host: address.host, port: address.port).get()
        let bound = serverChannel.localAddress.flatMap { $0.port }.map { ListenAddress(host: address.host, port: $0) } ?? address
        logger.info("echo-server \(name) listening on \(bound)")
        // One machine-readable line for scripts and tests that start the server with port 0.
        let line = Array("listening on \(bound)\n".utf8)
        _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        await withGracefulShutdownHandler {
            try? await serverChannel.closeFuture.get()
        } onGracefulShutdown: {
            serverChannel.close(promise: nil)
        }
        serverChannel.close(promise: nil)
        logger.info("echo-server \(name) draining \(connections.count) connection(s)")
        await connections.drain(timeout: drainTimeout)
        logger.info("echo-server \(name) stopped")
    }
}
