import MeshProxy
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// An example HTTP filter for the Swift proxy, the shape to copy into your own package: it stamps
/// every request with a header before routing, and every response with how long the upstream
/// part took, and answers 403 itself when the request carries a configured "deny" header.
///
/// Configure it from any control plane with a `TypedStruct` (for Istio, an EnvoyFilter that
/// inserts it before the router):
///
/// ```yaml
/// - name: example.request_stamp
///   typed_config:
///     "@type": type.googleapis.com/xds.type.v3.TypedStruct
///     type_url: type.googleapis.com/example.RequestStamp
///     value: {header: x-stamp, value: swiftmesh, deny_header: x-deny}
/// ```
struct RequestStampFilterFactory: HTTPFilterFactory {
    static let typeURL = "type.googleapis.com/example.RequestStamp"

    /// Validated once per listener update.
    struct Config: Sendable {
        var header: String
        var value: String
        var denyHeader: String?
    }

    let config: Config

    init(config: Google_Protobuf_Any) throws {
        guard let typed = config.typedStruct else { throw StampConfigError("expected a TypedStruct, got \(config.typeURL)") }
        guard case .stringValue(let header)? = typed.value.fields["header"]?.kind, !header.isEmpty else {
            throw StampConfigError("value.header must be a non-empty string")
        }
        guard header.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw StampConfigError("value.header \"\(header)\" is not a valid header name")
        }
        var value = ""
        if case .stringValue(let text)? = typed.value.fields["value"]?.kind { value = text }
        var deny: String?
        if case .stringValue(let text)? = typed.value.fields["deny_header"]?.kind, !text.isEmpty { deny = text.lowercased() }
        self.config = Config(header: header.lowercased(), value: value, denyHeader: deny)
    }

    func makeFilter() -> any HTTPFilter { RequestStampFilter(config: config) }
}

/// One stream's instance.
final class RequestStampFilter: HTTPFilter {
    private let config: RequestStampFilterFactory.Config
    private var started: NIODeadline?

    init(config: RequestStampFilterFactory.Config) { self.config = config }

    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        if let deny = config.denyHeader, head.headers.contains(name: deny) {
            context.counter("request_stamp.denied").increment()
            context.sendLocalReply(HTTPLocalReply(status: .forbidden, body: "denied by request_stamp", details: "request_stamp_denied"))
            return .stopIteration
        }
        head.headers.replaceOrAdd(name: config.header, value: config.value)
        started = .now()
        return .continue
    }

    func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
        if let started {
            let micros = (NIODeadline.now() - started).nanoseconds / 1000
            head.headers.replaceOrAdd(name: "\(config.header)-upstream-us", value: String(micros))
        }
        return .continue
    }
}

struct StampConfigError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
