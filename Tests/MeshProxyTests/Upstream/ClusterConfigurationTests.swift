import MeshProxy
import MeshXDS
import SwiftProtobuf
import Testing

@Suite struct ClusterConfigurationTests {
    @Test func edsClusterGetsEnvoyDefaults() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"{"name":"outbound|80||a.b.svc","type":"EDS","eds_cluster_config":{"eds_config":{"ads":{}}}}"#))
        #expect(configuration.name == "outbound|80||a.b.svc")
        #expect(configuration.statName == "outbound|80||a.b.svc")
        #expect(configuration.discovery == .eds(serviceName: "outbound|80||a.b.svc"))
        #expect(configuration.connectTimeout == .seconds(5))
        #expect(configuration.loadBalancer == .roundRobin)
        #expect(configuration.healthyPanicThreshold == 50)
        #expect(!configuration.localityWeightedBalancing)
        #expect(configuration.circuitBreakers == CircuitBreakerThresholds(maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3))
        #expect(configuration.outlierDetection == nil)
        #expect(configuration.httpProtocolOptions.version == .http1)
        #expect(configuration.httpProtocolOptions.idleTimeout == .seconds(3600))
        #expect(configuration.httpProtocolOptions.maxRequestsPerConnection == nil)
        #expect(configuration.perConnectionBufferLimitBytes == 1_048_576)
        #expect(configuration.transportSocket == .plaintext)
        #expect(configuration.transportSocketMatches.isEmpty)
    }

    @Test func everyFieldIsRead() throws {
        let json = #"""
        {"name":"c","alt_stat_name":"stat-c","type":"EDS","eds_cluster_config":{"service_name":"svc","eds_config":{"ads":{}}},
         "connect_timeout":"1.5s","per_connection_buffer_limit_bytes":32768,"lb_policy":"LEAST_REQUEST",
         "least_request_lb_config":{"choice_count":3,"active_request_bias":{"default_value":0.5,"runtime_key":"k"}},
         "common_lb_config":{"healthy_panic_threshold":{"value":25},"locality_weighted_lb_config":{}},
         "circuit_breakers":{"thresholds":[{"max_connections":10,"max_pending_requests":11,"max_requests":12,"max_retries":4,"track_remaining":true,
            "max_connection_pools":7,"retry_budget":{"budget_percent":{"value":25},"min_retry_concurrency":5}},
           {"priority":"HIGH","max_connections":99}],
          "per_host_thresholds":[{"max_connections":3}]},
         "outlier_detection":{"consecutive_5xx":7,"consecutive_gateway_failure":3,"consecutive_local_origin_failure":2,"split_external_local_origin_errors":true,
           "interval":"5s","base_ejection_time":"20s","max_ejection_time":"100s","max_ejection_percent":50,"enforcing_consecutive_5xx":90,
           "enforcing_consecutive_gateway_failure":80,"enforcing_consecutive_local_origin_failure":70,"enforcing_success_rate":0,"always_eject_one_host":true},
         "typed_extension_protocol_options":{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":{
           "@type":"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
           "common_http_protocol_options":{"idle_timeout":"30s","max_requests_per_connection":50,"max_connection_duration":"3600s"},
           "explicit_http_config":{"http2_protocol_options":{"max_concurrent_streams":100,"connection_keepalive":{"interval":"10s","timeout":"3s"}}}}},
         "metadata":{"filter_metadata":{"istio":{"services":[{"host":"a.b.svc"}]}}},
         "upstream_bind_config":{"source_address":{"address":"127.0.0.5","port_value":0}},
         "upstream_connection_options":{"tcp_keepalive":{"keepalive_probes":3,"keepalive_time":600,"keepalive_interval":75}}}
        """#
        let configuration = try ClusterConfiguration(Fixtures.cluster(json))
        #expect(configuration.statName == "stat-c")
        #expect(configuration.discovery == .eds(serviceName: "svc"))
        #expect(configuration.connectTimeout == .milliseconds(1500))
        #expect(configuration.perConnectionBufferLimitBytes == 32768)
        #expect(configuration.loadBalancer == .leastRequest(choiceCount: 3, activeRequestBias: 0.5))
        #expect(configuration.healthyPanicThreshold == 25)
        #expect(configuration.localityWeightedBalancing)
        #expect(configuration.circuitBreakers == CircuitBreakerThresholds(
            maxConnections: 10, maxPendingRequests: 11, maxRequests: 12, maxRetries: 4, maxConnectionPools: 7,
            retryBudget: .init(budgetPercent: 25, minRetryConcurrency: 5), trackRemaining: true))
        #expect(configuration.highPriorityCircuitBreakers.maxConnections == 99)
        #expect(configuration.perHostMaxConnections == 3)
        let outlier = try #require(configuration.outlierDetection)
        #expect(outlier.consecutive5xx == 7)
        #expect(outlier.consecutiveGatewayFailure == 3)
        #expect(outlier.consecutiveLocalOriginFailure == 2)
        #expect(outlier.splitExternalLocalOriginErrors)
        #expect(outlier.interval == .seconds(5))
        #expect(outlier.baseEjectionTime == .seconds(20))
        #expect(outlier.maxEjectionTime == .seconds(100))
        #expect(outlier.maxEjectionPercent == 50)
        #expect(outlier.enforcingConsecutive5xx == 90)
        #expect(outlier.enforcingConsecutiveGatewayFailure == 80)
        #expect(outlier.enforcingConsecutiveLocalOriginFailure == 70)
        #expect(outlier.successRate.enforcingSuccessRate == 0)
        #expect(outlier.alwaysEjectOneHost)
        let http = configuration.httpProtocolOptions
        #expect(http.version == .http2)
        #expect(http.idleTimeout == .seconds(30))
        #expect(http.maxRequestsPerConnection == 50)
        #expect(http.maxConnectionDuration == .seconds(3600))
        #expect(http.http2MaxConcurrentStreams == 100)
        #expect(http.http2Keepalive == .init(interval: .seconds(10), timeout: .seconds(3)))
        #expect(configuration.metadata["istio"]?.fields["services"] != nil)
        #expect(configuration.upstreamBindAddress == .socket(host: "127.0.0.5", port: 0))
        #expect(configuration.tcpKeepalive == .init(probes: 3, time: 600, interval: 75))
    }

    @Test func outlierDetectionDefaults() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"{"name":"c","type":"STATIC","outlier_detection":{}}"#))
        let outlier = try #require(configuration.outlierDetection)
        #expect(outlier == OutlierDetectionPolicy())
        #expect(outlier.consecutive5xx == 5 && outlier.consecutiveGatewayFailure == 5)
        #expect(outlier.interval == .seconds(10) && outlier.baseEjectionTime == .seconds(30) && outlier.maxEjectionTime == .seconds(300))
        #expect(outlier.maxEjectionPercent == 10 && outlier.enforcingConsecutive5xx == 100 && outlier.enforcingConsecutiveGatewayFailure == 0)
        // An unset max_ejection_time follows a larger base_ejection_time.
        let long = try ClusterConfiguration(Fixtures.cluster(#"{"name":"c","type":"STATIC","outlier_detection":{"base_ejection_time":"400s"}}"#))
        #expect(long.outlierDetection?.maxEjectionTime == .seconds(400))
    }

    @Test(arguments: [
        (#"{"name":"c","type":"STATIC","lb_policy":"RING_HASH"}"#, LoadBalancerKind.ringHash(minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: .xxHash)),
        (#"{"name":"c","type":"STATIC","lb_policy":"RING_HASH","ring_hash_lb_config":{"minimum_ring_size":64,"maximum_ring_size":4096,"hash_function":"MURMUR_HASH_2"}}"#, .ringHash(minimumRingSize: 64, maximumRingSize: 4096, hashFunction: .murmurHash2)),
        (#"{"name":"c","type":"STATIC","lb_policy":"MAGLEV"}"#, .maglev(tableSize: 65537)),
        (#"{"name":"c","type":"STATIC","lb_policy":"MAGLEV","maglev_lb_config":{"table_size":1031}}"#, .maglev(tableSize: 1031)),
        (#"{"name":"c","type":"STATIC","lb_policy":"RANDOM"}"#, .random),
        (#"{"name":"c","type":"STATIC","lb_policy":"LEAST_REQUEST"}"#, .leastRequest(choiceCount: 2, activeRequestBias: 1.0)),
        (#"{"name":"c","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED"}"#, .clusterProvided),
    ])
    func loadBalancerPolicies(json: String, expected: LoadBalancerKind) throws {
        #expect(try ClusterConfiguration(Fixtures.cluster(json)).loadBalancer == expected)
    }

    @Test func dnsAndStaticDiscovery() throws {
        let strict = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"ext","type":"STRICT_DNS","dns_lookup_family":"V4_ONLY","dns_refresh_rate":"30s","respect_dns_ttl":true,
             "load_assignment":{"cluster_name":"ext","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"api.example.com","port_value":443}}}}]}]}}
            """#))
        guard case .strictDNS(let set, let resolution) = strict.discovery else { Issue.record("not STRICT_DNS"); return }
        #expect(set.localities[0].endpoints[0].address == .socket(host: "api.example.com", port: 443))
        #expect(resolution == .init(lookupFamily: .v4Only, refreshRate: .seconds(30), respectTTL: true))

        let logical = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"l","type":"LOGICAL_DNS","load_assignment":{"cluster_name":"l","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"db.example.com","port_value":5432}}}}]}]}}
            """#))
        guard case .logicalDNS(_, let logicalResolution) = logical.discovery else { Issue.record("not LOGICAL_DNS"); return }
        #expect(logicalResolution == .init())

        let staticCluster = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"s","type":"STATIC","load_assignment":{"cluster_name":"s","endpoints":[{"lb_endpoints":[
              {"endpoint":{"address":{"socket_address":{"address":"127.0.0.1","port_value":15000}}}},
              {"endpoint":{"address":{"pipe":{"path":"/var/run/app.sock"}}}}]}]}}
            """#))
        #expect(staticCluster.discovery.inlineEndpoints?.allEndpoints.map(\.endpoint.address) == [.socket(host: "127.0.0.1", port: 15000), .pipe(path: "/var/run/app.sock")])

        let forwardProxy = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"dfp","lb_policy":"CLUSTER_PROVIDED","cluster_type":{"name":"envoy.clusters.dynamic_forward_proxy","typed_config":{
              "@type":"type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig",
              "dns_cache_config":{"name":"dns","dns_lookup_family":"V4_ONLY","dns_refresh_rate":"10s","max_hosts":10}}}}
            """#))
        #expect(forwardProxy.discovery == .dynamicForwardProxy(.init(name: "dns", lookupFamily: .v4Only, refreshRate: .seconds(10), maxHosts: 10)))
        #expect(forwardProxy.loadBalancer == .clusterProvided)

        let original = try ClusterConfiguration(Fixtures.cluster(#"{"name":"o","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","original_dst_lb_config":{"upstream_port_override":8080}}"#))
        #expect(original.discovery == .originalDestination)
        #expect(original.originalDestination.upstreamPortOverride == 8080)
    }

    @Test func upstreamProtocolSelection() throws {
        func version(_ options: String) throws -> UpstreamHTTPProtocolOptions.Version {
            try ClusterConfiguration(Fixtures.cluster(#"{"name":"c","type":"STATIC","typed_extension_protocol_options":{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":{"@type":"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",\#(options)}}}"#)).httpProtocolOptions.version
        }
        #expect(try version(#""explicit_http_config":{"http_protocol_options":{}}"#) == .http1)
        #expect(try version(#""explicit_http_config":{"http2_protocol_options":{}}"#) == .http2)
        #expect(try version(#""use_downstream_protocol_config":{"http_protocol_options":{},"http2_protocol_options":{}}"#) == .useDownstream)
        #expect(try version(#""auto_config":{"http_protocol_options":{},"http2_protocol_options":{}}"#) == .automatic)
        #expect(try version(#""common_http_protocol_options":{"idle_timeout":"10s"}"#) == .http1)
    }

    @Test func istioMutualTLSTransportSocketMatches() throws {
        let cluster = try Fixtures.cluster(#"""
            {"name":"outbound|9080||details","type":"EDS","eds_cluster_config":{"eds_config":{"ads":{}}},
             "transport_socket_matches":[
              {"name":"tlsMode-istio","match":{"tlsMode":"istio"},"transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{
                "@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni":"outbound_.9080_._.details.bookinfo.svc.cluster.local",
                "common_tls_context":{"alpn_protocols":["istio"],"tls_params":{"tls_minimum_protocol_version":"TLSv1_2","tls_maximum_protocol_version":"TLSv1_3"},
                  "tls_certificate_sds_secret_configs":[{"name":"default","sds_config":{"ads":{}}}],
                  "combined_validation_context":{"default_validation_context":{"match_typed_subject_alt_names":[{"san_type":"URI","matcher":{"exact":"spiffe://cluster.local/ns/bookinfo/sa/details"}}]},
                    "validation_context_sds_secret_config":{"name":"ROOTCA","sds_config":{"ads":{}}}}}}}},
              {"name":"tlsMode-disabled","match":{},"transport_socket":{"name":"envoy.transport_sockets.raw_buffer","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}}]}
            """#)
        let configuration = try ClusterConfiguration(cluster)
        #expect(configuration.transportSocketMatches.map(\.name) == ["tlsMode-istio", "tlsMode-disabled"])
        let tls = try #require(configuration.transportSocketMatches[0].transportSocket.tls)
        #expect(tls.sni == "outbound_.9080_._.details.bookinfo.svc.cluster.local")
        #expect(tls.alpnProtocols == ["istio"])
        #expect(tls.certificates == [.sds(secretName: "default")])
        #expect(tls.validation?.trustBundleSecretName == "ROOTCA")
        #expect(tls.sdsSecretNames == ["default", "ROOTCA"])
        #expect(tls.minimumVersion == .tls1_2 && tls.maximumVersion == .tls1_3)
        #expect(tls.validation?.subjectAltNameMatchers == [SubjectAltNameMatcher(sanType: .uri, pattern: .exact("spiffe://cluster.local/ns/bookinfo/sa/details", ignoreCase: false))])
        #expect(tls.validation?.acceptsSubjectAltNames([(.uri, "spiffe://cluster.local/ns/bookinfo/sa/details")]) == true)
        #expect(tls.validation?.acceptsSubjectAltNames([(.uri, "spiffe://cluster.local/ns/bookinfo/sa/other")]) == false)
        #expect(tls.validation?.acceptsSubjectAltNames([(.dns, "spiffe://cluster.local/ns/bookinfo/sa/details")]) == false)

        // Endpoints labelled tlsMode=istio get mTLS; the others fall through to the empty match.
        let istio = try Google_Protobuf_Struct(jsonString: #"{"tlsMode":"istio"}"#)
        let chosen = configuration.transportSocket(endpointMetadata: ["envoy.transport_socket_match": istio])
        #expect(chosen.matchName == "tlsMode-istio")
        #expect(chosen.socket.tls != nil)
        let plain = configuration.transportSocket(endpointMetadata: [:])
        #expect(plain.matchName == "tlsMode-disabled" && plain.socket == .plaintext)
        let other = try Google_Protobuf_Struct(jsonString: #"{"tlsMode":"disabled"}"#)
        #expect(configuration.transportSocket(endpointMetadata: ["envoy.transport_socket_match": other]).matchName == "tlsMode-disabled")
    }

    @Test func transportSocketMatchFallsBackToLocalityThenClusterSocket() throws {
        var configuration = ClusterConfiguration(name: "c", discovery: .eds(serviceName: "c"))
        configuration.transportSocket = .tls(UpstreamTLSConfiguration(sni: "default"))
        let criteria = try Google_Protobuf_Struct(jsonString: #"{"zone":"a","tls":"on"}"#)
        configuration.transportSocketMatches = [TransportSocketMatch(name: "zone-a", criteria: criteria, transportSocket: .plaintext)]
        let partial = try Google_Protobuf_Struct(jsonString: #"{"zone":"a"}"#)
        let full = try Google_Protobuf_Struct(jsonString: #"{"zone":"a","tls":"on","extra":1}"#)
        #expect(configuration.transportSocket(endpointMetadata: ["envoy.transport_socket_match": partial]).matchName == "default")
        #expect(configuration.transportSocket(endpointMetadata: ["envoy.transport_socket_match": full]).matchName == "zone-a")
        #expect(configuration.transportSocket(endpointMetadata: [:], localityMetadata: ["envoy.transport_socket_match": full]).matchName == "zone-a")
        #expect(configuration.transportSocket(endpointMetadata: ["other": full]).socket.tls?.sni == "default")
    }

    @Test func staticTLSContextWithFiles() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"c","type":"STATIC","transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{
              "@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext","sni":"db.example.com",
              "common_tls_context":{"tls_certificates":[{"certificate_chain":{"filename":"/certs/cert.pem"},"private_key":{"filename":"/certs/key.pem"}}],
                "validation_context":{"trusted_ca":{"filename":"/certs/ca.pem"},"match_typed_subject_alt_names":[{"san_type":"DNS","matcher":{"suffix":".example.com"}}]}}}}}
            """#))
        let tls = try #require(configuration.transportSocket.tls)
        #expect(tls.certificates == [.static(chain: .file("/certs/cert.pem"), privateKey: .file("/certs/key.pem"))])
        #expect(tls.validation?.trustedCA == .file("/certs/ca.pem"))
        #expect(tls.validation?.acceptsSubjectAltNames([(.dns, "db.example.com")]) == true)
        #expect(tls.validation?.acceptsSubjectAltNames([(.dns, "db.example.org")]) == false)
    }

    /// Each invalid or unsupported cluster names the field Envoy (or this proxy) objects to.
    @Test(arguments: [
        (#"{"name":"","type":"STATIC"}"#, "name", "invalid"),
        (#"{"name":"c","type":"EDS"}"#, "eds_cluster_config", "invalid"),
        (#"{"name":"c","type":"STATIC","connect_timeout":"0s"}"#, "connect_timeout", "invalid"),
        (#"{"name":"c","type":"STATIC","lb_policy":"CLUSTER_PROVIDED"}"#, "lb_policy", "invalid"),
        (#"{"name":"c","type":"ORIGINAL_DST","lb_policy":"ROUND_ROBIN"}"#, "lb_policy", "invalid"),
        (#"{"name":"c","type":"STATIC","lb_policy":"LOAD_BALANCING_POLICY_CONFIG"}"#, "lb_policy", "unsupported"),
        (#"{"name":"c","type":"STATIC","lb_policy":"LEAST_REQUEST","least_request_lb_config":{"choice_count":1}}"#, "least_request_lb_config.choice_count", "invalid"),
        (#"{"name":"c","type":"STATIC","lb_policy":"RING_HASH","ring_hash_lb_config":{"minimum_ring_size":4096,"maximum_ring_size":1024}}"#, "ring_hash_lb_config.minimum_ring_size", "invalid"),
        (#"{"name":"c","type":"STATIC","lb_policy":"RING_HASH","ring_hash_lb_config":{"maximum_ring_size":9000000}}"#, "ring_hash_lb_config.maximum_ring_size", "invalid"),
        (#"{"name":"c","type":"STATIC","lb_policy":"MAGLEV","maglev_lb_config":{"table_size":65536}}"#, "maglev_lb_config.table_size", "invalid"),
        (#"{"name":"c","type":"STATIC","common_lb_config":{"healthy_panic_threshold":{"value":150}}}"#, "common_lb_config.healthy_panic_threshold.value", "invalid"),
        (#"{"name":"c","type":"STATIC","common_lb_config":{"consistent_hashing_lb_config":{"hash_balance_factor":150}}}"#, "common_lb_config.consistent_hashing_lb_config.hash_balance_factor", "unsupported"),
        (#"{"name":"c","type":"STATIC","outlier_detection":{"max_ejection_percent":101}}"#, "outlier_detection.max_ejection_percent", "invalid"),
        (#"{"name":"c","type":"STATIC","outlier_detection":{"enforcing_consecutive_5xx":200}}"#, "outlier_detection.enforcing_consecutive_5xx", "invalid"),
        (#"{"name":"c","type":"STATIC","outlier_detection":{"interval":"0s"}}"#, "outlier_detection.interval", "invalid"),
        (#"{"name":"c","type":"STATIC","outlier_detection":{"base_ejection_time":"60s","max_ejection_time":"30s"}}"#, "outlier_detection.max_ejection_time", "invalid"),
        (#"{"name":"c","type":"STATIC","circuit_breakers":{"thresholds":[{"retry_budget":{"budget_percent":{"value":120}}}]}}"#, "circuit_breakers.thresholds[0].retry_budget.budget_percent.value", "invalid"),
        (#"{"name":"c","type":"STATIC","health_checks":[{"timeout":"1s"}]}"#, "health_checks", "unsupported"),
        (#"{"name":"c","type":"STATIC","lb_subset_config":{"subset_selectors":[{"keys":["version"]}]}}"#, "lb_subset_config", "unsupported"),
        (#"{"name":"c","type":"STATIC","filters":[{"name":"istio.metadata_exchange"}]}"#, "filters", "unsupported"),
        (#"{"name":"c","cluster_type":{"name":"envoy.clusters.aggregate"}}"#, "cluster_type.name", "unsupported"),
        (#"{"name":"c","type":"STATIC","typed_extension_protocol_options":{"envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}}"#, #"typed_extension_protocol_options["envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions"]"#, "unsupported"),
        (#"{"name":"c","type":"STATIC","typed_extension_protocol_options":{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}}"#, #"typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]"#, "invalid"),
        (#"{"name":"c","type":"STATIC","transport_socket":{"name":"envoy.transport_sockets.alts","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"}}}"#, "transport_socket.typed_config", "unsupported"),
        (#"{"name":"c","type":"STATIC","transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext","common_tls_context":{"validation_context":{"match_typed_subject_alt_names":[{"matcher":{"exact":"x"}}]}}}}}"#, "transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type", "invalid"),
        (#"{"name":"c","type":"STATIC","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"example.com","port_value":80}}}}]}]}}"#, "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address", "invalid"),
        (#"{"name":"c","type":"STATIC","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","port_value":70000}}}}]}]}}"#, "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value", "invalid"),
        (#"{"name":"c","type":"STATIC","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","named_port":"http"}}}}]}]}}"#, "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.named_port", "unsupported"),
        (#"{"name":"c","type":"LOGICAL_DNS","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"a.com","port_value":80}}}},{"endpoint":{"address":{"socket_address":{"address":"b.com","port_value":80}}}}]}]}}"#, "load_assignment", "invalid"),
        (#"{"name":"c","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","port_value":80}}}}]}]}}"#, "load_assignment", "invalid"),
        (#"{"name":"c","type":"STRICT_DNS","dns_refresh_rate":"0s"}"#, "dns_refresh_rate", "invalid"),
        (#"{"name":"c","type":"STATIC","upstream_bind_config":{"source_address":{"address":"localhost","port_value":0}}}"#, "upstream_bind_config.source_address.address", "invalid"),
        (#"{"name":"c","type":"STATIC","typed_extension_protocol_options":{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":{"@type":"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions","explicit_http_config":{"http2_protocol_options":{"max_concurrent_streams":0}}}}}"#, #"typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.max_concurrent_streams"#, "invalid"),
    ])
    func rejectionsNameTheField(json: String, field: String, code: String) throws {
        let cluster = try Fixtures.cluster(json)
        #expect(throws: ProxyConfigurationError.self) { try ClusterConfiguration(cluster) }
        do {
            _ = try ClusterConfiguration(cluster)
        } catch {
            #expect(error.resourceType == "Cluster")
            #expect(error.resourceName == cluster.name)
            #expect(error.field == field, "\(error)")
            #expect(error.code.description == (code == "invalid" ? "invalid" : "unsupported"), "\(error)")
        }
    }

    @Test func unknownDiscoveryTypeNamesTheTypeField() throws {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = "c"
        cluster.type = .UNRECOGNIZED(9)
        do {
            _ = try ClusterConfiguration(cluster)
            Issue.record("accepted an unknown type")
        } catch {
            #expect(error.field == "type")
            #expect(error.code == .unsupported)
        }
    }
}
