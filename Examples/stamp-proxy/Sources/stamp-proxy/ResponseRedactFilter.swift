import MeshProxy
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// An example response filter: it holds each response until the whole body has arrived
/// (`stopAndBuffer`), masks every occurrence of a configured word with `*`, and fixes the held
/// head's `content-length` before letting the response go on. Responses larger than the proxy's
/// buffer limit are answered 500 by the proxy, as Envoy does for a buffering filter.
///
/// ```yaml
/// - name: example.response_redact
///   typed_config:
///     "@type": type.googleapis.com/xds.type.v3.TypedStruct
///     type_url: type.googleapis.com/example.ResponseRedact
///     value: {word: secret}
/// ```
struct ResponseRedactFilterFactory: HTTPFilterFactory {
    static let typeURL = "type.googleapis.com/example.ResponseRedact"

    let word: [UInt8]

    init(config: Google_Protobuf_Any) throws {
        guard let typed = config.typedStruct else { throw StampConfigError("expected a TypedStruct, got \(config.typeURL)") }
        guard case .stringValue(let word)? = typed.value.fields["word"]?.kind, !word.isEmpty else {
            throw StampConfigError("value.word must be a non-empty string")
        }
        self.word = Array(word.utf8)
    }

    func makeFilter() -> any HTTPFilter { ResponseRedactFilter(word: word) }
}

/// One stream's instance.
final class ResponseRedactFilter: HTTPFilter {
    private let word: [UInt8]

    init(word: [UInt8]) { self.word = word }

    func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        // Nothing to rewrite in a response without a body; otherwise hold the head with the body.
        endOfStream ? .continue : .stopAndBuffer
    }

    func encodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        // Called once with the whole body (`endOfStream` true unless trailers follow). An empty
        // one (HEAD, 204, 304) keeps its head as it is: its content-length may describe a body
        // that is not sent.
        guard data.readableBytes > 0 else { return .continue }
        var bytes = Array(data.readableBytesView)
        var masked = 0
        var index = 0
        while index + word.count <= bytes.count {
            if bytes[index..<index + word.count].elementsEqual(word) {
                bytes.replaceSubrange(index..<index + word.count, with: repeatElement(UInt8(ascii: "*"), count: word.count))
                masked += 1
                index += word.count
            } else {
                index += 1
            }
        }
        data = ByteBuffer(bytes: bytes)
        let length = bytes.count
        context.updateResponseHead { head in
            if head.headers.contains(name: "content-length") { head.headers.replaceOrAdd(name: "content-length", value: String(length)) }
            head.headers.replaceOrAdd(name: "x-redacted", value: String(masked))
        }
        if masked > 0 { context.counter("response_redact.masked").increment(by: masked) }
        return .continue
    }
}
