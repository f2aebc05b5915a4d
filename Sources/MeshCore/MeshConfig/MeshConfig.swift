/// Istio's mesh-wide configuration (`istio.mesh.v1alpha1.MeshConfig`): the `mesh` file istiod reads.
///
/// Every field is optional: a value built with `init()` is empty, and a file read with
/// ``load(_:file:)`` has Istio's defaults (``defaults``) applied to what it leaves out.
/// Networking messages it shares with other kinds (locality and zone-aware load balancing,
/// connection pools, outlier detection, retries) use those kinds' types.
public struct MeshConfig: Sendable, Hashable, Codable {
    // MARK: Ports and timeouts

    /// Port the outbound capture listener binds (15001).
    public var proxyListenPort: Int32?
    /// Port the inbound capture listener binds (15006).
    public var proxyInboundListenPort: Int32?
    /// Port for HTTP proxying of outbound traffic (off when unset).
    public var proxyHttpPort: Int32?
    /// Upstream connect timeout (10s).
    public var connectTimeout: ConfigDuration?
    /// Idle timeout of HBONE pooled connections.
    public var hboneIdleTimeout: ConfigDuration?
    /// How long to wait for client bytes before protocol detection gives up; 0 disables it.
    public var protocolDetectionTimeout: ConfigDuration?
    /// TCP keepalive for upstream connections.
    public var tcpKeepalive: TCPKeepalive?

    // MARK: Ingress

    public var ingressClass: String?
    public var ingressService: String?
    public var ingressControllerMode: IngressControllerMode?
    public var ingressSelector: String?

    // MARK: Telemetry

    public var enableTracing: Bool?
    /// File for Envoy access logs (`/dev/stdout`); empty disables them.
    public var accessLogFile: String?
    public var accessLogFormat: String?
    public var accessLogEncoding: AccessLogEncoding?
    public var enableEnvoyAccessLogService: Bool?
    public var disableEnvoyListenerLog: Bool?

    /// Defaults for every proxy; ProxyConfig resources and annotations override them.
    public var defaultConfig: ProxyConfig?

    // MARK: Traffic policy

    public var outboundTrafficPolicy: OutboundTrafficPolicy?
    public var inboundTrafficPolicy: InboundTrafficPolicy?
    public var configSources: [ConfigSource]?
    public var enableAutoMtls: Bool?

    // MARK: Identity

    /// The SPIFFE trust domain (`cluster.local`).
    public var trustDomain: String?
    /// Other trust domains treated as this one.
    public var trustDomainAliases: [String]?
    /// Extra root certificates to trust, by PEM or SPIFFE bundle URL.
    public var caCertificates: [CertificateData]?

    // MARK: Visibility

    public var defaultServiceExportTo: [String]?
    public var defaultVirtualServiceExportTo: [String]?
    public var defaultDestinationRuleExportTo: [String]?
    /// The namespace whose policies apply mesh-wide; `istio-system` when unset.
    public var rootNamespace: String?

    // MARK: Load balancing and DNS

    public var localityLbSetting: LocalityLoadBalancerSetting?
    public var zoneAwareLbSetting: DestinationRule.ZoneAwareLoadBalancerSetting?
    /// Refresh rate for DNS-resolved clusters (60s); at least 1ms.
    public var dnsRefreshRate: ConfigDuration?
    public var h2UpgradePolicy: H2UpgradePolicy?
    public var inboundClusterStatName: String?
    public var outboundClusterStatName: String?
    /// Deprecated: certificates istiod's CA issues for DNS names.
    public var certificates: [Certificate]?
    public var serviceSettings: [ServiceSettings]?
    public var serviceScopeConfigs: [ServiceScopeConfigs]?
    public var enablePrometheusMerge: Bool?
    /// Deprecated.
    public var verifyCertificateAtClient: Bool?
    /// An external CA istiod or the agents use.
    public var ca: CA?

    // MARK: Extensions

    /// Named telemetry and authorization providers that Telemetry and AuthorizationPolicy refer to.
    public var extensionProviders: [ExtensionProvider]?
    /// Providers used when no Telemetry resource names one.
    public var defaultProviders: DefaultProviders?
    /// Namespaces istiod watches; empty means all.
    public var discoverySelectors: [LabelSelector]?
    public var pathNormalization: ProxyPathNormalization?
    /// Retry policy for HTTP routes that set none.
    public var defaultHttpRetryPolicy: HTTPRetry?
    /// TLS settings for mesh mTLS traffic.
    public var meshMTLS: TLSConfig?
    /// TLS settings for non-mesh TLS (gateways, DestinationRule TLS).
    public var tlsDefaults: TLSConfig?
    /// Baseline traffic policy applied before any DestinationRule.
    public var defaultTrafficPolicy: DefaultTrafficPolicy?
    public var serviceEntryVisibility: ServiceEntryVisibility?

    public init() {}

    // MARK: Enums

    public enum IngressControllerMode: String, ConfigEnum {
        case UNSPECIFIED, OFF, DEFAULT, STRICT
    }

    public enum AccessLogEncoding: String, ConfigEnum {
        case TEXT, JSON
    }

    public enum H2UpgradePolicy: String, ConfigEnum {
        case DO_NOT_UPGRADE, UPGRADE
    }

    /// Resources a config source serves.
    public enum Resource: String, ConfigEnum {
        case SERVICE_REGISTRY
    }

    // MARK: Nested messages

    /// TCP keepalive settings (`ConnectionPoolSettings.TCPSettings.TcpKeepalive`).
    public struct TCPKeepalive: Sendable, Hashable, Codable {
        /// Unanswered probes before the connection is dropped.
        public var probes: UInt32?
        /// Idle time before probes start.
        public var time: ConfigDuration?
        /// Time between probes.
        public var interval: ConfigDuration?

        public init(probes: UInt32? = nil, time: ConfigDuration? = nil, interval: ConfigDuration? = nil) {
            self.probes = probes
            self.time = time
            self.interval = interval
        }
    }

    /// What sidecars do with traffic to unknown destinations.
    public struct OutboundTrafficPolicy: Sendable, Hashable, Codable {
        public enum Mode: String, ConfigEnum {
            case REGISTRY_ONLY, ALLOW_ANY, ALLOW_ANY_DYNAMIC_DNS
        }

        public var mode: Mode?
        public var tls: ClientTLSSettings?

        public init(mode: Mode? = nil, tls: ClientTLSSettings? = nil) {
            self.mode = mode
            self.tls = tls
        }
    }

    /// How inbound traffic reaches the application.
    public struct InboundTrafficPolicy: Sendable, Hashable, Codable {
        public enum Mode: String, ConfigEnum {
            case PASSTHROUGH, LOCALHOST
        }

        public var mode: Mode?

        public init(mode: Mode? = nil) { self.mode = mode }
    }

    /// A root certificate source: one of `pem` or `spiffeBundleUrl`.
    public struct CertificateData: Sendable, Hashable, Codable {
        public var pem: String?
        public var spiffeBundleUrl: String?
        public var certSigners: [String]?
        public var trustDomains: [String]?

        public init(pem: String? = nil, spiffeBundleUrl: String? = nil, certSigners: [String]? = nil, trustDomains: [String]? = nil) {
            self.pem = pem
            self.spiffeBundleUrl = spiffeBundleUrl
            self.certSigners = certSigners
            self.trustDomains = trustDomains
        }
    }

    /// Per-host service settings.
    public struct ServiceSettings: Sendable, Hashable, Codable {
        public struct Settings: Sendable, Hashable, Codable {
            /// Keep traffic to these hosts within the cluster.
            public var clusterLocal: Bool?
            public init(clusterLocal: Bool? = nil) { self.clusterLocal = clusterLocal }
        }

        public var settings: Settings?
        /// Hostnames, wildcards allowed (`*.ns.svc.cluster.local`).
        public var hosts: [String]?

        public init(settings: Settings? = nil, hosts: [String]? = nil) {
            self.settings = settings
            self.hosts = hosts
        }
    }

    /// Marks services local or global across clusters.
    public struct ServiceScopeConfigs: Sendable, Hashable, Codable {
        public enum Scope: String, ConfigEnum {
            case LOCAL, GLOBAL
        }

        public var namespaceSelector: LabelSelector?
        public var servicesSelector: LabelSelector?
        public var scope: Scope?

        public init(namespaceSelector: LabelSelector? = nil, servicesSelector: LabelSelector? = nil, scope: Scope? = nil) {
            self.namespaceSelector = namespaceSelector
            self.servicesSelector = servicesSelector
            self.scope = scope
        }
    }

    /// An external certificate authority.
    public struct CA: Sendable, Hashable, Codable {
        /// `host:port` of the CA.
        public var address: String?
        public var tlsSettings: ClientTLSSettings?
        public var requestTimeout: ConfigDuration?
        public var istiodSide: Bool?

        public init(address: String? = nil, tlsSettings: ClientTLSSettings? = nil, requestTimeout: ConfigDuration? = nil, istiodSide: Bool? = nil) {
            self.address = address
            self.tlsSettings = tlsSettings
            self.requestTimeout = requestTimeout
            self.istiodSide = istiodSide
        }
    }

    /// Provider names used when no Telemetry resource overrides them.
    public struct DefaultProviders: Sendable, Hashable, Codable {
        public var tracing: [String]?
        public var metrics: [String]?
        public var accessLogging: [String]?

        public init(tracing: [String]? = nil, metrics: [String]? = nil, accessLogging: [String]? = nil) {
            self.tracing = tracing
            self.metrics = metrics
            self.accessLogging = accessLogging
        }
    }

    /// How proxies normalize request paths.
    public struct ProxyPathNormalization: Sendable, Hashable, Codable {
        public enum NormalizationType: String, ConfigEnum {
            case DEFAULT, NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES
        }

        public var normalization: NormalizationType?

        public init(normalization: NormalizationType? = nil) { self.normalization = normalization }
    }

    /// TLS protocol, curves and ciphers.
    public struct TLSConfig: Sendable, Hashable, Codable {
        public enum TLSProtocol: String, ConfigEnum {
            case TLS_AUTO, TLSV1_2, TLSV1_3
        }

        public var minProtocolVersion: TLSProtocol?
        public var ecdhCurves: [String]?
        public var cipherSuites: [String]?

        public init(minProtocolVersion: TLSProtocol? = nil, ecdhCurves: [String]? = nil, cipherSuites: [String]? = nil) {
            self.minProtocolVersion = minProtocolVersion
            self.ecdhCurves = ecdhCurves
            self.cipherSuites = cipherSuites
        }
    }

    /// Mesh-wide baseline connection pool and outlier detection.
    public struct DefaultTrafficPolicy: Sendable, Hashable, Codable {
        public var connectionPool: ConnectionPoolSettings?
        public var outlierDetection: DestinationRule.OutlierDetection?

        public init(connectionPool: ConnectionPoolSettings? = nil, outlierDetection: DestinationRule.OutlierDetection? = nil) {
            self.connectionPool = connectionPool
            self.outlierDetection = outlierDetection
        }
    }

    /// A Kubernetes label selector.
    public struct LabelSelector: Sendable, Hashable, Codable {
        public var matchLabels: [String: String]?
        public var matchExpressions: [LabelSelectorRequirement]?

        public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
            self.matchLabels = matchLabels
            self.matchExpressions = matchExpressions
        }
    }

    /// One label-selector expression: `key operator values`.
    public struct LabelSelectorRequirement: Sendable, Hashable, Codable {
        public var key: String?
        /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
        public var `operator`: String?
        public var values: [String]?

        public init(key: String? = nil, operator: String? = nil, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    /// Default visibility of ServiceEntries.
    public struct ServiceEntryVisibility: Sendable, Hashable, Codable {
        public enum Visibility: String, ConfigEnum {
            case VISIBILITY_UNSPECIFIED, NONE, NAMESPACE, PUBLIC
        }

        /// A visibility for ServiceEntries in matching namespaces.
        public struct Policy: Sendable, Hashable, Codable {
            public var visibility: Visibility?
            public var matchingRules: [MatchRule]?

            public init(visibility: Visibility? = nil, matchingRules: [MatchRule]? = nil) {
                self.visibility = visibility
                self.matchingRules = matchingRules
            }
        }

        public struct MatchRule: Sendable, Hashable, Codable {
            public var namespaceSelector: LabelSelector?
            public init(namespaceSelector: LabelSelector? = nil) { self.namespaceSelector = namespaceSelector }
        }

        public var defaultVisibility: Visibility?
        public var applyToSidecars: Bool?
        public var policies: [Policy]?

        public init(defaultVisibility: Visibility? = nil, applyToSidecars: Bool? = nil, policies: [Policy]? = nil) {
            self.defaultVisibility = defaultVisibility
            self.applyToSidecars = applyToSidecars
            self.policies = policies
        }
    }

    /// Another config server istiod reads from.
    public struct ConfigSource: Sendable, Hashable, Codable {
        public var address: String?
        public var tlsSettings: ClientTLSSettings?
        public var subscribedResources: [Resource]?

        public init(address: String? = nil, tlsSettings: ClientTLSSettings? = nil, subscribedResources: [Resource]? = nil) {
            self.address = address
            self.tlsSettings = tlsSettings
            self.subscribedResources = subscribedResources
        }
    }

    /// Deprecated: a certificate istiod issues into a Secret.
    public struct Certificate: Sendable, Hashable, Codable {
        public var secretName: String?
        public var dnsNames: [String]?

        public init(secretName: String? = nil, dnsNames: [String]? = nil) {
            self.secretName = secretName
            self.dnsNames = dnsNames
        }
    }
}
