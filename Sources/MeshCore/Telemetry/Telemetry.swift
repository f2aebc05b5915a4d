/// Istio's `Telemetry` spec (`telemetry.istio.io`): tracing, metrics and access-logging settings
/// for the workloads it selects.
public struct Telemetry: ResourceSpec {
    public static var kind: ResourceKind { .telemetry }

    /// Workloads this policy applies to; mutually exclusive with `targetRef`/`targetRefs`.
    public var selector: WorkloadSelector?
    /// A single resource the policy attaches to (hidden in Istio's docs; prefer `targetRefs`).
    public var targetRef: PolicyTargetReference?
    /// Resources (Gateway, GatewayClass, Service, ServiceEntry) the policy attaches to.
    public var targetRefs: [PolicyTargetReference]?
    /// Tracing overrides; Istio honours only the first entry today.
    public var tracing: [Tracing]?
    /// Metrics overrides.
    public var metrics: [Metrics]?
    /// Access-logging overrides.
    public var accessLogging: [AccessLogging]?

    public init(
        selector: WorkloadSelector? = nil, targetRef: PolicyTargetReference? = nil, targetRefs: [PolicyTargetReference]? = nil,
        tracing: [Tracing]? = nil, metrics: [Metrics]? = nil, accessLogging: [AccessLogging]? = nil
    ) {
        self.selector = selector
        self.targetRef = targetRef
        self.targetRefs = targetRefs
        self.tracing = tracing
        self.metrics = metrics
        self.accessLogging = accessLogging
    }

    /// Direction of traffic a setting applies to, relative to the proxied workload.
    public enum WorkloadMode: String, ConfigEnum {
        case CLIENT_AND_SERVER, CLIENT, SERVER
    }

    /// A reference to an extension provider declared in MeshConfig `extensionProviders`.
    public struct ProviderRef: Sendable, Hashable, Codable {
        /// The provider's name (required).
        public var name: String?

        public init(name: String? = nil) { self.name = name }
    }

    /// Tracing configuration: providers, sampling and custom span tags.
    public struct Tracing: Sendable, Hashable, Codable {
        /// Narrows the setting to client or server traffic.
        public struct TracingSelector: Sendable, Hashable, Codable {
            public var mode: WorkloadMode?
            public init(mode: WorkloadMode? = nil) { self.mode = mode }
        }

        /// A span tag: exactly one of `literal`, `environment`, `header` or `formatter`.
        public struct CustomTag: Sendable, Hashable, Codable {
            public var literal: Literal?
            public var environment: Environment?
            public var header: RequestHeader?
            public var formatter: Formatter?

            public init(literal: Literal? = nil, environment: Environment? = nil, header: RequestHeader? = nil, formatter: Formatter? = nil) {
                self.literal = literal
                self.environment = environment
                self.header = header
                self.formatter = formatter
            }
        }

        /// A fixed tag value.
        public struct Literal: Sendable, Hashable, Codable {
            public var value: String?
            public init(value: String? = nil) { self.value = value }
        }

        /// A tag value read from the proxy's environment.
        public struct Environment: Sendable, Hashable, Codable {
            public var name: String?
            public var defaultValue: String?
            public init(name: String? = nil, defaultValue: String? = nil) {
                self.name = name
                self.defaultValue = defaultValue
            }
        }

        /// A tag value read from a request header.
        public struct RequestHeader: Sendable, Hashable, Codable {
            public var name: String?
            public var defaultValue: String?
            public init(name: String? = nil, defaultValue: String? = nil) {
                self.name = name
                self.defaultValue = defaultValue
            }
        }

        /// A tag value produced by an access-log substitution formatter (e.g. `%REQ(:PATH)%`).
        public struct Formatter: Sendable, Hashable, Codable {
            public var value: String?
            public init(value: String? = nil) { self.value = value }
        }

        public var match: TracingSelector?
        /// Tracing providers; Istio supports one.
        public var providers: [ProviderRef]?
        /// Sampling rate for new traces, 0-100.
        public var randomSamplingPercentage: Double?
        public var disableSpanReporting: Bool?
        /// Extra span tags by name.
        public var customTags: [String: CustomTag]?
        public var useRequestIdForTraceSampling: Bool?
        public var enableIstioTags: Bool?
        public var disableContextPropagation: Bool?

        public init(
            match: TracingSelector? = nil, providers: [ProviderRef]? = nil, randomSamplingPercentage: Double? = nil,
            disableSpanReporting: Bool? = nil, customTags: [String: CustomTag]? = nil, useRequestIdForTraceSampling: Bool? = nil,
            enableIstioTags: Bool? = nil, disableContextPropagation: Bool? = nil
        ) {
            self.match = match
            self.providers = providers
            self.randomSamplingPercentage = randomSamplingPercentage
            self.disableSpanReporting = disableSpanReporting
            self.customTags = customTags
            self.useRequestIdForTraceSampling = useRequestIdForTraceSampling
            self.enableIstioTags = enableIstioTags
            self.disableContextPropagation = disableContextPropagation
        }
    }

    /// Metrics configuration: providers, per-metric overrides and reporting interval.
    public struct Metrics: Sendable, Hashable, Codable {
        public var providers: [ProviderRef]?
        public var overrides: [MetricsOverrides]?
        /// How often metrics are reported (at least 1ms).
        public var reportingInterval: ConfigDuration?

        public init(providers: [ProviderRef]? = nil, overrides: [MetricsOverrides]? = nil, reportingInterval: ConfigDuration? = nil) {
            self.providers = providers
            self.overrides = overrides
            self.reportingInterval = reportingInterval
        }
    }

    /// Which metric an override applies to: one of `metric` or `customMetric`, plus a mode.
    public struct MetricSelector: Sendable, Hashable, Codable {
        /// Istio's standard metrics.
        public enum IstioMetric: String, ConfigEnum {
            case ALL_METRICS, REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE
            case TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS, TCP_SENT_BYTES, TCP_RECEIVED_BYTES
            case GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES
        }

        public var metric: IstioMetric?
        public var customMetric: String?
        public var mode: WorkloadMode?

        public init(metric: IstioMetric? = nil, customMetric: String? = nil, mode: WorkloadMode? = nil) {
            self.metric = metric
            self.customMetric = customMetric
            self.mode = mode
        }
    }

    /// Disables a metric or changes its tags.
    public struct MetricsOverrides: Sendable, Hashable, Codable {
        /// Adds/updates (`UPSERT`, the default) or removes (`REMOVE`) a tag.
        public struct TagOverride: Sendable, Hashable, Codable {
            public enum Operation: String, ConfigEnum {
                case UPSERT, REMOVE
            }

            public var operation: Operation?
            /// A CEL expression for the tag value; required for `UPSERT`.
            public var value: String?

            public init(operation: Operation? = nil, value: String? = nil) {
                self.operation = operation
                self.value = value
            }
        }

        public var match: MetricSelector?
        public var disabled: Bool?
        public var tagOverrides: [String: TagOverride]?

        public init(match: MetricSelector? = nil, disabled: Bool? = nil, tagOverrides: [String: TagOverride]? = nil) {
            self.match = match
            self.disabled = disabled
            self.tagOverrides = tagOverrides
        }
    }

    /// Access-logging configuration: providers, on/off and a CEL filter.
    public struct AccessLogging: Sendable, Hashable, Codable {
        /// Narrows the setting to client or server traffic.
        public struct LogSelector: Sendable, Hashable, Codable {
            public var mode: WorkloadMode?
            public init(mode: WorkloadMode? = nil) { self.mode = mode }
        }

        /// Logs only requests for which the CEL `expression` is true.
        public struct Filter: Sendable, Hashable, Codable {
            public var expression: String?
            public init(expression: String? = nil) { self.expression = expression }
        }

        public var match: LogSelector?
        public var providers: [ProviderRef]?
        public var disabled: Bool?
        public var filter: Filter?

        public init(match: LogSelector? = nil, providers: [ProviderRef]? = nil, disabled: Bool? = nil, filter: Filter? = nil) {
            self.match = match
            self.providers = providers
            self.disabled = disabled
            self.filter = filter
        }
    }
}
