import NIOCore
import NIOHTTP1

/// Writes the echo server's JSON answer straight into a `ByteBuffer`, without `Foundation` or
/// intermediate strings on the request path.
///
/// The document looks like
/// `{"name":"a","address":"127.0.0.5:8080","remote":"127.0.0.1:51234","protocol":"HTTP/1.1",
/// "request":{"method":"GET","path":"/x?y=1","host":"h","headers":{"host":"h"},"bodySize":0}}`.
/// Header names are lower-cased; repeated headers are joined with `", "`.
struct EchoResponder: Sendable {
    /// The name reported in every answer (`--name`).
    let name: String
    /// The server's own address, `HOST:PORT`.
    let address: String
    /// The connection's peer, `HOST:PORT`.
    let remote: String

    init(name: String, localAddress: SocketAddress?, remoteAddress: SocketAddress?) {
        self.name = name
        self.address = Self.format(localAddress)
        self.remote = Self.format(remoteAddress)
    }

    private static func format(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    /// Appends the JSON document describing `head` (and a body of `bodySize` bytes) to `out`.
    func writeJSON(for head: HTTPRequestHead, bodySize: Int, into out: inout ByteBuffer) {
        out.writeStaticString("{\"name\":")
        out.writeJSONString(name)
        out.writeStaticString(",\"address\":")
        out.writeJSONString(address)
        out.writeStaticString(",\"remote\":")
        out.writeJSONString(remote)
        out.writeStaticString(",\"protocol\":\"")
        switch (head.version.major, head.version.minor) {
        case (2, _): out.writeStaticString("HTTP/2.0")
        case (1, 0): out.writeStaticString("HTTP/1.0")
        default: out.writeStaticString("HTTP/1.1")
        }
        out.writeStaticString("\",\"request\":{\"method\":")
        out.writeJSONString(head.method.rawValue)
        out.writeStaticString(",\"path\":")
        out.writeJSONString(head.uri)
        out.writeStaticString(",\"host\":")
        out.writeJSONString(head.headers.first(name: "host") ?? "")
        out.writeStaticString(",\"headers\":{")
        writeHeaders(head.headers, into: &out)
        out.writeStaticString("},\"bodySize\":")
        out.writeString(String(bodySize))
        out.writeStaticString("}}\n")
    }

    private func writeHeaders(_ headers: HTTPHeaders, into out: inout ByteBuffer) {
        // Few headers per request: a quadratic scan joins repeats without building a dictionary.
        var first = true
        var index = 0
        for (name, _) in headers {
            defer { index += 1 }
            var seenBefore = false
            var earlier = 0
            for (other, _) in headers {
                if earlier == index { break }
                if other.utf8.count == name.utf8.count && Self.equalIgnoringCase(other, name) {
                    seenBefore = true
                    break
                }
                earlier += 1
            }
            if seenBefore { continue }
            if !first { out.writeStaticString(",") }
            first = false
            out.writeJSONString(name, lowercased: true)
            out.writeStaticString(":\"")
            var firstValue = true
            for (other, value) in headers where other.utf8.count == name.utf8.count && Self.equalIgnoringCase(other, name) {
                if !firstValue { out.writeStaticString(", ") }
                firstValue = false
                out.writeJSONEscaped(value)
            }
            out.writeStaticString("\"")
        }
    }

    private static func equalIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8) { x, y in asciiLower(x) == asciiLower(y) }
    }

    fileprivate static func asciiLower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}

extension ByteBuffer {
    /// Writes `text` as a quoted JSON string.
    fileprivate mutating func writeJSONString(_ text: String, lowercased: Bool = false) {
        writeInteger(UInt8(ascii: "\""))
        writeJSONEscaped(text, lowercased: lowercased)
        writeInteger(UInt8(ascii: "\""))
    }

    /// Writes the JSON escape of `text`, without quotes.
    fileprivate mutating func writeJSONEscaped(_ text: String, lowercased: Bool = false) {
        let hex: StaticString = "0123456789abcdef"
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): writeStaticString("\\\"")
            case UInt8(ascii: "\\"): writeStaticString("\\\\")
            case 0x0A: writeStaticString("\\n")
            case 0x0D: writeStaticString("\\r")
            case 0x09: writeStaticString("\\t")
            case 0..<0x20:
                writeStaticString("\\u00")
                hex.withUTF8Buffer { digits in
                    writeInteger(digits[Int(byte >> 4)])
                    writeInteger(digits[Int(byte & 0x0F)])
                }
            default:
                writeInteger(lowercased ? EchoResponder.asciiLower(byte) : byte)
            }
        }
    }
}
