import MeshXDS
import SwiftProtobuf

/// Sample Envoy messages shaped like what an Istio-style control plane sends: used by the wire,
/// JSON and Envoy-validation tests.
enum EnvoyProtoFixtures {
    typealias Core = Envoy_Config_Core_V3_ConfigSource
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias HTTPFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter

    static let outboundReviews = "outbound|9080||reviews.default.svc.cluster.local"
    static let xdsCluster = "xds-grpc"

    static func duration(_ seconds: Int64, nanos: Int32 = 0) -> Google_Protobuf_Duration {
        Google_Protobuf_Duration(seconds: seconds, nanos: nanos)
    }

    static func address(_ ip: String, _ port: UInt32) -> Envoy_Config_Core_V3_Address {
        .with { $0.socketAddress = .with { $0.address = ip; $0.portValue = port } }
    }

    static var adsConfigSource: Envoy_Config_Core_V3_ConfigSource {
        .with {
            $0.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
            $0.resourceApiVersion = .v3
            $0.initialFetchTimeout = duration(0)
        }
    }

    static func sds(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        .with { $0.name = name; $0.sdsConfig = adsConfigSource }
    }

    static func exact(_ value: String) -> Envoy_Type_Matcher_V3_StringMatcher {
        .with { $0.exact = value }
    }

    static func headerOption(_ key: String, _ value: String) -> Envoy_Config_Core_V3_HeaderValueOption {
        .with {
            $0.header = .with { $0.key = key; $0.value = value }
            $0.appendAction = .overwriteIfExistsOrAdd
        }
    }

    static func filter(_ name: String, _ config: any SwiftProtobuf.Message) throws -> HTTPFilter {
        try .with { $0.name = name; $0.typedConfig = try Google_Protobuf_Any(message: config) }
    }

    // MARK: Clusters

    /// An EDS cluster over ADS with Istio's usual traffic policy fields set.
    static func edsCluster() throws -> Envoy_Config_Cluster_V3_Cluster {
        let upstreamTLS = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.with {
            $0.sni = "outbound_.9080_._.reviews.default.svc.cluster.local"
            $0.commonTlsContext = .with {
                $0.alpnProtocols = ["istio-peer-exchange", "istio"]
                $0.tlsParams = .with { $0.tlsMinimumProtocolVersion = .tlsv12; $0.tlsMaximumProtocolVersion = .tlsv13 }
                $0.tlsCertificateSdsSecretConfigs = [sds("default")]
                $0.combinedValidationContext = .with {
                    $0.defaultValidationContext = .with {
                        $0.matchTypedSubjectAltNames = [
                            .with { $0.sanType = .uri; $0.matcher = exact("spiffe://cluster.local/ns/default/sa/reviews") }
                        ]
                    }
                    $0.validationContextSdsSecretConfig = sds("ROOTCA")
                }
            }
        }
        let http2 = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.with {
            $0.commonHTTPProtocolOptions = .with { $0.idleTimeout = duration(3600); $0.maxRequestsPerConnection = .init(100) }
            $0.explicitHTTPConfig = .with { $0.http2ProtocolOptions = .with { $0.maxConcurrentStreams = .init(1000) } }
        }
        return try .with {
            $0.name = outboundReviews
            $0.altStatName = "reviews.default.svc.cluster.local;"
            $0.type = .eds
            $0.edsClusterConfig = .with { $0.edsConfig = adsConfigSource; $0.serviceName = outboundReviews }
            $0.connectTimeout = duration(10)
            $0.perConnectionBufferLimitBytes = .init(32768)
            $0.lbPolicy = .leastRequest
            $0.leastRequestLbConfig = .with {
                $0.choiceCount = .init(2)
                $0.slowStartConfig = .with { $0.slowStartWindow = duration(30) }
            }
            $0.circuitBreakers = .with {
                $0.thresholds = [
                    .with {
                        $0.priority = .default
                        $0.maxConnections = .init(4_294_967_295)
                        $0.maxPendingRequests = .init(1024)
                        $0.maxRequests = .init(4_294_967_295)
                        $0.maxRetries = .init(4_294_967_295)
                        $0.trackRemaining = true
                        $0.retryBudget = .with { $0.budgetPercent = .with { $0.value = 20 }; $0.minRetryConcurrency = .init(3) }
                    }
                ]
            }
            $0.outlierDetection = .with {
                $0.consecutive5Xx = .init(5)
                $0.consecutiveGatewayFailure = .init(3)
                $0.interval = duration(10)
                $0.baseEjectionTime = duration(30)
                $0.maxEjectionPercent = .init(50)
                $0.enforcingConsecutive5Xx = .init(100)
                $0.enforcingSuccessRate = .init(0)
                $0.splitExternalLocalOriginErrors = true
                $0.consecutiveLocalOriginFailure = .init(5)
            }
            $0.commonLbConfig = .with {
                $0.healthyPanicThreshold = .with { $0.value = 0 }
                $0.localityWeightedLbConfig = .init()
            }
            $0.upstreamConnectionOptions = .with {
                $0.tcpKeepalive = .with { $0.keepaliveTime = .init(300); $0.keepaliveInterval = .init(75) }
            }
            $0.typedExtensionProtocolOptions = [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": try Google_Protobuf_Any(message: http2)
            ]
            $0.transportSocketMatches = [
                try .with {
                    $0.name = "tlsMode-istio"
                    $0.match = Google_Protobuf_Struct(fields: ["tlsMode": Google_Protobuf_Value(stringValue: "istio")])
                    $0.transportSocket = try .with {
                        $0.name = "envoy.transport_sockets.tls"
                        $0.typedConfig = try Google_Protobuf_Any(message: upstreamTLS)
                    }
                }
            ]
            $0.metadata = .with {
                $0.filterMetadata = [
                    "istio": Google_Protobuf_Struct(fields: [
                        "services": Google_Protobuf_Value(listValue: .init(values: [
                            Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: [
                                "host": Google_Protobuf_Value(stringValue: "reviews.default.svc.cluster.local"),
                                "name": Google_Protobuf_Value(stringValue: "reviews"),
                                "namespace": Google_Protobuf_Value(stringValue: "default"),
                            ]))
                        ]))
                    ])
                ]
            }
            $0.cleanupInterval = duration(60)
        }
    }

    /// A static cluster for the control plane, speaking HTTP/2.
    static func xdsGrpcCluster() throws -> Envoy_Config_Cluster_V3_Cluster {
        let http2 = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.with {
            $0.explicitHTTPConfig = .with {
                $0.http2ProtocolOptions = .with {
                    $0.connectionKeepalive = .with { $0.interval = duration(30); $0.timeout = duration(10) }
                }
            }
        }
        return try .with {
            $0.name = xdsCluster
            $0.type = .static
            $0.connectTimeout = duration(1)
            $0.lbPolicy = .roundRobin
            $0.loadAssignment = .with {
                $0.clusterName = xdsCluster
                $0.endpoints = [.with { $0.lbEndpoints = [.with { $0.endpoint = .with { $0.address = address("127.0.0.1", 15010) } }] }]
            }
            $0.typedExtensionProtocolOptions = [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": try Google_Protobuf_Any(message: http2)
            ]
            $0.upstreamConnectionOptions = .with { $0.tcpKeepalive = .with { $0.keepaliveTime = .init(300) } }
        }
    }

    /// A DNS cluster with ring-hash balancing and an HTTP health check.
    static func dnsRingHashCluster() -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = "outbound|80||httpbin.org"
            $0.type = .strictDns
            $0.connectTimeout = duration(5)
            $0.dnsLookupFamily = .v4Only
            $0.lbPolicy = .ringHash
            $0.ringHashLbConfig = .with { $0.minimumRingSize = .init(1024); $0.hashFunction = .xxHash }
            $0.loadAssignment = .with {
                $0.clusterName = "outbound|80||httpbin.org"
                $0.endpoints = [
                    .with {
                        $0.locality = .with { $0.region = "us-east1"; $0.zone = "us-east1-b" }
                        $0.loadBalancingWeight = .init(1)
                        $0.priority = 0
                        $0.lbEndpoints = [
                            .with {
                                $0.endpoint = .with { $0.address = address("localhost", 80); $0.hostname = "httpbin.org" }
                                $0.healthStatus = .healthy
                                $0.loadBalancingWeight = .init(1)
                            }
                        ]
                    }
                ]
            }
            $0.healthChecks = [
                .with {
                    $0.timeout = duration(1)
                    $0.interval = duration(10)
                    $0.unhealthyThreshold = .init(3)
                    $0.healthyThreshold = .init(2)
                    $0.httpHealthCheck = .with {
                        $0.path = "/status/200"
                        $0.expectedStatuses = [.with { $0.start = 200; $0.end = 300 }]
                    }
                }
            ]
        }
    }

    /// Istio's PassthroughCluster-style original-destination cluster.
    static func originalDstCluster() -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = "PassthroughCluster"
            $0.type = .originalDst
            $0.connectTimeout = duration(10)
            $0.lbPolicy = .clusterProvided
            $0.originalDstLbConfig = .with { $0.useHTTPHeader = true; $0.httpHeaderName = "x-envoy-original-dst-host" }
            $0.cleanupInterval = duration(60)
        }
    }

    /// A static subset-load-balanced cluster using Maglev.
    static func subsetMaglevCluster() -> Envoy_Config_Cluster_V3_Cluster {
        .with {
            $0.name = "outbound|9080|v1|ratings.default.svc.cluster.local"
            $0.type = .static
            $0.connectTimeout = duration(2)
            $0.lbPolicy = .maglev
            $0.maglevLbConfig = .with { $0.tableSize = .init(65537) }
            $0.lbSubsetConfig = .with {
                $0.fallbackPolicy = .anyEndpoint
                $0.subsetSelectors = [.with { $0.keys = ["version"] }]
            }
            $0.loadAssignment = .with {
                $0.clusterName = "outbound|9080|v1|ratings.default.svc.cluster.local"
                $0.endpoints = [
                    .with {
                        $0.lbEndpoints = [
                            .with {
                                $0.endpoint = .with { $0.address = address("10.0.0.7", 9080) }
                                $0.metadata = .with {
                                    $0.filterMetadata = [
                                        "envoy.lb": Google_Protobuf_Struct(fields: ["version": Google_Protobuf_Value(stringValue: "v1")])
                                    ]
                                }
                            }
                        ]
                    }
                ]
                $0.policy = .with { $0.overprovisioningFactor = .init(140) }
            }
        }
    }

    static func clusterLoadAssignment() -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        .with {
            $0.clusterName = outboundReviews
            $0.endpoints = [
                .with {
                    $0.locality = .with { $0.region = "r1"; $0.zone = "z1"; $0.subZone = "s1" }
                    $0.lbEndpoints = [
                        .with {
                            $0.endpoint = .with { $0.address = address("10.0.0.5", 9080) }
                            $0.healthStatus = .healthy
                            $0.loadBalancingWeight = .init(1)
                        }
                    ]
                    $0.loadBalancingWeight = .init(1)
                }
            ]
            $0.policy = .with { $0.overprovisioningFactor = .init(140) }
        }
    }

    // MARK: Routes

    static func routeConfiguration(name: String) throws -> Envoy_Config_Route_V3_RouteConfiguration {
        let corsPolicy = Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy.with {
            $0.allowOriginStringMatch = [.with { $0.prefix = "https://" }]
            $0.allowMethods = "GET,POST"
            $0.allowHeaders = "content-type"
            $0.maxAge = "600"
            $0.allowCredentials = .init(true)
        }
        let weighted = Envoy_Config_Route_V3_RouteAction.with {
            $0.weightedClusters = .with {
                $0.clusters = [
                    .with { $0.name = outboundReviews; $0.weight = .init(90) },
                    .with {
                        $0.name = "outbound|9080|v1|ratings.default.svc.cluster.local"
                        $0.weight = .init(10)
                        $0.requestHeadersToAdd = [headerOption("x-canary", "true")]
                    },
                ]
            }
            $0.timeout = duration(0)
            $0.retryPolicy = .with {
                $0.retryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
                $0.numRetries = .init(2)
                $0.perTryTimeout = duration(2)
                $0.hostSelectionRetryMaxAttempts = 5
                $0.retriableStatusCodes = [503]
                $0.retryBackOff = .with { $0.baseInterval = duration(0, nanos: 25_000_000) }
            }
            $0.hashPolicy = [
                .with { $0.header = .with { $0.headerName = "x-user" } },
                .with { $0.cookie = .with { $0.name = "session"; $0.ttl = duration(3600); $0.path = "/" } },
                .with { $0.connectionProperties = .with { $0.sourceIp = true }; $0.terminal = true },
            ]
            $0.requestMirrorPolicies = [
                .with {
                    $0.cluster = "outbound|80||httpbin.org"
                    $0.runtimeFraction = .with { $0.defaultValue = .with { $0.numerator = 10; $0.denominator = .hundred } }
                    $0.traceSampled = .init(false)
                }
            ]
            $0.maxStreamDuration = .with { $0.maxStreamDuration = duration(0); $0.grpcTimeoutHeaderMax = duration(0) }
            $0.upgradeConfigs = [.with { $0.upgradeType = "websocket" }]
            $0.prefixRewrite = "/"
            $0.autoHostRewrite = .init(true)
        }
        return try .with {
            $0.name = name
            $0.validateClusters = .init(false)
            $0.ignorePortInHostMatching = true
            $0.virtualHosts = [
                try .with {
                    $0.name = "reviews.default.svc.cluster.local:9080"
                    $0.domains = ["reviews.default.svc.cluster.local", "reviews", "reviews.default"]
                    $0.includeRequestAttemptCount = true
                    $0.typedPerFilterConfig = ["envoy.filters.http.cors": try Google_Protobuf_Any(message: corsPolicy)]
                    $0.routes = [
                        .with {
                            $0.name = "reviews-canary"
                            $0.match = .with {
                                $0.prefix = "/reviews"
                                $0.caseSensitive = .init(true)
                                $0.headers = [
                                    .with { $0.name = "end-user"; $0.stringMatch = exact("jason") },
                                    .with { $0.name = "x-debug"; $0.presentMatch = true; $0.invertMatch = true },
                                ]
                                $0.queryParameters = [.with { $0.name = "v"; $0.stringMatch = .with { $0.safeRegex = .with { $0.regex = "[0-9]+" } } }]
                            }
                            $0.route = weighted
                            $0.decorator = .with { $0.operation = "reviews.default.svc.cluster.local:9080/reviews*" }
                            $0.metadata = .with {
                                $0.filterMetadata = ["istio": Google_Protobuf_Struct(fields: ["config": Google_Protobuf_Value(stringValue: "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews")])]
                            }
                            $0.responseHeadersToRemove = ["x-internal"]
                        },
                        .with {
                            $0.name = "redirect"
                            $0.match = .with { $0.path = "/old" }
                            $0.redirect = .with { $0.pathRedirect = "/new"; $0.responseCode = .permanentRedirect }
                        },
                        .with {
                            $0.name = "direct"
                            $0.match = .with { $0.safeRegex = .with { $0.regex = "/health(z)?" } }
                            $0.directResponse = .with { $0.status = 200; $0.body = .with { $0.inlineString = "ok" } }
                        },
                        .with {
                            $0.name = "default"
                            $0.match = .with { $0.prefix = "/" }
                            $0.route = .with {
                                $0.cluster = outboundReviews
                                $0.timeout = duration(15)
                                $0.idleTimeout = duration(300)
                                $0.clusterNotFoundResponseCode = .serviceUnavailable
                            }
                        },
                    ]
                }
            ]
            $0.requestHeadersToAdd = [headerOption("x-mesh", "swiftmesh")]
        }
    }

    // MARK: Listeners

    static func rbacRules() -> Envoy_Config_Rbac_V3_RBAC {
        .with {
            $0.action = .allow
            $0.policies = [
                "ns[default]-policy[reviews-viewer]-rule[0]": .with {
                    $0.permissions = [
                        .with {
                            $0.andRules = .with {
                                $0.rules = [
                                    .with { $0.header = .with { $0.name = ":method"; $0.stringMatch = exact("GET") } },
                                    .with { $0.urlPath = .with { $0.path = .with { $0.prefix = "/reviews" } } },
                                    .with { $0.destinationPort = 9080 },
                                    .with { $0.notRule = .with { $0.destinationIp = .with { $0.addressPrefix = "10.1.0.0"; $0.prefixLen = .init(16) } } },
                                ]
                            }
                        }
                    ]
                    $0.principals = [
                        .with {
                            $0.orIds = .with {
                                $0.ids = [
                                    .with { $0.authenticated = .with { $0.principalName = exact("spiffe://cluster.local/ns/default/sa/productpage") } },
                                    .with { $0.remoteIp = .with { $0.addressPrefix = "10.0.0.0"; $0.prefixLen = .init(8) } },
                                    .with { $0.directRemoteIp = .with { $0.addressPrefix = "127.0.0.1"; $0.prefixLen = .init(32) } },
                                    .with {
                                        $0.sourcedMetadata = .with {
                                            $0.metadataMatcher = .with {
                                                $0.filter = "envoy.filters.http.jwt_authn"
                                                $0.path = [.with { $0.key = "payload" }, .with { $0.key = "iss" }]
                                                $0.value = .with { $0.stringMatch = exact("https://issuer.example.com") }
                                            }
                                            $0.metadataSource = .dynamic
                                        }
                                    },
                                    .with { $0.filterState = .with { $0.key = "io.istio.peer_principal"; $0.stringMatch = .with { $0.suffix = "/sa/productpage" } } },
                                ]
                            }
                        }
                    ]
                }
            ]
        }
    }

    static func inboundHTTPManager() throws -> HCM {
        let jwt = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.with {
            $0.providers = [
                "origins-0": .with {
                    $0.issuer = "https://issuer.example.com"
                    $0.audiences = ["reviews"]
                    $0.remoteJwks = .with {
                        $0.httpUri = .with { $0.uri = "https://issuer.example.com/jwks"; $0.cluster = "outbound|80||httpbin.org"; $0.timeout = duration(5) }
                        $0.cacheDuration = duration(300)
                    }
                    $0.forward = true
                    $0.fromHeaders = [.with { $0.name = "Authorization"; $0.valuePrefix = "Bearer " }]
                    $0.payloadInMetadata = "https://issuer.example.com"
                    $0.claimToHeaders = [.with { $0.headerName = "x-jwt-sub"; $0.claimName = "sub" }]
                }
            ]
            $0.rules = [
                .with {
                    $0.match = .with { $0.prefix = "/" }
                    $0.requires = .with { $0.requiresAny = .with { $0.requirements = [.with { $0.providerName = "origins-0" }, .with { $0.allowMissing = .init() }] } }
                }
            ]
            $0.bypassCorsPreflight = true
        }
        let fault = Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault.with {
            $0.delay = .with { $0.fixedDelay = duration(1); $0.percentage = .with { $0.numerator = 10 } }
            $0.abort = .with { $0.httpStatus = 503; $0.percentage = .with { $0.numerator = 5; $0.denominator = .million } }
            $0.headers = [.with { $0.name = "x-fault"; $0.presentMatch = true }]
        }
        let fileLog = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog.with {
            $0.path = "/dev/stdout"
            $0.logFormat = .with {
                $0.jsonFormat = Google_Protobuf_Struct(fields: [
                    "method": Google_Protobuf_Value(stringValue: "%REQ(:METHOD)%"),
                    "code": Google_Protobuf_Value(stringValue: "%RESPONSE_CODE%"),
                ])
                $0.omitEmptyValues = true
            }
        }
        return try .with {
            $0.statPrefix = "inbound_0.0.0.0_9080"
            $0.codecType = .auto
            $0.routeConfig = try routeConfiguration(name: "inbound|9080||")
            $0.httpFilters = [
                try filter("envoy.filters.http.jwt_authn", jwt),
                try filter("envoy.filters.http.rbac", Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.with { $0.rules = rbacRules() }),
                try filter("envoy.filters.http.fault", fault),
                try filter("envoy.filters.http.cors", Envoy_Extensions_Filters_Http_Cors_V3_Cors()),
                try filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router.with { $0.startChildSpan = false; $0.suppressEnvoyHeaders = true }),
            ]
            $0.accessLog = [
                try .with {
                    $0.name = "envoy.access_loggers.file"
                    $0.filter = .with { $0.responseFlagFilter = .with { $0.flags = ["NR"] } }
                    $0.typedConfig = try Google_Protobuf_Any(message: fileLog)
                }
            ]
            $0.tracing = .with {
                $0.randomSampling = .with { $0.value = 1 }
                $0.customTags = [
                    .with { $0.tag = "istio.mesh_id"; $0.environment = .with { $0.name = "ISTIO_META_MESH_ID"; $0.defaultValue = "unknown" } },
                    .with { $0.tag = "istio.canonical_service"; $0.literal = .with { $0.value = "reviews" } },
                ]
            }
            $0.commonHTTPProtocolOptions = .with { $0.idleTimeout = duration(3600); $0.headersWithUnderscoresAction = .rejectRequest }
            $0.http2ProtocolOptions = .with { $0.maxConcurrentStreams = .init(2_147_483_647) }
            $0.serverName = "istio-envoy"
            $0.streamIdleTimeout = duration(300)
            $0.requestTimeout = duration(0)
            $0.useRemoteAddress = .init(false)
            $0.xffNumTrustedHops = 0
            $0.forwardClientCertDetails = .appendForward
            $0.setCurrentClientCertDetails = .with { $0.subject = .init(true); $0.dns = true; $0.uri = true }
            $0.upgradeConfigs = [.with { $0.upgradeType = "websocket" }]
            $0.normalizePath = .init(true)
            $0.pathWithEscapedSlashesAction = .keepUnchanged
            $0.generateRequestID = .init(true)
            $0.preserveExternalRequestID = true
            $0.stripAnyHostPort = true
        }
    }

    static func inboundListener() throws -> Envoy_Config_Listener_V3_Listener {
        let downstreamTLS = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.with {
            $0.requireClientCertificate = .init(true)
            $0.commonTlsContext = .with {
                $0.alpnProtocols = ["h2", "http/1.1"]
                $0.tlsCertificateSdsSecretConfigs = [sds("default")]
                $0.combinedValidationContext = .with {
                    $0.defaultValidationContext = .with {
                        $0.matchTypedSubjectAltNames = [.with { $0.sanType = .uri; $0.matcher = .with { $0.prefix = "spiffe://cluster.local/" } }]
                    }
                    $0.validationContextSdsSecretConfig = sds("ROOTCA")
                }
            }
        }
        let tcpProxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.with {
            $0.statPrefix = "inbound|9090||"
            $0.weightedClusters = .with {
                $0.clusters = [.with { $0.name = outboundReviews; $0.weight = 80 }, .with { $0.name = "PassthroughCluster"; $0.weight = 20 }]
            }
            $0.idleTimeout = duration(3600)
            $0.maxConnectAttempts = .init(3)
            $0.hashPolicy = [.with { $0.sourceIp = .init() }]
        }
        let networkRBAC = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.with {
            $0.statPrefix = "tcp."
            $0.rules = .with {
                $0.action = .deny
                $0.policies = ["deny-external": .with {
                    $0.permissions = [.with { $0.any = true }]
                    $0.principals = [.with { $0.notID = .with { $0.remoteIp = .with { $0.addressPrefix = "10.0.0.0"; $0.prefixLen = .init(8) } } }]
                }]
            }
        }
        return try .with {
            $0.name = "virtualInbound"
            $0.address = address("0.0.0.0", 15006)
            $0.trafficDirection = .inbound
            $0.useOriginalDst = .init(true)
            $0.continueOnListenerFiltersTimeout = true
            $0.listenerFiltersTimeout = duration(0)
            $0.listenerFilters = [
                try .with { $0.name = "envoy.filters.listener.original_dst"; $0.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst()) },
                try .with { $0.name = "envoy.filters.listener.tls_inspector"; $0.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector()) },
                try .with {
                    $0.name = "envoy.filters.listener.http_inspector"
                    $0.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Listener_HttpInspector_V3_HttpInspector())
                    $0.filterDisabled = .with { $0.destinationPortRange = .with { $0.start = 9090; $0.end = 9091 } }
                },
            ]
            $0.filterChains = [
                try .with {
                    $0.name = "0.0.0.0_9080"
                    $0.filterChainMatch = .with {
                        $0.destinationPort = .init(9080)
                        $0.transportProtocol = "tls"
                        $0.applicationProtocols = ["istio-http/1.0", "istio-http/1.1", "istio-h2"]
                    }
                    $0.transportSocket = try .with { $0.name = "envoy.transport_sockets.tls"; $0.typedConfig = try Google_Protobuf_Any(message: downstreamTLS) }
                    $0.filters = [try .with { $0.name = "envoy.filters.network.http_connection_manager"; $0.typedConfig = try Google_Protobuf_Any(message: inboundHTTPManager()) }]
                },
                try .with {
                    $0.name = "0.0.0.0_9090"
                    $0.filterChainMatch = .with {
                        $0.destinationPort = .init(9090)
                        $0.prefixRanges = [.with { $0.addressPrefix = "0.0.0.0"; $0.prefixLen = .init(0) }]
                        $0.sourceType = .any
                    }
                    $0.filters = [
                        try .with { $0.name = "envoy.filters.network.rbac"; $0.typedConfig = try Google_Protobuf_Any(message: networkRBAC) },
                        try .with { $0.name = "envoy.filters.network.tcp_proxy"; $0.typedConfig = try Google_Protobuf_Any(message: tcpProxy) },
                    ]
                },
            ]
        }
    }

    /// An outbound HTTP listener whose routes come from RDS over ADS.
    static func outboundRDSListener() throws -> Envoy_Config_Listener_V3_Listener {
        let hcm = try HCM.with {
            $0.statPrefix = "outbound_0.0.0.0_9080"
            $0.rds = .with { $0.configSource = adsConfigSource; $0.routeConfigName = "9080" }
            $0.httpFilters = [try filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
            $0.useRemoteAddress = .init(false)
        }
        return try .with {
            $0.name = "0.0.0.0_9080"
            $0.address = address("0.0.0.0", 9080)
            $0.trafficDirection = .outbound
            $0.bindToPort = .init(false)
            $0.filterChains = [
                try .with { $0.filters = [try .with { $0.name = "envoy.filters.network.http_connection_manager"; $0.typedConfig = try Google_Protobuf_Any(message: hcm) }] }
            ]
        }
    }
}
