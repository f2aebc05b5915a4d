public import SwiftProtobuf

/// Type URLs of the Envoy v3 messages that travel inside `google.protobuf.Any`.
///
/// xDS names each resource type by the type URL of its message, for example
/// `type.googleapis.com/envoy.config.cluster.v3.Cluster`; `DiscoveryRequest.type_url`,
/// `DiscoveryResponse.type_url` and every packed resource carry it. The values here are derived
/// from the generated messages, whose package and message names match Envoy's API.
public enum EnvoyTypeURL {
    /// The prefix protobuf uses for type URLs in `google.protobuf.Any`.
    public static let prefix = "type.googleapis.com/"

    /// The type URL of a message type: ``prefix`` followed by its full protobuf name.
    /// - Parameters:
    ///   - type: A generated message type.
    /// - Returns: The type URL, such as `type.googleapis.com/envoy.config.listener.v3.Listener`.
    public static func of(_ type: any SwiftProtobuf.Message.Type) -> String {
        prefix + type.protoMessageName
    }

    /// CDS resources: `envoy.config.cluster.v3.Cluster`.
    public static let cluster = of(Envoy_Config_Cluster_V3_Cluster.self)
    /// EDS resources: `envoy.config.endpoint.v3.ClusterLoadAssignment`.
    public static let clusterLoadAssignment = of(Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self)
    /// LDS resources: `envoy.config.listener.v3.Listener`.
    public static let listener = of(Envoy_Config_Listener_V3_Listener.self)
    /// RDS resources: `envoy.config.route.v3.RouteConfiguration`.
    public static let routeConfiguration = of(Envoy_Config_Route_V3_RouteConfiguration.self)
    /// SDS resources: `envoy.extensions.transport_sockets.tls.v3.Secret`.
    public static let secret = of(Envoy_Extensions_TransportSockets_Tls_V3_Secret.self)
}
