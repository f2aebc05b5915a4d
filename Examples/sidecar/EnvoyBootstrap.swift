/// Envoy's bootstrap for a proxy driven by an xDS server over ADS, as Istio's agent writes it
/// (`envoy-rev.json`): a pure function of the node and a few addresses, so it is unit-tested.
///
/// - `node`: Istio's node id, `cluster` `<app>.<namespace>`, and Istio's node metadata.
/// - `dynamic_resources`: ADS over gRPC to the `xds-grpc` cluster; CDS and LDS from ADS with no
///   initial fetch timeout, so Envoy waits in its init phase until the control plane answers.
/// - `static_resources`: the `xds-grpc` cluster (HTTP/2, TCP and HTTP/2 keepalives), `STATIC` for
///   an IP address and `STRICT_DNS` (IPv4) for a host name.
/// - `admin`: on the workload address and the admin port, access log to `/dev/null`.
struct EnvoyBootstrap: Sendable, Hashable {
    var node: ProxyNode
    /// The ADS server, `HOST:PORT`.
    var xdsHost: String
    var xdsPort: Int
    /// Envoy's admin port on the node's IP (Istio: 15000).
    var adminPort: Int = 15000
    /// How long Envoy waits to connect to the xDS server.
    var xdsConnectTimeoutSeconds = 1
    /// TLS to istiod with the workload certificate from the agent's SDS; `nil` for plaintext xDS.
    var security: BootstrapSecurity? = nil

    /// The name of the static cluster that carries ADS, as in Istio.
    static let xdsClusterName = "xds-grpc"

    /// The bootstrap document.
    var json: JSONValue {
        [
            "node": [
                "id": .string(node.identity.nodeID),
                "cluster": .string(node.serviceCluster),
                "metadata": node.metadata,
            ],
            "dynamic_resources": [
                "ads_config": [
                    "api_type": "GRPC",
                    "transport_api_version": "V3",
                    "set_node_on_first_message_only": true,
                    "grpc_services": [
                        ["envoy_grpc": ["cluster_name": .string(Self.xdsClusterName)]]
                    ],
                ],
                "cds_config": ["ads": [:], "initial_fetch_timeout": "0s", "resource_api_version": "V3"],
                "lds_config": ["ads": [:], "initial_fetch_timeout": "0s", "resource_api_version": "V3"],
            ],
            "static_resources": ["clusters": .array([xdsCluster] + (security.map { [$0.sdsCluster] } ?? []))],
            "admin": [
                "address": Self.socketAddress(node.ip, adminPort),
                "access_log": [
                    [
                        "name": "envoy.access_loggers.file",
                        "typed_config": [
                            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                            "path": "/dev/null",
                        ],
                    ]
                ],
            ],
            "layered_runtime": [
                "layers": [
                    [
                        "name": "global config",
                        "static_layer": [
                            "overload.global_downstream_max_connections": 2_147_483_647,
                            "re2.max_program_size.error_level": 32768,
                        ],
                    ],
                    ["name": "admin", "admin_layer": [:]],
                ]
            ],
        ]
    }

    /// The `xds-grpc` cluster.
    var xdsCluster: JSONValue {
        let isIP = Self.isIPAddress(xdsHost)
        var cluster: [String: JSONValue] = [
            "name": .string(Self.xdsClusterName),
            "type": isIP ? "STATIC" : "STRICT_DNS",
            "connect_timeout": .string("\(xdsConnectTimeoutSeconds)s"),
            "lb_policy": "ROUND_ROBIN",
            "load_assignment": [
                "cluster_name": .string(Self.xdsClusterName),
                "endpoints": [
                    ["lb_endpoints": [["endpoint": ["address": Self.socketAddress(xdsHost, xdsPort)]]]]
                ],
            ],
            "circuit_breakers": [
                "thresholds": [
                    ["priority": "DEFAULT", "max_connections": 100_000, "max_pending_requests": 100_000, "max_requests": 100_000],
                    ["priority": "HIGH", "max_connections": 100_000, "max_pending_requests": 100_000, "max_requests": 100_000],
                ]
            ],
            "upstream_connection_options": ["tcp_keepalive": ["keepalive_time": 300]],
            "typed_extension_protocol_options": [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": [
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": [
                        "http2_protocol_options": [
                            "connection_keepalive": ["interval": "30s", "timeout": "10s"]
                        ]
                    ],
                ]
            ],
        ]
        if !isIP { cluster["dns_lookup_family"] = "V4_ONLY" }
        if let security { cluster["transport_socket"] = security.xdsTransportSocket }
        return .object(cluster)
    }

    private static func socketAddress(_ host: String, _ port: Int) -> JSONValue {
        ["socket_address": ["address": .string(host), "port_value": .number(port)]]
    }

    /// Whether `host` is a literal IPv4 or IPv6 address (so the cluster needs no DNS).
    static func isIPAddress(_ host: String) -> Bool {
        if host.contains(":") { return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) < 256
        }
    }
}
