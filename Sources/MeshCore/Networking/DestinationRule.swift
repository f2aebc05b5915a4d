/// Istio's `DestinationRule` spec: policies applied to traffic for a service after routing.
public struct DestinationRule: ResourceSpec {
    public static var kind: ResourceKind { .destinationRule }

    /// The service the rule applies to: a registry name, short names resolved in the rule's namespace.
    public var host: String?
    /// Load balancing, connection pool, outlier detection and TLS for the whole host.
    public var trafficPolicy: TrafficPolicy?
    /// Named versions of the service (label sets), each optionally with its own policy.
    public var subsets: [Subset]?
    /// Namespaces the rule is visible to: `.`, `*` or namespace names.
    public var exportTo: [String]?
    /// Applies the rule only to workloads with these labels (in the rule's namespace).
    public var workloadSelector: WorkloadSelector?

    public init(
        host: String? = nil, trafficPolicy: TrafficPolicy? = nil, subsets: [Subset]? = nil,
        exportTo: [String]? = nil, workloadSelector: WorkloadSelector? = nil
    ) {
        self.host = host
        self.trafficPolicy = trafficPolicy
        self.subsets = subsets
        self.exportTo = exportTo
        self.workloadSelector = workloadSelector
    }

    /// Istio's `TrafficPolicy`: the policies for one destination (or subset).
    public struct TrafficPolicy: Sendable, Hashable, Codable {
        public var loadBalancer: LoadBalancerSettings?
        public var connectionPool: ConnectionPoolSettings?
        public var outlierDetection: OutlierDetection?
        public var tls: ClientTLSSettings?
        /// Overrides for individual ports; they replace (not merge with) the destination-level policy.
        public var portLevelSettings: [PortTrafficPolicy]?
        /// Tunnels the connection through a proxy with HTTP CONNECT or POST.
        public var tunnel: TunnelSettings?
        /// Sends a PROXY protocol header upstream.
        public var proxyProtocol: ProxyProtocol?
        /// Limits concurrent retries relative to active requests.
        public var retryBudget: RetryBudget?

        public init(
            loadBalancer: LoadBalancerSettings? = nil, connectionPool: ConnectionPoolSettings? = nil,
            outlierDetection: OutlierDetection? = nil, tls: ClientTLSSettings? = nil,
            portLevelSettings: [PortTrafficPolicy]? = nil, tunnel: TunnelSettings? = nil,
            proxyProtocol: ProxyProtocol? = nil, retryBudget: RetryBudget? = nil
        ) {
            self.loadBalancer = loadBalancer
            self.connectionPool = connectionPool
            self.outlierDetection = outlierDetection
            self.tls = tls
            self.portLevelSettings = portLevelSettings
            self.tunnel = tunnel
            self.proxyProtocol = proxyProtocol
            self.retryBudget = retryBudget
        }

        /// Policies for one port of the destination.
        public struct PortTrafficPolicy: Sendable, Hashable, Codable {
            public var port: PortSelector?
            public var loadBalancer: LoadBalancerSettings?
            public var connectionPool: ConnectionPoolSettings?
            public var outlierDetection: OutlierDetection?
            public var tls: ClientTLSSettings?

            public init(
                port: PortSelector? = nil, loadBalancer: LoadBalancerSettings? = nil,
                connectionPool: ConnectionPoolSettings? = nil, outlierDetection: OutlierDetection? = nil,
                tls: ClientTLSSettings? = nil
            ) {
                self.port = port
                self.loadBalancer = loadBalancer
                self.connectionPool = connectionPool
                self.outlierDetection = outlierDetection
                self.tls = tls
            }
        }

        /// Tunnel settings: `protocol` is `CONNECT` (default) or `POST`.
        public struct TunnelSettings: Sendable, Hashable, Codable {
            public var `protocol`: String?
            /// FQDN or IP address of the destination behind the tunnel proxy.
            public var targetHost: String?
            public var targetPort: UInt32?

            public init(protocol: String? = nil, targetHost: String? = nil, targetPort: UInt32? = nil) {
                self.protocol = `protocol`
                self.targetHost = targetHost
                self.targetPort = targetPort
            }
        }

        /// PROXY protocol settings.
        public struct ProxyProtocol: Sendable, Hashable, Codable {
            /// The PROXY protocol version.
            public enum VERSION: String, ConfigEnum {
                case V1
                case V2
            }

            public var version: VERSION?

            public init(version: VERSION? = nil) { self.version = version }
        }

        /// Envoy retry budget: at most `percent` of active requests may be retries.
        public struct RetryBudget: Sendable, Hashable, Codable {
            public var percent: Double?
            public var minRetryConcurrency: UInt32?
            public var budgetInterval: ConfigDuration?

            public init(percent: Double? = nil, minRetryConcurrency: UInt32? = nil, budgetInterval: ConfigDuration? = nil) {
                self.percent = percent
                self.minRetryConcurrency = minRetryConcurrency
                self.budgetInterval = budgetInterval
            }
        }
    }

    /// Istio's `Subset`: a named set of endpoints selected by labels.
    public struct Subset: Sendable, Hashable, Codable {
        /// Referenced by VirtualService routes; a DNS label.
        public var name: String?
        public var labels: [String: String]?
        /// Overrides the destination-level policy for this subset.
        public var trafficPolicy: TrafficPolicy?

        public init(name: String? = nil, labels: [String: String]? = nil, trafficPolicy: TrafficPolicy? = nil) {
            self.name = name
            self.labels = labels
            self.trafficPolicy = trafficPolicy
        }
    }

    /// Istio's `LoadBalancerSettings`: `simple` or `consistentHash` (one of), plus locality and warmup.
    public struct LoadBalancerSettings: Sendable, Hashable, Codable {
        /// Load balancing algorithms that need no tuning.
        public enum SimpleLB: String, ConfigEnum {
            case UNSPECIFIED
            /// Deprecated: use LEAST_REQUEST.
            case LEAST_CONN
            case RANDOM
            case PASSTHROUGH
            case ROUND_ROBIN
            case LEAST_REQUEST
        }

        /// Session affinity by hashing a header, cookie, source IP or query parameter.
        public struct ConsistentHashLB: Sendable, Hashable, Codable {
            /// Ring hash algorithm settings.
            public struct RingHash: Sendable, Hashable, Codable {
                public var minimumRingSize: UInt64?
                public init(minimumRingSize: UInt64? = nil) { self.minimumRingSize = minimumRingSize }
            }

            /// Maglev algorithm settings; `tableSize` must be a prime.
            public struct MagLev: Sendable, Hashable, Codable {
                public var tableSize: UInt64?
                public init(tableSize: UInt64? = nil) { self.tableSize = tableSize }
            }

            /// A cookie to hash on; Envoy generates it when absent and `ttl` is set.
            public struct HTTPCookie: Sendable, Hashable, Codable {
                /// An extra attribute set on a generated cookie.
                public struct Attribute: Sendable, Hashable, Codable {
                    public var name: String?
                    public var value: String?
                    public init(name: String? = nil, value: String? = nil) {
                        self.name = name
                        self.value = value
                    }
                }

                public var name: String?
                public var path: String?
                public var ttl: ConfigDuration?
                public var attributes: [Attribute]?

                public init(name: String? = nil, path: String? = nil, ttl: ConfigDuration? = nil, attributes: [Attribute]? = nil) {
                    self.name = name
                    self.path = path
                    self.ttl = ttl
                    self.attributes = attributes
                }
            }

            // hash_key oneof
            public var httpHeaderName: String?
            public var httpCookie: HTTPCookie?
            public var useSourceIp: Bool?
            public var httpQueryParameterName: String?
            // hash_algorithm oneof
            public var ringHash: RingHash?
            public var maglev: MagLev?
            /// Deprecated: use `ringHash.minimumRingSize`.
            public var minimumRingSize: UInt64?

            public init(
                httpHeaderName: String? = nil, httpCookie: HTTPCookie? = nil, useSourceIp: Bool? = nil,
                httpQueryParameterName: String? = nil, ringHash: RingHash? = nil, maglev: MagLev? = nil,
                minimumRingSize: UInt64? = nil
            ) {
                self.httpHeaderName = httpHeaderName
                self.httpCookie = httpCookie
                self.useSourceIp = useSourceIp
                self.httpQueryParameterName = httpQueryParameterName
                self.ringHash = ringHash
                self.maglev = maglev
                self.minimumRingSize = minimumRingSize
            }
        }

        // lb_policy oneof
        public var simple: SimpleLB?
        public var consistentHash: ConsistentHashLB?
        public var localityLbSetting: LocalityLoadBalancerSetting?
        /// Zone-aware routing settings (alternative to `localityLbSetting`).
        public var zoneAwareLbSetting: ZoneAwareLoadBalancerSetting?
        /// Deprecated: use `warmup`.
        public var warmupDurationSecs: ConfigDuration?
        public var warmup: WarmupConfiguration?

        public init(
            simple: SimpleLB? = nil, consistentHash: ConsistentHashLB? = nil,
            localityLbSetting: LocalityLoadBalancerSetting? = nil, zoneAwareLbSetting: ZoneAwareLoadBalancerSetting? = nil,
            warmupDurationSecs: ConfigDuration? = nil, warmup: WarmupConfiguration? = nil
        ) {
            self.simple = simple
            self.consistentHash = consistentHash
            self.localityLbSetting = localityLbSetting
            self.zoneAwareLbSetting = zoneAwareLbSetting
            self.warmupDurationSecs = warmupDurationSecs
            self.warmup = warmup
        }
    }

    /// Istio's `WarmupConfiguration`: slow-start for new endpoints.
    public struct WarmupConfiguration: Sendable, Hashable, Codable {
        public var duration: ConfigDuration?
        /// Traffic percentage (0-100) a new endpoint starts with.
        public var minimumPercent: Double?
        /// Curve of the traffic ramp (greater than 0; 1 is linear).
        public var aggression: Double?

        public init(duration: ConfigDuration? = nil, minimumPercent: Double? = nil, aggression: Double? = nil) {
            self.duration = duration
            self.minimumPercent = minimumPercent
            self.aggression = aggression
        }
    }

    /// Istio's `ZoneAwareLoadBalancerSetting`: Envoy zone-aware routing with region failover.
    public struct ZoneAwareLoadBalancerSetting: Sendable, Hashable, Codable {
        /// Region-to-region failover.
        public struct Failover: Sendable, Hashable, Codable {
            public var from: String?
            public var to: String?
            public init(from: String? = nil, to: String? = nil) {
                self.from = from
                self.to = to
            }
        }

        public var enabled: Bool?
        public var failover: [Failover]?
        public var failoverPriority: [String]?
        public var minClusterSize: UInt64?

        public init(enabled: Bool? = nil, failover: [Failover]? = nil, failoverPriority: [String]? = nil, minClusterSize: UInt64? = nil) {
            self.enabled = enabled
            self.failover = failover
            self.failoverPriority = failoverPriority
            self.minClusterSize = minClusterSize
        }
    }

    /// Istio's `OutlierDetection`: ejects unhealthy hosts from the load balancing pool.
    public struct OutlierDetection: Sendable, Hashable, Codable {
        /// Deprecated: use `consecutiveGatewayErrors` or `consecutive5xxErrors`.
        public var consecutiveErrors: Int32?
        public var splitExternalLocalOriginErrors: Bool?
        public var consecutiveLocalOriginFailures: UInt32?
        public var consecutiveGatewayErrors: UInt32?
        public var consecutive5xxErrors: UInt32?
        /// Time between ejection sweeps.
        public var interval: ConfigDuration?
        public var baseEjectionTime: ConfigDuration?
        /// Percentages (0-100) of hosts that may be ejected / must be healthy for detection to run.
        public var maxEjectionPercent: Int32?
        public var minHealthPercent: Int32?
        /// HTTP status codes (100-599) counted as errors.
        public var outlierDetectionHttpErrorCodes: [UInt32]?

        public init(
            consecutiveErrors: Int32? = nil, splitExternalLocalOriginErrors: Bool? = nil,
            consecutiveLocalOriginFailures: UInt32? = nil, consecutiveGatewayErrors: UInt32? = nil,
            consecutive5xxErrors: UInt32? = nil, interval: ConfigDuration? = nil, baseEjectionTime: ConfigDuration? = nil,
            maxEjectionPercent: Int32? = nil, minHealthPercent: Int32? = nil, outlierDetectionHttpErrorCodes: [UInt32]? = nil
        ) {
            self.consecutiveErrors = consecutiveErrors
            self.splitExternalLocalOriginErrors = splitExternalLocalOriginErrors
            self.consecutiveLocalOriginFailures = consecutiveLocalOriginFailures
            self.consecutiveGatewayErrors = consecutiveGatewayErrors
            self.consecutive5xxErrors = consecutive5xxErrors
            self.interval = interval
            self.baseEjectionTime = baseEjectionTime
            self.maxEjectionPercent = maxEjectionPercent
            self.minHealthPercent = minHealthPercent
            self.outlierDetectionHttpErrorCodes = outlierDetectionHttpErrorCodes
        }
    }
}
