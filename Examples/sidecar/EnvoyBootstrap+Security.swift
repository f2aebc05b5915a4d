/// The parts of Envoy's bootstrap that secure the connection to istiod, as Istio's agent writes
/// them: the `sds-grpc` cluster (HTTP/2 to the agent's SDS server over a Unix domain socket), and
/// on `xds-grpc` an `UpstreamTlsContext` that presents the workload certificate (the `default`
/// secret from `sds-grpc`), trusts the root certificate file and checks istiod's DNS SAN.
struct BootstrapSecurity: Sendable, Hashable {
    /// The agent's SDS socket.
    var sdsSocketPath: String
    /// The name istiod's certificate must carry, also sent as SNI.
    var istiodName: String = "istiod.istio-system.svc"

    /// The name of the SDS cluster, as in Istio.
    static let sdsClusterName = "sds-grpc"

    /// The `sds-grpc` cluster.
    var sdsCluster: JSONValue {
        [
            "name": .string(Self.sdsClusterName),
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": [
                "cluster_name": .string(Self.sdsClusterName),
                "endpoints": [["lb_endpoints": [["endpoint": ["address": ["pipe": ["path": .string(sdsSocketPath)]]]]]]],
            ],
            "typed_extension_protocol_options": [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": [
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": ["http2_protocol_options": [:]],
                ]
            ],
        ]
    }

    /// An SDS reference to `name` served by `sds-grpc`.
    static func sdsSecret(_ name: String) -> JSONValue {
        [
            "name": .string(name),
            "sds_config": [
                "api_config_source": [
                    "api_type": "GRPC",
                    "transport_api_version": "V3",
                    "set_node_on_first_message_only": true,
                    "grpc_services": [["envoy_grpc": ["cluster_name": .string(sdsClusterName)]]],
                ],
                "initial_fetch_timeout": "0s",
                "resource_api_version": "V3",
            ],
        ]
    }

    /// The `transport_socket` of the `xds-grpc` cluster.
    var xdsTransportSocket: JSONValue {
        [
            "name": "envoy.transport_sockets.tls",
            "typed_config": [
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": .string(istiodName),
                "common_tls_context": [
                    "alpn_protocols": ["h2"],
                    "tls_certificate_sds_secret_configs": [Self.sdsSecret("default")],
                    "combined_validation_context": [
                        "default_validation_context": [
                            "match_typed_subject_alt_names": [
                                ["san_type": "DNS", "matcher": ["exact": .string(istiodName)]]
                            ]
                        ],
                        "validation_context_sds_secret_config": Self.sdsSecret("ROOTCA"),
                    ],
                ],
            ],
        ]
    }
}
