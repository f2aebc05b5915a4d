import MeshXDS
public import NIOCore
public import NIOHTTP1
public import SwiftProtobuf

/// What a filter hook tells the stream to do next, as in Envoy's `FilterHeadersStatus` and
/// `FilterDataStatus`.
public enum HTTPFilterStatus: Sendable, Hashable {
    /// Pass the headers or data to the next filter.
    case `continue`
    /// Hold the headers (and anything after them) until the filter calls
    /// ``HTTPFilterContext/continueDecoding()`` or ``HTTPFilterContext/continueEncoding()``,
    /// or sends a local reply.
    case stopIteration
    /// Hold this and further data in the stream's buffer; the filter sees the buffered body again
    /// with `endOfStream` true once the whole body has arrived. From a headers hook, the headers
    /// wait too. On the response side the buffer is bounded by the connection's buffer limit
    /// (beyond it: 500 before the head went downstream, a reset after).
    case stopAndBuffer
}

/// One filter instance for one HTTP stream (request and response), made by an
/// ``HTTPFilterFactory`` per stream.
///
/// The stream calls the hooks on its event loop, one at a time, in filter-chain order for the
/// request (`decode*`) and in reverse order for the response (`encode*`). A hook that needs to
/// wait (a remote check, a timer) returns ``HTTPFilterStatus/stopIteration`` and later resumes the
/// stream through its ``HTTPFilterContext`` (``HTTPFilterContext/continueDecoding()``,
/// ``HTTPFilterContext/continueEncoding()``) or its ``HTTPStreamResumer`` from any thread.
/// While a filter holds the response, the parts that follow wait with it and reach it when it
/// continues. A filter may answer with a local reply until the response head has gone
/// downstream; a held response is then replaced. Every hook has a default that continues, so a
/// filter implements only what it needs.
///
/// ```swift
/// final class AddHeaderFilter: HTTPFilter {
///     func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
///         head.headers.replaceOrAdd(name: "x-checked", value: "yes")
///         return .continue
///     }
/// }
/// ```
public protocol HTTPFilter: AnyObject {
    /// The request head; may be changed in place.
    func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus
    /// A request body chunk; may be changed in place.
    func decodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus
    /// The request trailers.
    func decodeTrailers(_ trailers: inout HTTPHeaders, context: HTTPFilterContext) -> HTTPFilterStatus
    /// The response head (from upstream or a local reply); may be changed in place.
    func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus
    /// A response body chunk; may be changed in place. The end of a response without trailers
    /// arrives as data with `endOfStream` true (possibly empty).
    func encodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus
    /// The response trailers (gRPC's `grpc-status` ...); may be changed in place.
    func encodeTrailers(_ trailers: inout HTTPHeaders, context: HTTPFilterContext) -> HTTPFilterStatus
    /// Called once when the stream ends, successfully or not.
    func onStreamComplete(context: HTTPFilterContext)
}

extension HTTPFilter {
    public func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func decodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func decodeTrailers(_ trailers: inout HTTPHeaders, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func encodeHeaders(_ head: inout HTTPResponseHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func encodeData(_ data: inout ByteBuffer, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func encodeTrailers(_ trailers: inout HTTPHeaders, context: HTTPFilterContext) -> HTTPFilterStatus { .continue }
    public func onStreamComplete(context: HTTPFilterContext) {}
}

/// Creates filters of one kind: validates the typed configuration once, when a listener is
/// compiled (an invalid config NACKs the listener), then makes one filter per stream.
///
/// Register factories in an ``HTTPFilterRegistry``; an HTTP connection manager selects them by the
/// type URL of each `http_filters[].typed_config`.
public protocol HTTPFilterFactory: Sendable {
    /// The type URL of the configuration message this factory understands, e.g.
    /// `type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault`.
    static var typeURL: String { get }
    /// Validates the filter's configuration.
    /// - Parameter config: The `typed_config` from the HTTP connection manager.
    /// - Throws: Any error; its description becomes the NACK's detail.
    init(config: Google_Protobuf_Any) throws
    /// Validates a route's `typed_per_filter_config` for this filter and returns the parsed value
    /// the filter reads through ``HTTPFilterContext/perRouteConfig``. The default ignores it.
    func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)?
    /// A new filter for one stream; called on the stream's event loop.
    func makeFilter() -> any HTTPFilter
    /// Whether a stream needs this filter, given whether its route (or virtual host) carries
    /// `typed_per_filter_config` for it. A factory whose filters act only on per-route
    /// configuration answers `false` without it, and such streams run without the filter. A
    /// stream's route is matched before its filters run, and again only when a filter clears the
    /// route cache (``HTTPFilterContext/clearRouteCache()``); the filters after that one are then
    /// asked again with the new route. The default is `true`.
    func isNeeded(hasPerRouteConfig: Bool) -> Bool
}

extension HTTPFilterFactory {
    public func parsePerRouteConfig(_ config: Google_Protobuf_Any) throws -> (any Sendable)? { nil }
    public func isNeeded(hasPerRouteConfig: Bool) -> Bool { true }
}

/// A response the proxy generates itself (`sendLocalReply` in Envoy).
public struct HTTPLocalReply: Sendable {
    /// The status.
    public var status: HTTPResponseStatus
    /// Extra response headers.
    public var headers: HTTPHeaders
    /// The body (`text/plain`), if any.
    public var body: String
    /// Why the proxy answered (`response_code_details` in access logs).
    public var details: String
    /// Response flags to record (`FI`, `UAEX`, `RBAC` ...).
    public var flags: ResponseFlags

    /// - Parameters: see the properties.
    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: String = "", details: String, flags: ResponseFlags = []) {
        self.status = status
        self.headers = headers
        self.body = body
        self.details = details
        self.flags = flags
    }
}

/// The named filter factories an HTTP connection manager may use, passed in by whoever builds the
/// proxy (no global registration).
public struct HTTPFilterRegistry: Sendable {
    private var factories: [String: any HTTPFilterFactory.Type] = [:]

    /// An empty registry (the router is always available).
    public init() {}

    /// Adds a factory; a later registration for the same type URL replaces the earlier one.
    public mutating func register(_ factory: any HTTPFilterFactory.Type) {
        factories[String(Self.typeName(factory.typeURL))] = factory
    }

    /// The configuration type URLs of the registered factories, sorted.
    public var typeURLs: [String] { factories.values.map { $0.typeURL }.sorted() }

    /// The factory for a type URL, if registered.
    public func factory(forTypeURL typeURL: String) -> (any HTTPFilterFactory.Type)? {
        factories[String(Self.typeName(typeURL))]
    }

    /// The factory for a filter's `typed_config`: by its type URL, or by the inner type URL when
    /// the config is a `TypedStruct` (the factory then receives the `TypedStruct` and reads it with
    /// ``SwiftProtobuf/Google_Protobuf_Any/typedStruct``).
    public func factory(for config: Google_Protobuf_Any) -> (any HTTPFilterFactory.Type)? {
        if let inner = config.typedStruct { return factory(forTypeURL: inner.typeURL) }
        return factory(forTypeURL: config.typeURL)
    }

    /// The filters the Swift proxy ships: fault injection, CORS, the dynamic forward proxy, RBAC
    /// and JWT authentication.
    public static var standard: HTTPFilterRegistry {
        var registry = HTTPFilterRegistry()
        registry.register(FaultFilterFactory.self)
        registry.register(CORSFilterFactory.self)
        registry.register(DynamicForwardProxyFilterFactory.self)
        registry.register(RBACFilterFactory.self)
        registry.register(JWTAuthnFilterFactory.self)
        return registry
    }

    static func typeName(_ typeURL: String) -> Substring {
        typeURL.split(separator: "/").last ?? Substring(typeURL)
    }
}

extension Google_Protobuf_Any {
    /// For a configuration sent as `xds.type.v3.TypedStruct` or `udpa.type.v1.TypedStruct` (how
    /// control planes send configs of extensions whose proto they do not know, such as an
    /// EnvoyFilter for a custom filter): the inner type URL and its value. Nil for other types.
    public var typedStruct: (typeURL: String, value: Google_Protobuf_Struct)? {
        switch HTTPFilterRegistry.typeName(typeURL) {
        case "xds.type.v3.TypedStruct":
            guard let typed = try? Xds_Type_V3_TypedStruct(serializedBytes: value) else { return nil }
            return (typed.typeURL, typed.value)
        case "udpa.type.v1.TypedStruct":
            guard let typed = try? Udpa_Type_V1_TypedStruct(serializedBytes: value) else { return nil }
            return (typed.typeURL, typed.value)
        default:
            return nil
        }
    }
}
