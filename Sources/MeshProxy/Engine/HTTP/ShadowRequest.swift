import NIOCore
import NIOHTTP1

/// A mirrored copy of a request (`request_mirror_policies`): sent to the shadow cluster once the
/// original request is complete; its response is read and discarded, and it never affects the
/// original request.
final class ShadowRequest: UpstreamResponseReceiver {
    private let cluster: ClusterRuntime
    private let pool: any UpstreamPool
    private var connection: UpstreamChannel?
    private var host: UpstreamHostHandle?
    private var keepAlive: ShadowRequest?

    private init(cluster: ClusterRuntime, eventLoop: any EventLoop) {
        self.cluster = cluster
        self.pool = cluster.pool(on: eventLoop)
    }

    /// Sends `head` and `body` to a host of `cluster`; fire and forget.
    static func send(head: HTTPRequestHead, body: [ByteBuffer], cluster: ClusterRuntime, eventLoop: any EventLoop) {
        guard let host = cluster.beginOwnRequest(authority: head.headers.first(name: "host")) else { return }
        let shadow = ShadowRequest(cluster: cluster, eventLoop: eventLoop)
        shadow.keepAlive = shadow
        shadow.host = host
        var head = head
        let length = body.reduce(0) { $0 + $1.readableBytes }
        head.headers.remove(name: "transfer-encoding")
        if length > 0 || head.headers.contains(name: "content-length") { head.headers.replaceOrAdd(name: "content-length", value: String(length)) }
        shadow.pool.acquire(host.key) { result in
            switch result {
            case .success(let connection):
                shadow.connection = connection
                connection.send(head, receiver: shadow)
                for chunk in body { connection.sendBody(chunk) }
                connection.sendEnd()
            case .failure:
                shadow.finish(status: nil)
            }
        }
    }

    var upstreamMayRead: Bool { true }
    private var status: Int?

    func upstreamResponseHead(_ head: HTTPResponseHead) { status = Int(head.status.code) }
    func upstreamResponseBody(_ body: ByteBuffer) {}
    func upstreamReadComplete() {}

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        if let connection { pool.release(connection) }
        connection = nil
        finish(status: status)
    }

    func upstreamReset(_ error: any Error) {
        connection = nil
        finish(status: nil)
    }

    private func finish(status: Int?) {
        host?.endRequest()
        host = nil
        cluster.releaseRequest()
        if let status { cluster.stats.responseReceived(status: status) }
        keepAlive = nil
    }
}
