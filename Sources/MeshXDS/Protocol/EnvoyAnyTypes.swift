public import SwiftProtobuf

/// The message types that Envoy configuration packs into `google.protobuf.Any`.
///
/// Binary encoding needs no registration, but protobuf JSON (golden files, `config_dump`,
/// bootstrap files) must know the message behind every `@type` it prints or parses. Call
/// ``register()`` once before encoding or decoding such JSON.
///
/// ```swift
/// EnvoyAnyTypes.register()
/// let json = try listener.jsonString()
/// ```
public enum EnvoyAnyTypes {
    /// xDS resources, filter and transport-socket configs, and the extension configs they nest.
    public static var messageTypes: [any SwiftProtobuf.Message.Type] {
        [
            Envoy_Config_Cluster_V3_Cluster.self,
            Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self,
            Envoy_Config_Listener_V3_Listener.self,
            Envoy_Config_Route_V3_RouteConfiguration.self,
            Envoy_Config_Route_V3_FilterConfig.self,
            Envoy_Extensions_TransportSockets_Tls_V3_Secret.self,
            Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.self,
            Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.self,
            Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self,
            Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self,
            Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.self,
            Envoy_Extensions_Filters_Http_Router_V3_Router.self,
            Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault.self,
            Envoy_Extensions_Filters_Http_Cors_V3_Cors.self,
            Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy.self,
            Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.self,
            Envoy_Extensions_Filters_Http_Rbac_V3_RBACPerRoute.self,
            Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.self,
            Envoy_Extensions_Filters_Http_JwtAuthn_V3_PerRouteConfig.self,
            Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector.self,
            Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst.self,
            Envoy_Extensions_Filters_Listener_HttpInspector_V3_HttpInspector.self,
            Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog.self,
            Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.self,
            Envoy_Extensions_Retry_Host_PreviousHosts_V3_PreviousHostsPredicate.self,
            Envoy_Extensions_Retry_Host_OmitCanaryHosts_V3_OmitCanaryHostsPredicate.self,
            Envoy_Extensions_Retry_Host_OmitHostMetadata_V3_OmitHostMetadataConfig.self,
            Envoy_Extensions_Retry_Priority_PreviousPriorities_V3_PreviousPrioritiesConfig.self,
            Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig.self,
            Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig.self,
            Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer.self,
            Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig.self,
            Envoy_Extensions_AccessLoggers_Stream_V3_StdoutAccessLog.self,
            Envoy_Extensions_AccessLoggers_Stream_V3_StderrAccessLog.self,
        ]
    }

    /// Registers ``messageTypes`` with SwiftProtobuf's process-wide `Any` registry.
    ///
    /// Safe to call from any task and any number of times; later calls do nothing new.
    public static func register() {
        for type in messageTypes {
            Google_Protobuf_Any.register(messageType: type)
        }
    }
}
