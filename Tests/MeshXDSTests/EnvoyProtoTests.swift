import Foundation
import MeshCA
import MeshXDS
import SwiftProtobuf
import Testing

@Suite struct EnvoyProtoTests {
    init() { EnvoyAnyTypes.register() }

    // MARK: Type URLs

    @Test(arguments: [
        (EnvoyTypeURL.cluster, "type.googleapis.com/envoy.config.cluster.v3.Cluster"),
        (EnvoyTypeURL.clusterLoadAssignment, "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"),
        (EnvoyTypeURL.listener, "type.googleapis.com/envoy.config.listener.v3.Listener"),
        (EnvoyTypeURL.routeConfiguration, "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"),
        (EnvoyTypeURL.secret, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"),
    ])
    func resourceTypeURLs(actual: String, expected: String) {
        #expect(actual == expected)
    }

    @Test(arguments: [
        (EnvoyProtoFixtures.HCM.self as any SwiftProtobuf.Message.Type,
         "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
        (Envoy_Extensions_Filters_Http_Router_V3_Router.self, "envoy.extensions.filters.http.router.v3.Router"),
        (Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault.self, "envoy.extensions.filters.http.fault.v3.HTTPFault"),
        (Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy.self, "envoy.extensions.filters.http.cors.v3.CorsPolicy"),
        (Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.self, "envoy.extensions.filters.http.rbac.v3.RBAC"),
        (Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.self, "envoy.extensions.filters.network.rbac.v3.RBAC"),
        (Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.self, "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"),
        (Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self, "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"),
        (Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.self, "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"),
        (Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.self, "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"),
        (Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog.self, "envoy.extensions.access_loggers.file.v3.FileAccessLog"),
        (Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.self, "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"),
        (Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector.self, "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"),
        (Envoy_Service_Discovery_V3_DiscoveryRequest.self, "envoy.service.discovery.v3.DiscoveryRequest"),
        (Google_Rpc_Status.self, "google.rpc.Status"),
        (Istio_V1_Auth_IstioCertificateRequest.self, "istio.v1.auth.IstioCertificateRequest"),
    ])
    func extensionTypeURLs(type: any SwiftProtobuf.Message.Type, fullName: String) throws {
        #expect(EnvoyTypeURL.of(type) == "type.googleapis.com/" + fullName)
        let packed = try Google_Protobuf_Any(message: type.init())
        #expect(packed.typeURL == "type.googleapis.com/" + fullName)
    }

    @Test func serviceNamesMatchEnvoyAndIstio() {
        #expect(Envoy_Service_Discovery_V3_AggregatedDiscoveryService.descriptor.fullyQualifiedService
            == "envoy.service.discovery.v3.AggregatedDiscoveryService")
        #expect(Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Method.StreamAggregatedResources.descriptor.fullyQualifiedMethod
            == "envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources")
        #expect(Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Method.DeltaAggregatedResources.descriptor.fullyQualifiedMethod
            == "envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources")
        #expect(Envoy_Service_Secret_V3_SecretDiscoveryService.Method.StreamSecrets.descriptor.fullyQualifiedMethod
            == "envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets")
        #expect(Istio_V1_Auth_IstioCertificateService.Method.CreateCertificate.descriptor.fullyQualifiedMethod
            == "istio.v1.auth.IstioCertificateService/CreateCertificate")
    }

    // MARK: Wire round trips

    @Test func edsClusterRoundTripsOnTheWire() throws {
        let cluster = try EnvoyProtoFixtures.edsCluster()
        let bytes: [UInt8] = try cluster.serializedBytes()
        let decoded = try Envoy_Config_Cluster_V3_Cluster(serializedBytes: bytes)
        #expect(try canonical(decoded) == canonical(cluster))
        #expect(decoded.type == .eds)
        #expect(decoded.edsClusterConfig.edsConfig.ads == Envoy_Config_Core_V3_AggregatedConfigSource())
        #expect(decoded.edsClusterConfig.edsConfig.resourceApiVersion == .v3)
        #expect(decoded.circuitBreakers.thresholds.first?.retryBudget.budgetPercent.value == 20)
        let tls = try #require(decoded.transportSocketMatches.first?.transportSocket.typedConfig)
        let upstream = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: tls)
        #expect(upstream.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
    }

    @Test func discoveryResponseCarriesPackedResources() throws {
        let clusters = [try EnvoyProtoFixtures.edsCluster(), EnvoyProtoFixtures.originalDstCluster()]
        let response = try Envoy_Service_Discovery_V3_DiscoveryResponse.with {
            $0.versionInfo = "2026-01-01T00:00:00Z/7"
            $0.typeURL = EnvoyTypeURL.cluster
            $0.nonce = "n-1"
            $0.resources = try clusters.map { try Google_Protobuf_Any(message: $0) }
            $0.controlPlane = .with { $0.identifier = "swiftmesh" }
        }
        let bytes: [UInt8] = try response.serializedBytes()
        let decoded = try Envoy_Service_Discovery_V3_DiscoveryResponse(serializedBytes: bytes)
        #expect(try canonical(decoded) == canonical(response))
        #expect(decoded.resources.allSatisfy { $0.typeURL == EnvoyTypeURL.cluster })
        let unpacked = try decoded.resources.map { try Envoy_Config_Cluster_V3_Cluster(unpackingAny: $0) }
        #expect(try unpacked.map(canonical) == clusters.map(canonical))

        let delta = try Envoy_Service_Discovery_V3_DeltaDiscoveryResponse.with {
            $0.systemVersionInfo = "7"
            $0.typeURL = EnvoyTypeURL.clusterLoadAssignment
            $0.resources = [try .with {
                $0.name = EnvoyProtoFixtures.outboundReviews
                $0.version = "abc"
                $0.resource = try Google_Protobuf_Any(message: EnvoyProtoFixtures.clusterLoadAssignment())
            }]
            $0.removedResources = ["outbound|80||gone.default.svc.cluster.local"]
            $0.nonce = "n-2"
        }
        let deltaBytes: [UInt8] = try delta.serializedBytes()
        #expect(try canonical(Envoy_Service_Discovery_V3_DeltaDiscoveryResponse(serializedBytes: deltaBytes)) == canonical(delta))
    }

    // MARK: JSON

    @Test func listenerJSONUsesEnvoyFieldNames() throws {
        let listener = try EnvoyProtoFixtures.outboundRDSListener()
        let json = try listener.jsonString()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "0.0.0.0_9080")
        #expect(object["trafficDirection"] as? String == "OUTBOUND")
        let socket = try #require((object["address"] as? [String: Any])?["socketAddress"] as? [String: Any])
        #expect(socket["portValue"] as? Int == 9080)
        let chains = try #require(object["filterChains"] as? [[String: Any]])
        let filter = try #require((chains.first?["filters"] as? [[String: Any]])?.first)
        #expect(filter["name"] as? String == "envoy.filters.network.http_connection_manager")
        let hcm = try #require(filter["typedConfig"] as? [String: Any])
        #expect(hcm["@type"] as? String
            == "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")
        #expect(hcm["statPrefix"] as? String == "outbound_0.0.0.0_9080")
        let rds = try #require(hcm["rds"] as? [String: Any])
        #expect(rds["routeConfigName"] as? String == "9080")
        let source = try #require(rds["configSource"] as? [String: Any])
        #expect(source["ads"] is [String: Any])
        #expect(source["resourceApiVersion"] as? String == "V3")
        let router = try #require((hcm["httpFilters"] as? [[String: Any]])?.first?["typedConfig"] as? [String: Any])
        #expect(router["@type"] as? String == "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")

        #expect(try canonical(Envoy_Config_Listener_V3_Listener(jsonString: json)) == canonical(listener))
        var snakeCase = JSONEncodingOptions()
        snakeCase.preserveProtoFieldNames = true
        let protoNames = try listener.jsonString(options: snakeCase)
        #expect(protoNames.contains("\"filter_chains\""))
        #expect(protoNames.contains("\"route_config_name\""))
        #expect(try canonical(Envoy_Config_Listener_V3_Listener(jsonString: protoNames)) == canonical(listener))
    }

    // MARK: Field numbers

    /// Expected bytes come from the field numbers in Envoy's API protos:
    /// a tag is `(field_number << 3) | wire_type` as a varint.
    @Test(arguments: [
        ("Cluster.name = 1", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.name = "a" } }, [0x0A, 0x01, 0x61]),
        ("Cluster.type = 2 (EDS = 3)", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.type = .eds } }, [0x10, 0x03]),
        ("Cluster.eds_cluster_config = 3", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.edsClusterConfig = .with { $0.serviceName = "s" } } },
         [0x1A, 0x03, 0x12, 0x01, 0x73]),
        ("Cluster.lb_policy = 6 (MAGLEV = 5)", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.lbPolicy = .maglev } }, [0x30, 0x05]),
        ("Cluster.load_assignment = 33", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.loadAssignment = .with { $0.clusterName = "a" } } },
         [0x8A, 0x02, 0x03, 0x0A, 0x01, 0x61]),
        ("Cluster.transport_socket_matches = 43", bytes { Envoy_Config_Cluster_V3_Cluster.with { $0.transportSocketMatches = [.with { $0.name = "t" }] } },
         [0xDA, 0x02, 0x03, 0x0A, 0x01, 0x74]),
        ("ClusterLoadAssignment.cluster_name = 1", bytes { Envoy_Config_Endpoint_V3_ClusterLoadAssignment.with { $0.clusterName = "c" } },
         [0x0A, 0x01, 0x63]),
        ("LocalityLbEndpoints.priority = 5", bytes { Envoy_Config_Endpoint_V3_LocalityLbEndpoints.with { $0.priority = 1 } }, [0x28, 0x01]),
        ("DiscoveryResponse.version_info = 1", bytes { Envoy_Service_Discovery_V3_DiscoveryResponse.with { $0.versionInfo = "v" } },
         [0x0A, 0x01, 0x76]),
        ("DiscoveryResponse.resources = 2", bytes { Envoy_Service_Discovery_V3_DiscoveryResponse.with { $0.resources = [Google_Protobuf_Any()] } },
         [0x12, 0x00]),
        ("DiscoveryResponse.type_url = 4", bytes { Envoy_Service_Discovery_V3_DiscoveryResponse.with { $0.typeURL = "t" } }, [0x22, 0x01, 0x74]),
        ("DiscoveryResponse.nonce = 5", bytes { Envoy_Service_Discovery_V3_DiscoveryResponse.with { $0.nonce = "n" } }, [0x2A, 0x01, 0x6E]),
        ("DiscoveryRequest.node = 2", bytes { Envoy_Service_Discovery_V3_DiscoveryRequest.with { $0.node = .with { $0.id = "i" } } },
         [0x12, 0x03, 0x0A, 0x01, 0x69]),
        ("DiscoveryRequest.response_nonce = 5", bytes { Envoy_Service_Discovery_V3_DiscoveryRequest.with { $0.responseNonce = "n" } },
         [0x2A, 0x01, 0x6E]),
        ("DiscoveryRequest.error_detail = 6", bytes { Envoy_Service_Discovery_V3_DiscoveryRequest.with { $0.errorDetail = .with { $0.code = 3 } } },
         [0x32, 0x02, 0x08, 0x03]),
        ("DeltaDiscoveryRequest.resource_names_subscribe = 3",
         bytes { Envoy_Service_Discovery_V3_DeltaDiscoveryRequest.with { $0.resourceNamesSubscribe = ["r"] } }, [0x1A, 0x01, 0x72]),
        ("DeltaDiscoveryResponse.removed_resources = 6",
         bytes { Envoy_Service_Discovery_V3_DeltaDiscoveryResponse.with { $0.removedResources = ["r"] } }, [0x32, 0x01, 0x72]),
        ("Node.user_agent_version = 7", bytes { Envoy_Config_Core_V3_Node.with { $0.userAgentVersion = "1" } }, [0x3A, 0x01, 0x31]),
        ("SocketAddress.port_value = 3", bytes { Envoy_Config_Core_V3_SocketAddress.with { $0.portValue = 80 } }, [0x18, 0x50]),
        ("Listener.filter_chains = 3", bytes { Envoy_Config_Listener_V3_Listener.with { $0.filterChains = [.with { $0.name = "f" }] } },
         [0x1A, 0x03, 0x3A, 0x01, 0x66]),
        ("Listener.traffic_direction = 16", bytes { Envoy_Config_Listener_V3_Listener.with { $0.trafficDirection = .outbound } },
         [0x80, 0x01, 0x02]),
        ("RouteConfiguration.virtual_hosts = 2",
         bytes { Envoy_Config_Route_V3_RouteConfiguration.with { $0.virtualHosts = [.with { $0.name = "v" }] } }, [0x12, 0x03, 0x0A, 0x01, 0x76]),
        ("Route.name = 14", bytes { Envoy_Config_Route_V3_Route.with { $0.name = "r" } }, [0x72, 0x01, 0x72]),
        ("RouteAction.cluster = 1", bytes { Envoy_Config_Route_V3_RouteAction.with { $0.cluster = "c" } }, [0x0A, 0x01, 0x63]),
        ("HttpConnectionManager.http_filters = 5",
         bytes { EnvoyProtoFixtures.HCM.with { $0.httpFilters = [.with { $0.name = "h" }] } }, [0x2A, 0x03, 0x0A, 0x01, 0x68]),
        ("HttpFilter.typed_config = 4", bytes { EnvoyProtoFixtures.HTTPFilter.with { $0.typedConfig = Google_Protobuf_Any() } }, [0x22, 0x00]),
        ("Secret.tls_certificate = 2",
         bytes { Envoy_Extensions_TransportSockets_Tls_V3_Secret.with { $0.tlsCertificate = .init() } }, [0x12, 0x00]),
        ("CommonTlsContext.tls_certificate_sds_secret_configs = 6",
         bytes { Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.with { $0.tlsCertificateSdsSecretConfigs = [.init()] } }, [0x32, 0x00]),
        ("IstioCertificateRequest.validity_duration = 3",
         bytes { Istio_V1_Auth_IstioCertificateRequest.with { $0.validityDuration = 1 } }, [0x18, 0x01]),
    ] as [(String, [UInt8], [UInt8])])
    func fieldNumbersMatchEnvoy(field: String, actual: [UInt8], expected: [UInt8]) {
        #expect(actual == expected, "\(field)")
    }
}

/// Deterministic binary encoding, for comparing messages whose `Any` fields may hold either a
/// decoded message or still-serialized bytes (SwiftProtobuf's `Any` equality cannot mix the two).
private func canonical(_ message: any SwiftProtobuf.Message) throws -> [UInt8] {
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    return try message.serializedBytes(options: options)
}

private func bytes(_ make: () -> any SwiftProtobuf.Message) -> [UInt8] {
    (try? make().serializedBytes()) ?? []
}
