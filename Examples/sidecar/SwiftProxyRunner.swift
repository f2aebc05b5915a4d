import Logging
import MeshProxy
import MeshXDS
import ServiceLifecycle
import SwiftProtobuf

/// Runs the Swift proxy in the agent's process (`sidecar --proxy swift`): same node identity and
/// metadata as the Envoy bootstrap, ADS to `--xds`, admin on `IP:admin-port`.
enum SwiftProxyRunner {
    static func node(_ node: ProxyNode) -> Envoy_Config_Core_V3_Node {
        var proto = Envoy_Config_Core_V3_Node()
        proto.id = node.identity.nodeID
        proto.cluster = node.serviceCluster
        proto.metadata = structValue(node.metadata)
        proto.userAgentName = "swiftmesh-proxy"
        return proto
    }

    static func structValue(_ json: JSONValue) -> Google_Protobuf_Struct {
        guard case .object(let fields) = json else { return Google_Protobuf_Struct() }
        return Google_Protobuf_Struct(fields: fields.mapValues(value))
    }

    static func value(_ json: JSONValue) -> Google_Protobuf_Value {
        switch json {
        case .string(let s): Google_Protobuf_Value(stringValue: s)
        case .number(let n): Google_Protobuf_Value(numberValue: Double(n))
        case .bool(let b): Google_Protobuf_Value(boolValue: b)
        case .array(let items): Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: items.map(value)))
        case .object: Google_Protobuf_Value(structValue: structValue(json))
        case .null: { var v = Google_Protobuf_Value(); v.nullValue = .nullValue; return v }()
        }
    }

    static func run(node: ProxyNode, xdsHost: String, xdsPort: Int, adminPort: Int, concurrency: Int, logger: Logger) async throws {
        let proxy = ProxyServer(
            configuration: .init(node: Self.node(node), xdsHost: xdsHost, xdsPort: xdsPort,
                                 adminHost: node.ip, adminPort: adminPort, workerThreads: max(1, concurrency)),
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: proxy, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
