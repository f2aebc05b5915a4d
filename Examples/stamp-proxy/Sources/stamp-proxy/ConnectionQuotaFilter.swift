import MeshProxy
import NIOCore
import SwiftProtobuf

/// An example network filter: it counts the bytes each downstream connection sends and closes the
/// connection once they pass a quota, before the bytes reach `tcp_proxy` or the HTTP connection
/// manager. It counts `example.connection_quota.closed` and leaves the byte counts in the
/// connection's dynamic metadata (`example.connection_quota`) for access logs.
///
/// Configure it from any control plane with a `TypedStruct` (for Istio, an EnvoyFilter that
/// inserts it before the chain's `envoy.filters.network.tcp_proxy`):
///
/// ```yaml
/// - name: example.connection_quota
///   typed_config:
///     "@type": type.googleapis.com/xds.type.v3.TypedStruct
///     type_url: type.googleapis.com/example.ConnectionQuota
///     value: {max_bytes: 1024}
/// ```
struct ConnectionQuotaFilterFactory: NetworkFilterFactory {
    static let typeURL = "type.googleapis.com/example.ConnectionQuota"

    /// The most bytes a connection may send.
    let maxBytes: Int

    init(config: Google_Protobuf_Any) throws {
        guard let typed = config.typedStruct else { throw StampConfigError("expected a TypedStruct, got \(config.typeURL)") }
        guard case .numberValue(let number)? = typed.value.fields["max_bytes"]?.kind, number >= 1, number <= Double(Int32.max),
              number == number.rounded() else {
            throw StampConfigError("value.max_bytes must be a whole number between 1 and \(Int32.max)")
        }
        maxBytes = Int(number)
    }

    func makeFilter() -> any NetworkFilter { ConnectionQuotaFilter(maxBytes: maxBytes) }
}

/// One connection's instance.
final class ConnectionQuotaFilter: NetworkFilter {
    private let maxBytes: Int
    private var received = 0
    private var sent = 0

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    func onData(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
        received += data.readableBytes
        guard received <= maxBytes else {
            context.counter("example.connection_quota.closed").increment()
            context.close()
            return .stopIteration
        }
        return .continue
    }

    func onWrite(_ data: inout ByteBuffer, endOfStream: Bool, context: NetworkFilterContext) -> NetworkFilterStatus {
        sent += data.readableBytes
        return .continue
    }

    func onClose(context: NetworkFilterContext) {
        context.setDynamicMetadata(namespace: "example.connection_quota", Google_Protobuf_Struct(fields: [
            "received": Google_Protobuf_Value(numberValue: Double(received)),
            "sent": Google_Protobuf_Value(numberValue: Double(sent)),
        ]))
    }
}
