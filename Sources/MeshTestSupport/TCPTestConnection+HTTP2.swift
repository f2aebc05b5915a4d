import Foundation

extension TCPTestConnection {
    /// Speaks just enough HTTP/2 with prior knowledge to test a server: sends the connection
    /// preface, SETTINGS, and a `GET` for every path at once (streams 1, 3, 5, ...), then reads
    /// until every stream has ended. Returns each stream's body as text, in `paths` order.
    ///
    /// Header blocks use HPACK literals without indexing, and response headers are not decoded.
    public func fetchHTTP2PriorKnowledge(paths: [String], authority: String) throws -> [String] {
        func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
            let length = UInt32(payload.count)
            return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
                    UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
        }
        func literal(_ name: String, _ value: String) -> [UInt8] {
            // Literal header field without indexing, new name; short strings only (< 127 bytes).
            [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
        }
        var out = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + frame(type: 0x4, flags: 0, stream: 0, payload: [])
        var bodies: [UInt32: [UInt8]] = [:]
        for (index, path) in paths.enumerated() {
            let stream = UInt32(index * 2 + 1)
            let block = literal(":method", "GET") + literal(":scheme", "http") + literal(":path", path) + literal(":authority", authority)
            out += frame(type: 0x1, flags: 0x4 | 0x1, stream: stream, payload: block)  // END_HEADERS | END_STREAM
            bodies[stream] = []
        }
        try write(out)
        var open = Set(bodies.keys)
        while !open.isEmpty {
            let header = try read(count: 9)
            let length = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
            let type = header[3], flags = header[4]
            let stream = UInt32(header[5] & 0x7F) << 24 | UInt32(header[6]) << 16 | UInt32(header[7]) << 8 | UInt32(header[8])
            let payload = try read(count: length)
            switch type {
            case 0x0:  // DATA
                bodies[stream, default: []] += payload
                if flags & 0x1 != 0 { open.remove(stream) }
                if !payload.isEmpty {
                    // Give the flow-control window back for the connection and the stream.
                    let increment = UInt32(payload.count)
                    let bytes = [UInt8(increment >> 24 & 0x7F), UInt8(increment >> 16 & 0xFF), UInt8(increment >> 8 & 0xFF), UInt8(increment & 0xFF)]
                    try write(frame(type: 0x8, flags: 0, stream: 0, payload: bytes) + frame(type: 0x8, flags: 0, stream: stream, payload: bytes))
                }
            case 0x1:  // HEADERS
                if flags & 0x1 != 0 { open.remove(stream) }
            case 0x3:  // RST_STREAM
                throw SocketError("stream \(stream) was reset", ECONNRESET)
            case 0x4:  // SETTINGS
                if flags & 0x1 == 0 { try write(frame(type: 0x4, flags: 0x1, stream: 0, payload: [])) }
            case 0x7:  // GOAWAY
                throw SocketError("server sent GOAWAY", ECONNRESET)
            default:
                break
            }
        }
        return paths.indices.map { String(decoding: bodies[UInt32($0 * 2 + 1)] ?? [], as: UTF8.self) }
    }
}
