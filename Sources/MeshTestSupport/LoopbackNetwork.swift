import Foundation
import Synchronization

/// Addresses and ports on the loopback network (127.0.0.0/8) for tests that start servers.
public enum LoopbackNetwork {
    /// A random address in 127.0.0.2-127.0.0.250 that can be bound here (Linux routes all of
    /// 127/8 to `lo`); 127.0.0.1 where only that one works.
    public static func randomAddress() -> String {
        for _ in 0..<5 {
            let candidate = "127.0.0.\(Int.random(in: 2...250))"
            if (try? kernelPickedPort(on: candidate)) != nil { return candidate }
        }
        return "127.0.0.1"
    }

    /// Every `host:port` handed out by ``freePort(on:)`` in this process.
    private static let handedOut = Mutex<Set<String>>([])

    /// A TCP port on `host` that nothing listens on now (the kernel's pick for port 0) and that
    /// this process has not been given before: the kernel picks afresh on every bind, so two calls
    /// for one host can return the same port (about once in 14,000 pairs) before either is bound.
    public static func freePort(on host: String) throws -> Int {
        for _ in 0..<1000 {
            let port = try kernelPickedPort(on: host)
            if handedOut.withLock({ $0.insert("\(host):\(port)").inserted }) { return port }
        }
        throw SocketError("no port on \(host) that was not handed out before", EADDRINUSE)
    }

    private static func kernelPickedPort(on host: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        defer { close(fd) }
        var address = try socketAddress(host, 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SocketError("bind \(host)", errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a TCP connection to `host:port` is accepted now.
    public static func accepts(host: String, port: Int) -> Bool {
        (try? TCPTestConnection(host: host, port: port, timeout: .seconds(1))) != nil
    }

    /// Waits up to `timeout` until `host:port` accepts TCP connections.
    public static func waitUntilAccepting(host: String, port: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if accepts(host: host, port: port) { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    static func socketAddress(_ host: String, _ port: Int) throws -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SocketError("bad IPv4 address \(host)", EINVAL) }
        return address
    }
}

/// A failed socket call in test support code.
public struct SocketError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// A blocking IPv4 TCP connection with send and receive timeouts, for tests.
public final class TCPTestConnection {
    let fd: Int32
    private var buffered: [UInt8] = []

    /// Connects to `host:port`; every later read or write gives up after `timeout`.
    public init(host: String, port: Int, timeout: Duration = .seconds(10)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        setTimeout(timeout)
        var address = try LoopbackNetwork.socketAddress(host, port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: a class initializer that throws once every stored property is set still
        // runs deinit, which closes `fd`; closing it twice could close another thread's new socket.
        guard connected == 0 else { throw SocketError("connect \(host):\(port)", errno) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// From now on, every read or write gives up after `timeout` without progress.
    public func setTimeout(_ timeout: Duration) {
        var time = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw SocketError("send", errno) }
            offset += written
        }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Reads exactly `count` bytes.
    public func read(count: Int) throws -> [UInt8] {
        while buffered.count < count { try fill() }
        let result = Array(buffered.prefix(count))
        buffered.removeFirst(count)
        return result
    }

    /// Reads up to and including the next `\r\n`, returned without it.
    public func readLine() throws -> String {
        while true {
            if let end = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffered[..<end])
                buffered.removeFirst(end + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    /// Whether the peer has closed the connection (waits up to the read timeout for data or EOF).
    public func peerClosed() -> Bool {
        guard buffered.isEmpty else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if received == 0 { throw SocketError("connection closed by peer", ECONNRESET) }
        guard received > 0 else { throw SocketError("recv", errno) }
        buffered.append(contentsOf: chunk[..<received])
    }
}

/// A response read by ``TCPTestConnection/readHTTP1Response()``.
public struct HTTP1TestResponse: Sendable {
    public var status: Int
    /// Header fields in order, names as received.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object.
    public func jsonObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw SocketError("body is not a JSON object: \(text)", EINVAL)
        }
        return object
    }
}

extension TCPTestConnection {
    /// Sends one HTTP/1.1 request (with `content-length` when there is a body).
    public func sendHTTP1Request(method: String = "GET", path: String, host: String, headers: [(String, String)] = [], body: [UInt8] = []) throws {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: \(host)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "content-length: \(body.count)\r\n" }
        text += "\r\n"
        try write(Array(text.utf8) + body)
    }

    /// Reads one HTTP/1.1 response framed by `content-length` or chunked encoding (no body otherwise).
    public func readHTTP1Response() throws -> HTTP1TestResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw SocketError("bad status line \"\(statusLine)\"", EINVAL)
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = HTTP1TestResponse(status: status, headers: headers, body: [])
        if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else {
                    throw SocketError("bad chunk size \"\(sizeLine)\"", EINVAL)
                }
                if size == 0 {
                    while try !readLine().isEmpty {}  // trailers
                    break
                }
                response.body += try read(count: size)
                _ = try readLine()
            }
        } else if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try read(count: length)
        }
        return response
    }
}
