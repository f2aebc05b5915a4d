import MeshCore
import SwiftProtobuf

/// Small constructors for the Envoy messages every builder needs.
enum Proto {
    static func duration(_ d: ConfigDuration) -> Google_Protobuf_Duration {
        Google_Protobuf_Duration(seconds: d.nanoseconds / 1_000_000_000, nanos: Int32(d.nanoseconds % 1_000_000_000))
    }

    static let zeroDuration = Google_Protobuf_Duration(seconds: 0, nanos: 0)

    /// A socket address, or a pipe for `unix://path`.
    static func address(_ host: String, port: UInt32) -> Envoy_Config_Core_V3_Address {
        if host.hasPrefix("unix://") {
            return .with { $0.pipe = .with { $0.path = String(host.dropFirst("unix://".count)) } }
        }
        return .with { $0.socketAddress = .with { $0.address = host; $0.portValue = port } }
    }

    /// ADS as the config source, as Istio sends it.
    static var adsConfigSource: Envoy_Config_Core_V3_ConfigSource {
        .with {
            $0.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
            $0.initialFetchTimeout = zeroDuration
            $0.resourceApiVersion = .v3
        }
    }

    /// Packs a message into `Any`. Proto3 messages always serialize, so failure is a programming error.
    static func any(_ message: any SwiftProtobuf.Message) -> Google_Protobuf_Any {
        do {
            return try Google_Protobuf_Any(message: message, partial: true)
        } catch {
            preconditionFailure("cannot pack \(type(of: message)): \(error)")
        }
    }

    /// `filter_metadata.istio.config` naming the Istio resource a route came from.
    static func configMetadata(kind: String, namespace: String, name: String) -> Envoy_Config_Core_V3_Metadata {
        let path = "/apis/networking.istio.io/v1/namespaces/\(namespace)/\(kind)/\(name)"
        return .with {
            $0.filterMetadata = ["istio": Google_Protobuf_Struct(fields: ["config": Google_Protobuf_Value(stringValue: path)])]
        }
    }
}
