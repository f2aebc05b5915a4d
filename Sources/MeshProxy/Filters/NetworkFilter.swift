public import NIOCore
public import SwiftProtobuf

/// What a network filter hook tells the connection to do next, as Envoy's `FilterStatus`.
public enum NetworkFilterStatus: Sendable, Hashable {
    /// Pass the event or bytes to the next filter (and finally to the terminal filter).
    case `continue`
    /// Hold the bytes (and anything after them) until the filter calls
    /// ``NetworkFilterContext/continueReading()`` (or ``NetworkFilterContext/continueWriting()``
    /// for written bytes), or closes the connection.
    case stopIteration
}

/// One filter instance for one downstream connection, made by a ``NetworkFilterFactory`` per
/// connection. Network filters run before the chain's terminal filter (`tcp_proxy` or the HTTP
/// connection manager) and see the raw (decrypted) bytes in both directions.
///
/// Hooks run on the connection's event loop, in chain order for the connection and for bytes
/// read from downstream, in reverse order for bytes written to downstream. Every hook has a
/// default that continues.
///
/// ```swift
/// final class DenyAllFilter: NetworkFilter {
///     func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
///         context.close()
///         return .stopIteration
///     }
/// }
/// ```
public protocol NetworkFilter: AnyObject {
    /// The connection was accepted and its chain selected; nothing was read yet.
    func onNewConnection(context: NetworkFilterContext) -> NetworkFilterStatus
    /// Bytes read from downstream (`endOfStream` when the peer half-closed; `data` may be empty then).
    func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus
    /// Bytes about to be written to downstream.
    func onWrite(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus
    /// The connection closed.
    func onClose(context: NetworkFilterContext)
}

extension NetworkFilter {
    public func onNewConnection(context: NetworkFilterContext) -> NetworkFilterStatus { .continue }
    public func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus { .continue }
    public func onWrite(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus { .continue }
    public func onClose(context: NetworkFilterContext) {}
}

/// Creates network filters of one kind: validates the typed configuration once per listener
/// update (an invalid config NACKs the listener), then makes one filter per connection.
public protocol NetworkFilterFactory: Sendable {
    /// The type URL of the configuration message, e.g.
    /// `type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC`.
    static var typeURL: String { get }
    /// Validates the filter's configuration.
    /// - Parameter config: The filter's `typed_config`.
    /// - Throws: Any error; its description becomes the NACK's detail.
    init(config: Google_Protobuf_Any) throws
    /// A new filter for one connection; called on the connection's event loop.
    func makeFilter() -> any NetworkFilter
}

/// The network filter factories listeners may use before their terminal filter, passed in by
/// whoever builds the proxy (no global registration).
public struct NetworkFilterRegistry: Sendable {
    private var factories: [String: any NetworkFilterFactory.Type] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a factory; a later registration for the same type URL replaces the earlier one.
    public mutating func register(_ factory: any NetworkFilterFactory.Type) {
        factories[String(HTTPFilterRegistry.typeName(factory.typeURL))] = factory
    }

    /// The factory for a filter's `typed_config` (by its type URL, or the inner type URL of a
    /// `TypedStruct`), if registered.
    public func factory(for config: Google_Protobuf_Any) -> (any NetworkFilterFactory.Type)? {
        let typeURL = config.typedStruct?.typeURL ?? config.typeURL
        return factories[String(HTTPFilterRegistry.typeName(typeURL))]
    }

    /// The configuration type URLs of the registered factories, sorted.
    public var typeURLs: [String] { factories.values.map { $0.typeURL }.sorted() }

    /// The network filters the Swift proxy ships: RBAC (`envoy.filters.network.rbac`).
    public static var standard: NetworkFilterRegistry {
        var registry = NetworkFilterRegistry()
        registry.register(NetworkRBACFilterFactory.self)
        return registry
    }
}

/// A network filter's view of its connection: addresses, TLS, stats, dynamic metadata, and the
/// ways to resume or close it. Use it only on ``eventLoop``.
public final class NetworkFilterContext {
    private let channel: any Channel
    private let stats: StatsStore?
    weak var handler: NetworkFilterChainHandler?
    let index: Int

    init(channel: any Channel, stats: StatsStore?, handler: NetworkFilterChainHandler, index: Int) {
        self.channel = channel
        self.stats = stats
        self.handler = handler
        self.index = index
    }

    /// The connection's event loop.
    public var eventLoop: any EventLoop { channel.eventLoop }
    /// The downstream peer's address.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
    /// The local address the connection arrived on: its original destination when the
    /// `original_dst` listener filter restored one (transparent capture).
    public var localAddress: SocketAddress? { handler?.originalDestination ?? channel.localAddress }
    /// The downstream TLS session, nil for plaintext (filled by the TLS layer once the handshake
    /// completes, before any decrypted byte reaches the filters).
    public var downstreamTLS: DownstreamTLSInfo? { handler?.tls }

    /// The connection's dynamic metadata by namespace (as for HTTP streams).
    public var allDynamicMetadata: [String: Google_Protobuf_Struct] { handler?.dynamicMetadata ?? [:] }

    /// Merges `fields` into a namespace of the connection's dynamic metadata.
    public func setDynamicMetadata(namespace: String, _ fields: Google_Protobuf_Struct) {
        guard let handler else { return }
        var current = handler.dynamicMetadata[namespace] ?? Google_Protobuf_Struct()
        for (key, value) in fields.fields { current.fields[key] = value }
        handler.dynamicMetadata[namespace] = current
    }

    /// A counter in the proxy's root stats scope (network filters name their own prefix, such
    /// as `tcp.rbac.denied`), created on first use.
    public func counter(_ name: String) -> StatCounter {
        guard let stats else { return StatCounter() }
        return stats.counter(name, prometheus: .init(name: "envoy_" + String(name.map { $0 == "." || $0 == "-" ? "_" : $0 }), labels: []))
    }

    /// Resumes reading after ``NetworkFilterStatus/stopIteration``: held bytes go to the next filter.
    public func continueReading() { handler?.continueReading(after: index) }

    /// Resumes writing after a write hook returned ``NetworkFilterStatus/stopIteration``.
    public func continueWriting() { handler?.continueWriting(after: index) }

    /// Closes the connection without flushing pending writes (Envoy's `NoFlush` close).
    public func close() { handler?.closeConnection() }
}
