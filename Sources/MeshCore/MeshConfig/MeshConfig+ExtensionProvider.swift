extension MeshConfig {
    /// A named provider that Telemetry and CUSTOM AuthorizationPolicies refer to.
    ///
    /// Exactly one of the provider fields is set (a proto `oneof`).
    public struct ExtensionProvider: Sendable, Hashable, Codable {
        /// Unique name other resources use to refer to this provider.
        public var name: String?
        public var envoyExtAuthzHttp: EnvoyExternalAuthorizationHttpProvider?
        public var envoyExtAuthzGrpc: EnvoyExternalAuthorizationGrpcProvider?
        public var zipkin: ZipkinTracingProvider?
        /// Deprecated.
        public var lightstep: LightstepTracingProvider?
        public var datadog: DatadogTracingProvider?
        public var stackdriver: StackdriverProvider?
        /// Deprecated.
        public var opencensus: OpenCensusAgentTracingProvider?
        public var skywalking: SkyWalkingTracingProvider?
        public var opentelemetry: OpenTelemetryTracingProvider?
        public var prometheus: PrometheusMetricsProvider?
        public var envoyFileAccessLog: EnvoyFileAccessLogProvider?
        public var envoyHttpAls: EnvoyHttpGrpcV3LogProvider?
        public var envoyTcpAls: EnvoyTcpGrpcV3LogProvider?
        public var envoyOtelAls: EnvoyOpenTelemetryLogProvider?
        public var sds: SDSProvider?

        public init(name: String? = nil) { self.name = name }

        /// The names of the provider fields that are set.
        public var providerKinds: [String] {
            var kinds: [String] = []
            if envoyExtAuthzHttp != nil { kinds.append("envoyExtAuthzHttp") }
            if envoyExtAuthzGrpc != nil { kinds.append("envoyExtAuthzGrpc") }
            if zipkin != nil { kinds.append("zipkin") }
            if lightstep != nil { kinds.append("lightstep") }
            if datadog != nil { kinds.append("datadog") }
            if stackdriver != nil { kinds.append("stackdriver") }
            if opencensus != nil { kinds.append("opencensus") }
            if skywalking != nil { kinds.append("skywalking") }
            if opentelemetry != nil { kinds.append("opentelemetry") }
            if prometheus != nil { kinds.append("prometheus") }
            if envoyFileAccessLog != nil { kinds.append("envoyFileAccessLog") }
            if envoyHttpAls != nil { kinds.append("envoyHttpAls") }
            if envoyTcpAls != nil { kinds.append("envoyTcpAls") }
            if envoyOtelAls != nil { kinds.append("envoyOtelAls") }
            if sds != nil { kinds.append("sds") }
            return kinds
        }

        /// Copies the provider oneof (not the name) from `other`.
        mutating func replaceProvider(with other: ExtensionProvider) {
            let name = self.name
            self = other
            self.name = name
        }

        /// How much of the request body an ext_authz server receives.
        public struct EnvoyExternalAuthorizationRequestBody: Sendable, Hashable, Codable {
            public var maxRequestBytes: UInt32?
            public var allowPartialMessage: Bool?
            public var packAsBytes: Bool?

            public init(maxRequestBytes: UInt32? = nil, allowPartialMessage: Bool? = nil, packAsBytes: Bool? = nil) {
                self.maxRequestBytes = maxRequestBytes
                self.allowPartialMessage = allowPartialMessage
                self.packAsBytes = packAsBytes
            }
        }

        /// An HTTP external authorization server.
        public struct EnvoyExternalAuthorizationHttpProvider: Sendable, Hashable, Codable {
            /// `[namespace/]hostname` of the server (required).
            public var service: String?
            /// Port of the server (required).
            public var port: UInt32?
            public var timeout: ConfigDuration?
            /// Prefix added to the check request path; must start with `/`.
            public var pathPrefix: String?
            public var failOpen: Bool?
            public var clearRouteCache: Bool?
            /// HTTP status returned when the server errors, e.g. `"503"`.
            public var statusOnError: String?
            /// Deprecated: use `includeRequestHeadersInCheck`.
            public var includeHeadersInCheck: [String]?
            public var includeRequestHeadersInCheck: [String]?
            public var includeAdditionalHeadersInCheck: [String: String]?
            public var includeRequestBodyInCheck: EnvoyExternalAuthorizationRequestBody?
            public var headersToUpstreamOnAllow: [String]?
            public var headersToDownstreamOnDeny: [String]?
            public var headersToDownstreamOnAllow: [String]?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// A gRPC external authorization server.
        public struct EnvoyExternalAuthorizationGrpcProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var timeout: ConfigDuration?
            public var failOpen: Bool?
            public var clearRouteCache: Bool?
            public var statusOnError: String?
            public var includeRequestBodyInCheck: EnvoyExternalAuthorizationRequestBody?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// A Zipkin collector.
        public struct ZipkinTracingProvider: Sendable, Hashable, Codable {
            public enum TraceContextOption: String, ConfigEnum {
                case USE_B3, USE_B3_WITH_W3C_PROPAGATION
            }

            public var service: String?
            public var port: UInt32?
            public var maxTagLength: UInt32?
            public var enable64bitTraceId: Bool?
            /// Collector endpoint path (`/api/v2/spans`).
            public var path: String?
            public var traceContextOption: TraceContextOption?
            public var timeout: ConfigDuration?
            public var headers: [HttpHeader]?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// Deprecated Lightstep collector.
        public struct LightstepTracingProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var accessToken: String?
            public var maxTagLength: UInt32?

            public init(service: String? = nil, port: UInt32? = nil, accessToken: String? = nil) {
                self.service = service
                self.port = port
                self.accessToken = accessToken
            }
        }

        /// A Datadog agent.
        public struct DatadogTracingProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var maxTagLength: UInt32?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// An Apache SkyWalking OAP server.
        public struct SkyWalkingTracingProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var accessToken: String?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// Google Cloud operations (Stackdriver).
        public struct StackdriverProvider: Sendable, Hashable, Codable {
            public struct Logging: Sendable, Hashable, Codable {
                /// Extra log labels as CEL expressions.
                public var labels: [String: String]?
                public init(labels: [String: String]? = nil) { self.labels = labels }
            }

            /// Deprecated.
            public var debug: Bool?
            /// Deprecated.
            public var maxNumberOfAttributes: Int64?
            /// Deprecated.
            public var maxNumberOfAnnotations: Int64?
            /// Deprecated.
            public var maxNumberOfMessageEvents: Int64?
            public var maxTagLength: UInt32?
            public var logging: Logging?

            public init() {}
        }

        /// Deprecated OpenCensus agent.
        public struct OpenCensusAgentTracingProvider: Sendable, Hashable, Codable {
            public enum TraceContext: String, ConfigEnum {
                case UNSPECIFIED, W3C_TRACE_CONTEXT, GRPC_BIN, CLOUD_TRACE_CONTEXT, B3
            }

            public var service: String?
            public var port: UInt32?
            public var context: [TraceContext]?
            public var maxTagLength: UInt32?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// Prometheus metrics (no settings).
        public struct PrometheusMetricsProvider: Sendable, Hashable, Codable {
            public init() {}
        }

        /// Envoy access logs written to a file.
        public struct EnvoyFileAccessLogProvider: Sendable, Hashable, Codable {
            /// Text (`text`) or JSON (`labels`) format: one of the two.
            public struct LogFormat: Sendable, Hashable, Codable {
                public var text: String?
                public var labels: JSONValue?

                public init(text: String? = nil, labels: JSONValue? = nil) {
                    self.text = text
                    self.labels = labels
                }
            }

            /// File path, e.g. `/dev/stdout`.
            public var path: String?
            public var logFormat: LogFormat?
            public var omitEmptyValues: Bool?

            public init(path: String? = nil, logFormat: LogFormat? = nil, omitEmptyValues: Bool? = nil) {
                self.path = path
                self.logFormat = logFormat
                self.omitEmptyValues = omitEmptyValues
            }
        }

        /// HTTP access logs sent to a gRPC access-log service.
        public struct EnvoyHttpGrpcV3LogProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var logName: String?
            public var filterStateObjectsToLog: [String]?
            public var additionalRequestHeadersToLog: [String]?
            public var additionalResponseHeadersToLog: [String]?
            public var additionalResponseTrailersToLog: [String]?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// TCP access logs sent to a gRPC access-log service.
        public struct EnvoyTcpGrpcV3LogProvider: Sendable, Hashable, Codable {
            public var service: String?
            public var port: UInt32?
            public var logName: String?
            public var filterStateObjectsToLog: [String]?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// Access logs sent to an OpenTelemetry collector.
        public struct EnvoyOpenTelemetryLogProvider: Sendable, Hashable, Codable {
            public struct LogFormat: Sendable, Hashable, Codable {
                public var text: String?
                public var labels: JSONValue?

                public init(text: String? = nil, labels: JSONValue? = nil) {
                    self.text = text
                    self.labels = labels
                }
            }

            public var service: String?
            public var port: UInt32?
            public var logName: String?
            public var logFormat: LogFormat?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// How service attributes are named on OpenTelemetry spans.
        public enum ServiceAttributeEnrichment: String, ConfigEnum {
            case ISTIO_CANONICAL, OTEL_SEMANTIC_CONVENTIONS
        }

        /// An OpenTelemetry collector for traces, over gRPC (default) or HTTP.
        public struct OpenTelemetryTracingProvider: Sendable, Hashable, Codable {
            /// Dynatrace's sampler.
            public struct DynatraceSampler: Sendable, Hashable, Codable {
                public struct DynatraceApi: Sendable, Hashable, Codable {
                    public var service: String?
                    public var port: UInt32?
                    public var http: HttpService?

                    public init(service: String? = nil, port: UInt32? = nil, http: HttpService? = nil) {
                        self.service = service
                        self.port = port
                        self.http = http
                    }
                }

                public var tenant: String?
                public var clusterId: Int32?
                public var rootSpansPerMinute: UInt32?
                public var httpService: DynatraceApi?

                public init() {}
            }

            public var service: String?
            public var port: UInt32?
            public var maxTagLength: UInt32?
            /// Export over HTTP; mutually exclusive with `grpc`.
            public var http: HttpService?
            /// Export over gRPC with these settings; mutually exclusive with `http`.
            public var grpc: GrpcService?
            public var resourceDetectors: ResourceDetectors?
            public var serviceAttributeEnrichment: ServiceAttributeEnrichment?
            public var dynatraceSampler: DynatraceSampler?

            public init(service: String? = nil, port: UInt32? = nil) {
                self.service = service
                self.port = port
            }
        }

        /// An SDS server for certificates.
        public struct SDSProvider: Sendable, Hashable, Codable {
            public var name: String?
            public var service: String?
            public var port: UInt32?

            public init(name: String? = nil, service: String? = nil, port: UInt32? = nil) {
                self.name = name
                self.service = service
                self.port = port
            }
        }

        /// Settings of an HTTP export endpoint.
        public struct HttpService: Sendable, Hashable, Codable {
            public var path: String?
            public var timeout: ConfigDuration?
            public var headers: [HttpHeader]?

            public init(path: String? = nil, timeout: ConfigDuration? = nil, headers: [HttpHeader]? = nil) {
                self.path = path
                self.timeout = timeout
                self.headers = headers
            }
        }

        /// A header to send: a literal `value` or one read from `envName`.
        public struct HttpHeader: Sendable, Hashable, Codable {
            public var name: String?
            public var value: String?
            public var envName: String?

            public init(name: String? = nil, value: String? = nil, envName: String? = nil) {
                self.name = name
                self.value = value
                self.envName = envName
            }
        }

        /// OpenTelemetry resource detectors to run.
        public struct ResourceDetectors: Sendable, Hashable, Codable {
            public struct EnvironmentResourceDetector: Sendable, Hashable, Codable {
                public init() {}
            }

            public struct DynatraceResourceDetector: Sendable, Hashable, Codable {
                public init() {}
            }

            public var environment: EnvironmentResourceDetector?
            public var dynatrace: DynatraceResourceDetector?

            public init(environment: EnvironmentResourceDetector? = nil, dynatrace: DynatraceResourceDetector? = nil) {
                self.environment = environment
                self.dynatrace = dynatrace
            }
        }

        /// Settings of a gRPC export endpoint.
        public struct GrpcService: Sendable, Hashable, Codable {
            public var timeout: ConfigDuration?
            public var initialMetadata: [HttpHeader]?

            public init(timeout: ConfigDuration? = nil, initialMetadata: [HttpHeader]? = nil) {
                self.timeout = timeout
                self.initialMetadata = initialMetadata
            }
        }
    }
}
