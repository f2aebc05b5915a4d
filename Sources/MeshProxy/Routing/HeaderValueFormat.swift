public import NIOHTTP1

/// What a header value's `%COMMAND%` formatters read, supplied by the engine per request.
///
/// Every field is optional; a formatter whose input is missing produces the empty string (and an
/// addition whose value ends up empty is skipped unless `keep_empty_value` is set).
public struct HeaderFormatterContext: Sendable {
    /// The downstream peer, `ip:port` (`[v6]:port` for IPv6), after any trusted `x-forwarded-for` processing.
    public var downstreamRemoteAddress: String?
    /// The downstream peer as seen on the socket, `ip:port`.
    public var downstreamDirectRemoteAddress: String?
    /// The local address the downstream connection arrived on, `ip:port`.
    public var downstreamLocalAddress: String?
    /// The upstream host the request went to, `ip:port` (response headers only).
    public var upstreamRemoteAddress: String?
    /// The downstream protocol: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2` or `HTTP/3`.
    public var `protocol`: String?
    /// This machine's host name.
    public var hostname: String?
    /// The request's headers, for `%REQ(...)%`.
    public var requestHeaders: HTTPHeaders?

    /// A context with nothing known.
    public init(
        downstreamRemoteAddress: String? = nil,
        downstreamDirectRemoteAddress: String? = nil,
        downstreamLocalAddress: String? = nil,
        upstreamRemoteAddress: String? = nil,
        `protocol`: String? = nil,
        hostname: String? = nil,
        requestHeaders: HTTPHeaders? = nil
    ) {
        self.downstreamRemoteAddress = downstreamRemoteAddress
        self.downstreamDirectRemoteAddress = downstreamDirectRemoteAddress
        self.downstreamLocalAddress = downstreamLocalAddress
        self.upstreamRemoteAddress = upstreamRemoteAddress
        self.protocol = `protocol`
        self.hostname = hostname
        self.requestHeaders = requestHeaders
    }
}

/// A header value from the configuration, parsed once into literal text and `%COMMAND%` formatters.
///
/// Supported formatters: `%DOWNSTREAM_REMOTE_ADDRESS%`, `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`,
/// `%DOWNSTREAM_REMOTE_PORT%`, `%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%`,
/// `%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%`, `%DOWNSTREAM_LOCAL_ADDRESS%`,
/// `%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%`, `%DOWNSTREAM_LOCAL_PORT%`, `%UPSTREAM_REMOTE_ADDRESS%`,
/// `%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`, `%PROTOCOL%`, `%HOSTNAME%` and `%REQ(name?alternative):max%`;
/// `%%` is a literal percent sign. Any other `%COMMAND%` (Envoy's `%START_TIME%`,
/// `%UPSTREAM_METADATA(...)%` and the rest) makes the route configuration fail with an "unsupported"
/// error rather than sending the command as literal text, and a `%` that starts no valid command is
/// invalid, as in Envoy.
public struct HeaderValueFormat: Sendable, Hashable {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case downstreamRemoteAddress(withPort: Bool)
        case downstreamRemotePort
        case downstreamDirectRemoteAddress(withPort: Bool)
        case downstreamLocalAddress(withPort: Bool)
        case downstreamLocalPort
        case upstreamRemoteAddress(withPort: Bool)
        case `protocol`
        case hostname
        case requestHeader(main: String, alternative: String?)
    }

    struct Piece: Sendable, Hashable {
        let segment: Segment
        let maxLength: Int?
    }

    let pieces: [Piece]

    /// The text when the value has no formatters, so applying it costs nothing.
    let literal: String?

    /// Why a value cannot be parsed; `isUnsupported` separates Envoy commands this proxy lacks from malformed text.
    struct ParseError: Error {
        let message: String
        let isUnsupported: Bool
    }

    /// Parses `text`.
    init(parsing text: String) throws(ParseError) {
        var pieces: [Piece] = []
        var literal = ""
        let bytes = Array(text.utf8)
        var i = 0
        func flush() {
            if !literal.isEmpty { pieces.append(Piece(segment: .literal(literal), maxLength: nil)); literal = "" }
        }
        while i < bytes.count {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "%") else {
                // Copy the run of literal bytes up to the next percent sign.
                var j = i
                while j < bytes.count, bytes[j] != UInt8(ascii: "%") { j += 1 }
                literal += String(decoding: bytes[i..<j], as: UTF8.self)
                i = j
                continue
            }
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "%") {
                literal += "%"
                i += 2
                continue
            }
            // %NAME%, %NAME(args)% or %NAME(args):N%
            var j = i + 1
            while j < bytes.count, Self.isCommandByte(bytes[j]) { j += 1 }
            let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
            var argument: String?
            if j < bytes.count, bytes[j] == UInt8(ascii: "(") {
                var k = j + 1
                while k < bytes.count, bytes[k] != UInt8(ascii: ")") { k += 1 }
                guard k < bytes.count else {
                    throw ParseError(message: "unterminated \"(\" in formatter at byte \(i) of \"\(text)\"", isUnsupported: false)
                }
                argument = String(decoding: bytes[(j + 1)..<k], as: UTF8.self)
                j = k + 1
            }
            var maxLength: Int?
            if j < bytes.count, bytes[j] == UInt8(ascii: ":") {
                var k = j + 1
                while k < bytes.count, bytes[k] &- 48 < 10 { k += 1 }
                guard k > j + 1, let length = Int(String(decoding: bytes[(j + 1)..<k], as: UTF8.self)) else {
                    throw ParseError(message: "formatter at byte \(i) of \"\(text)\" has a \":\" without a length", isUnsupported: false)
                }
                maxLength = length
                j = k
            }
            guard !name.isEmpty, j < bytes.count, bytes[j] == UInt8(ascii: "%") else {
                throw ParseError(message: "no valid %COMMAND% at byte \(i) of \"\(text)\" (write %% for a literal percent sign)", isUnsupported: false)
            }
            flush()
            pieces.append(Piece(segment: try Self.segment(name: name, argument: argument), maxLength: maxLength))
            i = j + 1
        }
        flush()
        self.pieces = pieces
        if pieces.isEmpty {
            self.literal = ""
        } else if pieces.count == 1, case .literal(let text) = pieces[0].segment {
            self.literal = text
        } else {
            self.literal = nil
        }
    }

    /// A value with no formatters.
    init(literal text: String) {
        pieces = text.isEmpty ? [] : [Piece(segment: .literal(text), maxLength: nil)]
        literal = text
    }

    private static func isCommandByte(_ byte: UInt8) -> Bool {
        byte &- 65 < 26 || byte &- 48 < 10 || byte == UInt8(ascii: "_")
    }

    private static func segment(name: String, argument: String?) throws(ParseError) -> Segment {
        func noArgument(_ segment: Segment) throws(ParseError) -> Segment {
            guard argument == nil else { throw ParseError(message: "%\(name)% takes no argument", isUnsupported: false) }
            return segment
        }
        switch name {
        case "DOWNSTREAM_REMOTE_ADDRESS": return try noArgument(.downstreamRemoteAddress(withPort: true))
        case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": return try noArgument(.downstreamRemoteAddress(withPort: false))
        case "DOWNSTREAM_REMOTE_PORT": return try noArgument(.downstreamRemotePort)
        case "DOWNSTREAM_DIRECT_REMOTE_ADDRESS": return try noArgument(.downstreamDirectRemoteAddress(withPort: true))
        case "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": return try noArgument(.downstreamDirectRemoteAddress(withPort: false))
        case "DOWNSTREAM_LOCAL_ADDRESS": return try noArgument(.downstreamLocalAddress(withPort: true))
        case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT": return try noArgument(.downstreamLocalAddress(withPort: false))
        case "DOWNSTREAM_LOCAL_PORT": return try noArgument(.downstreamLocalPort)
        case "UPSTREAM_REMOTE_ADDRESS": return try noArgument(.upstreamRemoteAddress(withPort: true))
        case "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": return try noArgument(.upstreamRemoteAddress(withPort: false))
        case "PROTOCOL": return try noArgument(.protocol)
        case "HOSTNAME": return try noArgument(.hostname)
        case "REQ":
            guard let argument, !argument.isEmpty else { throw ParseError(message: "%REQ(...)% needs a header name", isUnsupported: false) }
            let parts = argument.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let main = ASCII.lowercased(String(parts[0]))
            let alternative = parts.count > 1 ? ASCII.lowercased(String(parts[1])) : nil
            guard !main.isEmpty, alternative?.isEmpty != true else {
                throw ParseError(message: "%REQ(\(argument))% has an empty header name", isUnsupported: false)
            }
            return .requestHeader(main: main, alternative: alternative)
        default:
            throw ParseError(message: "the header formatter %\(name)% is not supported by this proxy", isUnsupported: true)
        }
    }

    /// Whether the value has any `%COMMAND%` formatter.
    public var isLiteral: Bool { literal != nil }

    /// The value for one request.
    public func format(_ context: HeaderFormatterContext) -> String {
        if let literal { return literal }
        var result = ""
        for piece in pieces {
            var text: Substring
            switch piece.segment {
            case .literal(let s): text = s[...]
            case .downstreamRemoteAddress(let withPort): text = Self.address(context.downstreamRemoteAddress, withPort: withPort)
            case .downstreamRemotePort: text = Self.port(context.downstreamRemoteAddress)
            case .downstreamDirectRemoteAddress(let withPort): text = Self.address(context.downstreamDirectRemoteAddress, withPort: withPort)
            case .downstreamLocalAddress(let withPort): text = Self.address(context.downstreamLocalAddress, withPort: withPort)
            case .downstreamLocalPort: text = Self.port(context.downstreamLocalAddress)
            case .upstreamRemoteAddress(let withPort): text = Self.address(context.upstreamRemoteAddress, withPort: withPort)
            case .protocol: text = (context.protocol ?? "")[...]
            case .hostname: text = (context.hostname ?? "")[...]
            case .requestHeader(let main, let alternative):
                let headers = context.requestHeaders
                let value = headers?.first(name: main) ?? alternative.flatMap { headers?.first(name: $0) } ?? ""
                text = value[...]
            }
            if let maxLength = piece.maxLength, text.count > maxLength { text = text.prefix(maxLength) }
            result += text
        }
        return result
    }

    private static func address(_ address: String?, withPort: Bool) -> Substring {
        guard let address else { return "" }
        if withPort { return address[...] }
        let host = ASCII.hostWithoutPort(address)
        // Envoy prints IPv6 addresses without brackets when the port is dropped.
        if host.hasPrefix("["), host.hasSuffix("]") { return host.dropFirst().dropLast() }
        return host
    }

    private static func port(_ address: String?) -> Substring {
        guard let address else { return "" }
        let host = ASCII.hostWithoutPort(address)
        guard host.endIndex < address.endIndex else { return "" }
        return address[address.index(after: host.endIndex)...]
    }
}
