import Foundation
import MeshTestSupport
import Synchronization

/// A tiny HTTP/1.1 server on a loopback address that answers `GET <path>` with a JWKS (and 404
/// otherwise), one request per connection, counting the requests it answered: the `jwksUri` of a
/// RequestAuthentication in end-to-end tests.
final class LoopbackJWKSServer: Sendable {
    let host: String
    let port: Int
    let path: String
    private let body: String
    private let listener: Int32
    private let served = Mutex(0)
    private let stopped = Mutex(false)

    /// The URL proxies fetch the keys from.
    var uri: String { "http://\(host):\(port)\(path)" }
    /// How many JWKS requests were answered.
    var requestCount: Int { served.withLock { $0 } }

    init(host: String, path: String = "/jwks.json", jwks: String) throws {
        self.host = host
        self.path = path
        self.body = jwks
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { close(fd); throw HarnessError("bad address \(host)") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw HarnessError("bind/listen \(host): errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// Stops accepting and closes the listening socket.
    func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while !stopped.withLock({ $0 }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            answer(client)
            close(client)
        }
    }

    /// Reads the request head (bounded) and answers it.
    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 65536 {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { return }
            request += buffer[0..<count]
            if String(decoding: request, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        let matches = parts.count >= 2 && parts[0] == "GET" && parts[1] == path
        if matches { served.withLock { $0 += 1 } }
        let status = matches ? "200 OK" : "404 Not Found"
        let content = matches ? body : "not found"
        let response = "HTTP/1.1 \(status)\r\ncontent-type: application/json\r\ncontent-length: \(content.utf8.count)\r\nconnection: close\r\n\r\n\(content)"
        let bytes = Array(response.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            written += count
        }
    }
}
