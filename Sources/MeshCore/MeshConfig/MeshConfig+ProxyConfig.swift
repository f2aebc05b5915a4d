extension MeshConfig {
    /// Istio's `istio.mesh.v1alpha1.ProxyConfig`: settings of each Envoy proxy and its agent
    /// (MeshConfig `defaultConfig`).
    ///
    /// Not to be confused with the `networking.istio.io` ``MeshCore/ProxyConfig`` resource kind.
    public struct ProxyConfig: Sendable, Hashable, Codable {
        // MARK: Paths and identity

        /// Directory for generated Envoy configuration (`./etc/istio/proxy`).
        public var configPath: String?
        /// Path to the Envoy binary (`/usr/local/bin/envoy`).
        public var binaryPath: String?
        /// Service cluster name for tracing; one of `serviceCluster` or `tracingServiceName`.
        public var serviceCluster: String?
        public var tracingServiceName: TracingServiceName?
        public var meshId: String?

        // MARK: Lifecycle

        /// How long Envoy drains connections on hot restart (45s); whole seconds only.
        public var drainDuration: ConfigDuration?
        /// How long the proxy drains before it exits (5s).
        public var terminationDrainDuration: ConfigDuration?
        public var holdApplicationUntilProxyStarts: Bool?

        // MARK: Control plane

        /// `host:port` of istiod (`istiod.istio-system.svc:15012`).
        public var discoveryAddress: String?
        /// Deprecated.
        public var discoveryRefreshDelay: ConfigDuration?
        public var controlPlaneAuthPolicy: AuthenticationPolicy?
        public var caCertificatesPem: [String]?

        // MARK: Telemetry

        /// Deprecated: use `tracing.zipkin.address`.
        public var zipkinAddress: String?
        /// `host:port` of a statsd UDP sink.
        public var statsdUdpAddress: String?
        /// Deprecated: use `envoyMetricsService`.
        public var envoyMetricsServiceAddress: String?
        public var tracing: Tracing?
        public var envoyAccessLogService: RemoteService?
        public var envoyMetricsService: RemoteService?
        public var extraStatTags: [String]?
        public var proxyStatsMatcher: ProxyStatsMatcher?
        public var statNameLength: Int32?
        public var statsCompression: Bool?
        public var fileFlushInterval: ConfigDuration?
        public var fileFlushMinSizeKb: UInt32?

        // MARK: Envoy

        /// Envoy admin port (15000).
        public var proxyAdminPort: Int32?
        /// Deprecated.
        public var availabilityZone: String?
        public var customConfigFile: String?
        /// Worker threads; 0 means one per core.
        public var concurrency: Int32?
        public var proxyBootstrapTemplatePath: String?
        public var interceptionMode: InboundInterceptionMode?
        /// Deprecated.
        public var sds: SDS?
        public var proxyMetadata: [String: String]?
        public var runtimeValues: [String: String]?
        /// Agent status/health port (15020).
        public var statusPort: Int32?
        public var gatewayTopology: Topology?
        public var readinessProbe: WorkloadGroup.ReadinessProbe?
        public var image: MeshCore.ProxyConfig.ProxyImage?
        public var privateKeyProvider: PrivateKeyProvider?
        public var proxyHeaders: ProxyHeaders?
        public var connectionSettings: ConnectionSettings?

        public init() {}

        public enum TracingServiceName: String, ConfigEnum {
            case APP_LABEL_AND_NAMESPACE, CANONICAL_NAME_ONLY, CANONICAL_NAME_AND_NAMESPACE
        }

        public enum InboundInterceptionMode: String, ConfigEnum {
            case REDIRECT, TPROXY, NONE
        }

        /// Which Envoy stats are kept beyond the defaults.
        public struct ProxyStatsMatcher: Sendable, Hashable, Codable {
            public var inclusionPrefixes: [String]?
            public var inclusionSuffixes: [String]?
            public var inclusionRegexps: [String]?

            public init(inclusionPrefixes: [String]? = nil, inclusionSuffixes: [String]? = nil, inclusionRegexps: [String]? = nil) {
                self.inclusionPrefixes = inclusionPrefixes
                self.inclusionSuffixes = inclusionSuffixes
                self.inclusionRegexps = inclusionRegexps
            }
        }

        /// Headers the proxy adds or forwards.
        public struct ProxyHeaders: Sendable, Hashable, Codable {
            public struct Server: Sendable, Hashable, Codable {
                public var disabled: Bool?
                public var value: String?
                public init(disabled: Bool? = nil, value: String? = nil) {
                    self.disabled = disabled
                    self.value = value
                }
            }

            public struct RequestId: Sendable, Hashable, Codable {
                public var disabled: Bool?
                public init(disabled: Bool? = nil) { self.disabled = disabled }
            }

            public struct AttemptCount: Sendable, Hashable, Codable {
                public var disabled: Bool?
                public init(disabled: Bool? = nil) { self.disabled = disabled }
            }

            public struct XForwardedHost: Sendable, Hashable, Codable {
                public var enabled: Bool?
                public init(enabled: Bool? = nil) { self.enabled = enabled }
            }

            public struct XForwardedPort: Sendable, Hashable, Codable {
                public var enabled: Bool?
                public init(enabled: Bool? = nil) { self.enabled = enabled }
            }

            public struct EnvoyDebugHeaders: Sendable, Hashable, Codable {
                public var disabled: Bool?
                public init(disabled: Bool? = nil) { self.disabled = disabled }
            }

            public enum MetadataExchangeMode: String, ConfigEnum {
                case UNDEFINED, IN_MESH
            }

            public struct MetadataExchangeHeaders: Sendable, Hashable, Codable {
                public var mode: MetadataExchangeMode?
                public init(mode: MetadataExchangeMode? = nil) { self.mode = mode }
            }

            public struct SetCurrentClientCertDetails: Sendable, Hashable, Codable {
                public var subject: Bool?
                public var cert: Bool?
                public var chain: Bool?
                public var dns: Bool?
                public var uri: Bool?

                public init(subject: Bool? = nil, cert: Bool? = nil, chain: Bool? = nil, dns: Bool? = nil, uri: Bool? = nil) {
                    self.subject = subject
                    self.cert = cert
                    self.chain = chain
                    self.dns = dns
                    self.uri = uri
                }
            }

            public var forwardedClientCert: ForwardClientCertDetails?
            public var setCurrentClientCertDetails: SetCurrentClientCertDetails?
            public var requestId: RequestId?
            public var server: Server?
            public var attemptCount: AttemptCount?
            public var envoyDebugHeaders: EnvoyDebugHeaders?
            public var metadataExchangeHeaders: MetadataExchangeHeaders?
            public var preserveHttp1HeaderCase: Bool?
            public var xForwardedHost: XForwardedHost?
            public var xForwardedPort: XForwardedPort?

            public init() {}
        }

        /// Listener and HTTP connection-manager limits and timeouts.
        public struct ConnectionSettings: Sendable, Hashable, Codable {
            public enum Profile: String, ConfigEnum {
                case SIDECAR, EDGE
            }

            public enum HeadersWithUnderscoresAction: String, ConfigEnum {
                case HEADERS_WITH_UNDERSCORES_UNSPECIFIED, HEADERS_WITH_UNDERSCORES_ALLOW
                case HEADERS_WITH_UNDERSCORES_REJECT_REQUEST, HEADERS_WITH_UNDERSCORES_DROP_HEADER
            }

            public enum PathWithEscapedSlashesAction: String, ConfigEnum {
                case PATH_WITH_ESCAPED_SLASHES_UNSPECIFIED, KEEP_UNCHANGED, REJECT_REQUEST
                case UNESCAPE_AND_REDIRECT, UNESCAPE_AND_FORWARD
            }

            public var profile: Profile?
            public var listenerPerConnectionBufferLimitBytes: Int32?
            public var clusterPerConnectionBufferLimitBytes: Int32?
            public var httpIdleTimeout: ConfigDuration?
            public var httpMaxConnectionDuration: ConfigDuration?
            public var httpDrainTimeout: ConfigDuration?
            public var httpRequestTimeout: ConfigDuration?
            public var httpRequestHeadersTimeout: ConfigDuration?
            public var httpStreamIdleTimeout: ConfigDuration?
            public var httpMaxStreamDuration: ConfigDuration?
            public var httpMaxConcurrentStreams: Int32?
            public var http2InitialStreamWindowSize: Int32?
            public var http2InitialConnectionWindowSize: Int32?
            public var httpHeadersWithUnderscoresAction: HeadersWithUnderscoresAction?
            public var httpMergeSlashes: Bool?
            public var httpPathWithEscapedSlashesAction: PathWithEscapedSlashesAction?
            public var listenerConnectionLimit: Int32?
            public var globalDownstreamConnectionLimit: Int32?

            public init() {}
        }
    }

    /// Control-plane authentication (`istio.mesh.v1alpha1.AuthenticationPolicy`).
    public enum AuthenticationPolicy: String, ConfigEnum {
        case NONE, MUTUAL_TLS, INHERIT
    }

    /// How the `x-forwarded-client-cert` header is handled.
    public enum ForwardClientCertDetails: String, ConfigEnum {
        case UNDEFINED, SANITIZE, FORWARD_ONLY, APPEND_FORWARD, SANITIZE_SET, ALWAYS_FORWARD_ONLY
    }

    /// Legacy proxy tracing settings: one tracer plus tags and sampling.
    public struct Tracing: Sendable, Hashable, Codable {
        public struct Zipkin: Sendable, Hashable, Codable {
            /// `host:port` of the collector; `$(HOST_IP)` is allowed.
            public var address: String?
            public init(address: String? = nil) { self.address = address }
        }

        public struct Lightstep: Sendable, Hashable, Codable {
            public var address: String?
            public var accessToken: String?
            public init(address: String? = nil, accessToken: String? = nil) {
                self.address = address
                self.accessToken = accessToken
            }
        }

        public struct Datadog: Sendable, Hashable, Codable {
            public var address: String?
            public init(address: String? = nil) { self.address = address }
        }

        public struct Stackdriver: Sendable, Hashable, Codable {
            public var debug: Bool?
            public var maxNumberOfAttributes: Int64?
            public var maxNumberOfAnnotations: Int64?
            public var maxNumberOfMessageEvents: Int64?
            public init() {}
        }

        public struct OpenCensusAgent: Sendable, Hashable, Codable {
            public enum TraceContext: String, ConfigEnum {
                case UNSPECIFIED, W3C_TRACE_CONTEXT, GRPC_BIN, CLOUD_TRACE_CONTEXT, B3
            }

            public var address: String?
            public var context: [TraceContext]?

            public init(address: String? = nil, context: [TraceContext]? = nil) {
                self.address = address
                self.context = context
            }
        }

        /// A span tag: one of `literal`, `environment` or `header`.
        public struct CustomTag: Sendable, Hashable, Codable {
            public var literal: Literal?
            public var environment: Environment?
            public var header: RequestHeader?

            public init(literal: Literal? = nil, environment: Environment? = nil, header: RequestHeader? = nil) {
                self.literal = literal
                self.environment = environment
                self.header = header
            }
        }

        public struct Literal: Sendable, Hashable, Codable {
            public var value: String?
            public init(value: String? = nil) { self.value = value }
        }

        public struct Environment: Sendable, Hashable, Codable {
            public var name: String?
            public var defaultValue: String?
            public init(name: String? = nil, defaultValue: String? = nil) {
                self.name = name
                self.defaultValue = defaultValue
            }
        }

        public struct RequestHeader: Sendable, Hashable, Codable {
            public var name: String?
            public var defaultValue: String?
            public init(name: String? = nil, defaultValue: String? = nil) {
                self.name = name
                self.defaultValue = defaultValue
            }
        }

        public var zipkin: Zipkin?
        public var lightstep: Lightstep?
        public var datadog: Datadog?
        public var stackdriver: Stackdriver?
        public var openCensusAgent: OpenCensusAgent?
        public var customTags: [String: CustomTag]?
        public var maxPathTagLength: UInt32?
        /// Sampling percentage, 0-100.
        public var sampling: Double?
        public var tlsSettings: ClientTLSSettings?
        public var enableIstioTags: Bool?

        public init() {}
    }

    /// Deprecated SDS settings.
    public struct SDS: Sendable, Hashable, Codable {
        public var enabled: Bool?
        public var k8sSaJwtPath: String?

        public init(enabled: Bool? = nil, k8sSaJwtPath: String? = nil) {
            self.enabled = enabled
            self.k8sSaJwtPath = k8sSaJwtPath
        }
    }

    /// Network topology of a gateway: trusted hops and client-cert forwarding.
    public struct Topology: Sendable, Hashable, Codable {
        /// Enables PROXY protocol on the gateway's listeners.
        public struct ProxyProtocolConfiguration: Sendable, Hashable, Codable {
            public init() {}
        }

        public var numTrustedProxies: UInt32?
        public var forwardClientCertDetails: ForwardClientCertDetails?
        public var proxyProtocol: ProxyProtocolConfiguration?

        public init(numTrustedProxies: UInt32? = nil, forwardClientCertDetails: ForwardClientCertDetails? = nil, proxyProtocol: ProxyProtocolConfiguration? = nil) {
            self.numTrustedProxies = numTrustedProxies
            self.forwardClientCertDetails = forwardClientCertDetails
            self.proxyProtocol = proxyProtocol
        }
    }

    /// Hardware-accelerated private-key operations: one of `cryptomb` or `qat`.
    public struct PrivateKeyProvider: Sendable, Hashable, Codable {
        public struct CryptoMb: Sendable, Hashable, Codable {
            public var pollDelay: ConfigDuration?
            public var fallback: Bool?
            public init(pollDelay: ConfigDuration? = nil, fallback: Bool? = nil) {
                self.pollDelay = pollDelay
                self.fallback = fallback
            }
        }

        public struct QAT: Sendable, Hashable, Codable {
            public var pollDelay: ConfigDuration?
            public var fallback: Bool?
            public init(pollDelay: ConfigDuration? = nil, fallback: Bool? = nil) {
                self.pollDelay = pollDelay
                self.fallback = fallback
            }
        }

        public var cryptomb: CryptoMb?
        public var qat: QAT?

        public init(cryptomb: CryptoMb? = nil, qat: QAT? = nil) {
            self.cryptomb = cryptomb
            self.qat = qat
        }
    }

    /// A gRPC service the proxy streams to (access-log or metrics service).
    public struct RemoteService: Sendable, Hashable, Codable {
        /// `host:port`.
        public var address: String?
        public var tlsSettings: ClientTLSSettings?
        public var tcpKeepalive: TCPKeepalive?

        public init(address: String? = nil, tlsSettings: ClientTLSSettings? = nil, tcpKeepalive: TCPKeepalive? = nil) {
            self.address = address
            self.tlsSettings = tlsSettings
            self.tcpKeepalive = tcpKeepalive
        }
    }
}
