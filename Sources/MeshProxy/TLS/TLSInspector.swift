import NIOCore

/// What the TLS inspector learned from a connection's first bytes.
struct ClientHelloSummary: Sendable, Equatable {
    /// The SNI host name, lowercased.
    var serverName: String?
    /// The ALPN protocols the client offered, in its order.
    var applicationProtocols: [String]
}

/// Envoy's `tls_inspector` parsing: whether the first bytes are a TLS ClientHello, and its SNI
/// and ALPN. The ClientHello may span several handshake records.
enum ClientHelloParser {
    enum Result: Equatable {
        /// Not enough bytes yet.
        case needMoreData
        /// Not TLS: filter-chain matching sees `raw_buffer`.
        case notTLS
        /// A ClientHello: matching sees `tls`, the SNI and the ALPN list.
        case clientHello(ClientHelloSummary)
        /// A TLS handshake record that is not a well-formed ClientHello (Envoy closes the connection).
        case invalid
    }

    /// Envoy's default `max_client_hello_size`.
    static let maximumClientHelloSize = 64 * 1024

    static func parse(_ bytes: ByteBufferView) -> Result {
        let data = Array(bytes)
        guard let first = data.first else { return .needMoreData }
        // A TLS record of type handshake (22), version 3.x.
        guard first == 0x16 else { return .notTLS }
        if data.count >= 2, data[1] != 0x03 { return .notTLS }
        // Reassemble the handshake messages from consecutive handshake records.
        var handshake: [UInt8] = []
        var offset = 0
        while true {
            guard data.count >= offset + 5 else { return .needMoreData }
            guard data[offset] == 0x16, data[offset + 1] == 0x03 else { return .invalid }
            let length = Int(data[offset + 3]) << 8 | Int(data[offset + 4])
            guard length > 0, length <= 16384 + 2048 else { return .invalid }
            guard data.count >= offset + 5 + length else { return handshake.count + data.count - offset > maximumClientHelloSize ? .invalid : .needMoreData }
            handshake += data[(offset + 5)..<(offset + 5 + length)]
            offset += 5 + length
            if handshake.count >= 4 {
                guard handshake[0] == 0x01 else { return .invalid }
                let messageLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard messageLength <= maximumClientHelloSize else { return .invalid }
                if handshake.count >= 4 + messageLength {
                    return parseClientHello(handshake[4..<(4 + messageLength)]).map(Result.clientHello) ?? .invalid
                }
            }
        }
    }

    private static func parseClientHello(_ body: ArraySlice<UInt8>) -> ClientHelloSummary? {
        var reader = Reader(bytes: body)
        guard reader.skip(2 + 32),                       // legacy_version, random
              let sessionLength = reader.u8(), reader.skip(Int(sessionLength)),
              let suitesLength = reader.u16(), reader.skip(Int(suitesLength)),
              let compressionLength = reader.u8(), reader.skip(Int(compressionLength))
        else { return nil }
        var summary = ClientHelloSummary(serverName: nil, applicationProtocols: [])
        guard !reader.isEmpty else { return summary }    // no extensions
        guard let extensionsLength = reader.u16(), var extensions = reader.take(Int(extensionsLength)) else { return nil }
        while !extensions.isEmpty {
            guard let type = extensions.u16(), let length = extensions.u16(), var body = extensions.take(Int(length)) else { return nil }
            switch type {
            case 0:   // server_name
                guard let listLength = body.u16(), var list = body.take(Int(listLength)) else { return nil }
                while !list.isEmpty {
                    guard let nameType = list.u8(), let nameLength = list.u16(), let name = list.take(Int(nameLength)) else { return nil }
                    if nameType == 0, summary.serverName == nil {
                        summary.serverName = String(decoding: name.bytes, as: UTF8.self).lowercased()
                    }
                }
            case 16:  // application_layer_protocol_negotiation
                guard let listLength = body.u16(), var list = body.take(Int(listLength)) else { return nil }
                while !list.isEmpty {
                    guard let protocolLength = list.u8(), protocolLength > 0, let name = list.take(Int(protocolLength)) else { return nil }
                    summary.applicationProtocols.append(String(decoding: name.bytes, as: UTF8.self))
                }
            default:
                break
            }
        }
        return summary
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>
        var isEmpty: Bool { bytes.isEmpty }
        mutating func u8() -> UInt8? {
            guard let value = bytes.first else { return nil }
            bytes = bytes.dropFirst()
            return value
        }
        mutating func u16() -> UInt16? {
            guard bytes.count >= 2 else { return nil }
            let value = UInt16(bytes[bytes.startIndex]) << 8 | UInt16(bytes[bytes.startIndex + 1])
            bytes = bytes.dropFirst(2)
            return value
        }
        mutating func skip(_ count: Int) -> Bool {
            guard bytes.count >= count else { return false }
            bytes = bytes.dropFirst(count)
            return true
        }
        mutating func take(_ count: Int) -> Reader? {
            guard bytes.count >= count else { return nil }
            let taken = bytes.prefix(count)
            bytes = bytes.dropFirst(count)
            return Reader(bytes: taken)
        }
    }
}

/// What the inspecting listener filters found in a connection's first bytes.
struct ListenerInspection: Sendable {
    /// The TLS ClientHello (`tls_inspector`); nil for plaintext.
    var tls: ClientHelloSummary?
    /// `http/1.1`, `http/1.0` or `h2c` for plaintext HTTP (`http_inspector`); nil otherwise.
    var httpProtocol: String?
}

/// The `envoy.filters.listener.tls_inspector` and `envoy.filters.listener.http_inspector`
/// listener filters: hold a new connection's first bytes until it is known whether they are a TLS
/// ClientHello and, for plaintext, whether they are HTTP/1.x or HTTP/2 (h2c), call `decided`
/// with the findings so the filter chain can be chosen and installed after this handler, then
/// replay the bytes and remove themselves. A malformed ClientHello, or the peer closing before the
/// decision, closes the connection; so does the listener-filter timeout unless the listener
/// continues on timeout (with what is known).
final class ListenerInspectorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let decided: (ChannelHandlerContext, ListenerInspection) throws -> Void
    private let inspectsTLS: Bool
    private let inspectsHTTP: Bool
    private let timeout: TimeAmount?
    private let continueOnTimeout: Bool
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var done = false

    init(inspectsTLS: Bool = true, inspectsHTTP: Bool = false, timeout: TimeAmount?, continueOnTimeout: Bool,
         decided: @escaping (ChannelHandlerContext, ListenerInspection) throws -> Void) {
        self.inspectsTLS = inspectsTLS
        self.inspectsHTTP = inspectsHTTP
        self.timeout = timeout
        self.continueOnTimeout = continueOnTimeout
        self.decided = decided
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let timeout else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, !self.done else { return }
            if self.continueOnTimeout { self.finish(context: context, ListenerInspection()) } else { context.close(promise: nil) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !done else {
            context.fireChannelRead(wrapInboundOut(bytes))
            return
        }
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        let view = buffered!.readableBytesView
        if inspectsTLS {
            switch ClientHelloParser.parse(view) {
            case .needMoreData:
                if buffered!.readableBytes > ClientHelloParser.maximumClientHelloSize + 5 { context.close(promise: nil) }
                return
            case .clientHello(let summary):
                finish(context: context, ListenerInspection(tls: summary))
                return
            case .invalid:
                done = true
                context.close(promise: nil)
                return
            case .notTLS:
                break
            }
        }
        guard inspectsHTTP else {
            finish(context: context, ListenerInspection())
            return
        }
        switch HTTPInspection.detect(view) {
        case .needMoreData: break
        case .detected(let httpProtocol): finish(context: context, ListenerInspection(httpProtocol: httpProtocol))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done = true
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, _ inspection: ListenerInspection) {
        done = true
        timer?.cancel()
        do { try decided(context, inspection) } catch {
            context.close(promise: nil)
            return
        }
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// The `http_inspector`'s detection: the HTTP/2 connection preface (`h2c`), or an HTTP/1.x
/// request line (`http/1.1`, `http/1.0`).
enum HTTPInspection: Equatable {
    case needMoreData
    /// The protocol, or nil when the bytes are not HTTP.
    case detected(String?)

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// How far a request line is looked for (Envoy inspects at most 64 KiB).
    static let maximumInspected = 64 * 1024

    static func detect<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> HTTPInspection {
        let prefix = bytes.prefix(preface.count)
        if prefix.elementsEqual(preface.prefix(prefix.count)) {
            return prefix.count == preface.count ? .detected("h2c") : .needMoreData
        }
        // METHOD SP request-target SP HTTP/1.x CRLF, judged as far as the bytes go.
        var index = bytes.startIndex
        var methodLength = 0
        while index != bytes.endIndex, isTokenCharacter(bytes[index]) {
            methodLength += 1
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex else { return methodLength > 0 && bytes.count < maximumInspected ? .needMoreData : .detected(nil) }
        guard methodLength > 0, bytes[index] == UInt8(ascii: " ") else { return .detected(nil) }
        index = bytes.index(after: index)
        var targetLength = 0
        while index != bytes.endIndex, bytes[index] > 0x20, bytes[index] != 0x7F {
            targetLength += 1
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex else { return bytes.count < maximumInspected ? .needMoreData : .detected(nil) }
        guard targetLength > 0, bytes[index] == UInt8(ascii: " ") else { return .detected(nil) }
        let version = bytes[bytes.index(after: index)...].prefix(10)
        let expected = Array("HTTP/1.".utf8)
        let head = version.prefix(expected.count)
        guard head.elementsEqual(expected.prefix(head.count)) else { return .detected(nil) }
        guard version.count >= 10 else { return .needMoreData }
        let minor = version[version.index(version.startIndex, offsetBy: 7)]
        let tail = version.suffix(2)
        guard tail.elementsEqual([0x0D, 0x0A]) else { return .detected(nil) }
        switch minor {
        case UInt8(ascii: "1"): return .detected("http/1.1")
        case UInt8(ascii: "0"): return .detected("http/1.0")
        default: return .detected(nil)
        }
    }

    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
