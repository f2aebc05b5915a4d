public import MeshXDS
public import SwiftProtobuf

/// The endpoints of one cluster as an Envoy `ClusterLoadAssignment` describes them: localities
/// grouped by priority, each endpoint with its address, health, weight and metadata.
///
/// EDS delivers one per cluster; `STATIC`, `STRICT_DNS` and `LOGICAL_DNS` clusters carry one inline
/// (`load_assignment`). For DNS clusters the addresses are hostnames the engine resolves; it then
/// hands the resolved set to ``UpstreamCluster/update(endpoints:)``.
public struct EndpointSet: Sendable, Equatable {
    /// `cluster_name`: the cluster (or EDS service name) these endpoints belong to.
    public var clusterName: String
    /// `endpoints`: the localities, in the order the control plane sent them.
    public var localities: [LocalityEndpoints]
    /// `policy.overprovisioning_factor` in percent (Envoy's default 140): a priority whose healthy
    /// share times this factor reaches 100 % takes all of its load.
    public var overprovisioningFactor: UInt32
    /// `policy.weighted_priority_health`: priority health is computed from endpoint weights
    /// instead of endpoint counts.
    public var weightedPriorityHealth: Bool
    /// `policy.drop_overloads`: the share of requests the proxy drops before load balancing.
    public var dropOverloads: [DropOverload]

    /// Envoy's default overprovisioning factor, 140 %.
    public static let defaultOverprovisioningFactor: UInt32 = 140
    /// The highest priority Envoy accepts (`priority` is validated `lte: 128`).
    public static let maximumPriority: UInt32 = 128

    /// A category of requests to drop, `policy.drop_overloads[]`.
    public struct DropOverload: Sendable, Equatable {
        /// The category reported in stats and logs.
        public var category: String
        /// The share of requests dropped, as numerator over denominator (100, 10 000 or 1 000 000).
        public var numerator: UInt32
        /// 100, 10 000 or 1 000 000.
        public var denominator: UInt32

        /// - Parameters:
        ///   - category: The drop category.
        ///   - numerator: Requests dropped per `denominator`.
        ///   - denominator: 100, 10 000 or 1 000 000.
        public init(category: String, numerator: UInt32, denominator: UInt32) {
            self.category = category
            self.numerator = numerator
            self.denominator = denominator
        }
    }

    /// Builds a set directly, for DNS results and tests.
    /// - Parameters:
    ///   - clusterName: The cluster the endpoints belong to.
    ///   - localities: The localities with their endpoints.
    ///   - overprovisioningFactor: Percent, 140 by default.
    ///   - weightedPriorityHealth: Whether priority health uses weights.
    ///   - dropOverloads: Drop categories.
    public init(
        clusterName: String,
        localities: [LocalityEndpoints],
        overprovisioningFactor: UInt32 = EndpointSet.defaultOverprovisioningFactor,
        weightedPriorityHealth: Bool = false,
        dropOverloads: [DropOverload] = []
    ) {
        self.clusterName = clusterName
        self.localities = localities
        self.overprovisioningFactor = overprovisioningFactor
        self.weightedPriorityHealth = weightedPriorityHealth
        self.dropOverloads = dropOverloads
    }

    /// Converts an EDS resource, with Envoy's validation rules.
    ///
    /// - Parameter assignment: The `ClusterLoadAssignment`.
    /// - Throws: ``ProxyConfigurationError`` (resource type `ClusterLoadAssignment`) naming the field.
    public init(_ assignment: Envoy_Config_Endpoint_V3_ClusterLoadAssignment) throws(ProxyConfigurationError) {
        try self.init(assignment, resourceType: "ClusterLoadAssignment", resourceName: assignment.clusterName, fieldPrefix: "")
    }

    /// Shared by EDS and the inline `load_assignment` of a cluster (where errors name the cluster).
    init(
        _ assignment: Envoy_Config_Endpoint_V3_ClusterLoadAssignment,
        resourceType: String,
        resourceName: String,
        fieldPrefix: String
    ) throws(ProxyConfigurationError) {
        func fail(_ code: ProxyConfigurationError.Code, _ field: String, _ message: String) -> ProxyConfigurationError {
            ProxyConfigurationError(code, resourceType: resourceType, resourceName: resourceName, field: fieldPrefix + field, message)
        }
        if !assignment.namedEndpoints.isEmpty {
            throw fail(.unsupported, "named_endpoints", "named endpoints are not supported")
        }
        var factor = EndpointSet.defaultOverprovisioningFactor
        var drops: [DropOverload] = []
        if assignment.hasPolicy {
            let policy = assignment.policy
            if policy.hasOverprovisioningFactor {
                guard policy.overprovisioningFactor.value > 0 else {
                    throw fail(.invalid, "policy.overprovisioning_factor", "must be greater than 0")
                }
                factor = policy.overprovisioningFactor.value
            }
            if policy.dropOverloads.count > 1 {
                throw fail(.unsupported, "policy.drop_overloads", "Envoy supports at most one drop_overloads entry")
            }
            for (index, drop) in policy.dropOverloads.enumerated() {
                let field = "policy.drop_overloads[\(index)]"
                guard !drop.category.isEmpty else { throw fail(.invalid, field + ".category", "must not be empty") }
                let denominator: UInt32
                switch drop.dropPercentage.denominator {
                case .hundred: denominator = 100
                case .tenThousand: denominator = 10_000
                case .million: denominator = 1_000_000
                case .UNRECOGNIZED(let raw):
                    throw fail(.invalid, field + ".drop_percentage.denominator", "unknown denominator \(raw)")
                }
                drops.append(DropOverload(category: drop.category, numerator: min(drop.dropPercentage.numerator, denominator), denominator: denominator))
            }
        }
        var localities: [LocalityEndpoints] = []
        for (index, source) in assignment.endpoints.enumerated() {
            let field = "endpoints[\(index)]"
            guard source.priority <= EndpointSet.maximumPriority else {
                throw fail(.invalid, field + ".priority", "priority \(source.priority) exceeds \(EndpointSet.maximumPriority)")
            }
            if case .loadBalancerEndpoints? = source.lbConfig {
                throw fail(.unsupported, field + ".load_balancer_endpoints", "LEDS endpoint lists are not supported")
            }
            var weight: UInt32?
            if source.hasLoadBalancingWeight {
                guard source.loadBalancingWeight.value >= 1 else {
                    throw fail(.invalid, field + ".load_balancing_weight", "must be at least 1")
                }
                weight = source.loadBalancingWeight.value
            }
            var endpoints: [UpstreamEndpoint] = []
            for (endpointIndex, lbEndpoint) in source.lbEndpoints.enumerated() {
                let endpointField = "\(field).lb_endpoints[\(endpointIndex)]"
                endpoints.append(try UpstreamEndpoint(lbEndpoint, field: endpointField, fail: fail))
            }
            localities.append(LocalityEndpoints(
                locality: Locality(source.locality),
                priority: source.priority,
                loadBalancingWeight: weight,
                endpoints: endpoints,
                metadata: source.hasMetadata ? source.metadata.filterMetadata : [:]
            ))
        }
        self.init(
            clusterName: assignment.clusterName,
            localities: localities,
            overprovisioningFactor: factor,
            weightedPriorityHealth: assignment.hasPolicy && assignment.policy.weightedPriorityHealth,
            dropOverloads: drops
        )
    }

    /// Every endpoint with its locality's priority and locality, in order.
    public var allEndpoints: [(endpoint: UpstreamEndpoint, locality: LocalityEndpoints)] {
        localities.flatMap { locality in locality.endpoints.map { ($0, locality) } }
    }
}

/// Envoy's `Locality`: where an endpoint runs.
public struct Locality: Sendable, Hashable, CustomStringConvertible {
    /// `region`.
    public var region: String
    /// `zone`.
    public var zone: String
    /// `sub_zone`.
    public var subZone: String

    /// - Parameters:
    ///   - region: The region.
    ///   - zone: The zone.
    ///   - subZone: The sub-zone.
    public init(region: String = "", zone: String = "", subZone: String = "") {
        self.region = region
        self.zone = zone
        self.subZone = subZone
    }

    /// Converts the proto.
    /// - Parameter locality: The Envoy locality.
    public init(_ locality: Envoy_Config_Core_V3_Locality) {
        self.init(region: locality.region, zone: locality.zone, subZone: locality.subZone)
    }

    /// `region/zone/sub_zone`, Istio's locality notation.
    public var description: String { [region, zone, subZone].joined(separator: "/") }
}

/// One `LocalityLbEndpoints` entry: a locality at one priority with its endpoints.
public struct LocalityEndpoints: Sendable, Equatable {
    /// The locality.
    public var locality: Locality
    /// `priority`: 0 is tried first.
    public var priority: UInt32
    /// `load_balancing_weight`; nil when unset (such a locality gets no traffic under
    /// locality-weighted balancing, as in Envoy).
    public var loadBalancingWeight: UInt32?
    /// `lb_endpoints`.
    public var endpoints: [UpstreamEndpoint]
    /// `metadata.filter_metadata` of the locality.
    public var metadata: [String: Google_Protobuf_Struct]

    /// - Parameters:
    ///   - locality: The locality.
    ///   - priority: The priority, 0 first.
    ///   - loadBalancingWeight: The locality weight.
    ///   - endpoints: The endpoints.
    ///   - metadata: Locality filter metadata.
    public init(
        locality: Locality = Locality(),
        priority: UInt32 = 0,
        loadBalancingWeight: UInt32? = nil,
        endpoints: [UpstreamEndpoint],
        metadata: [String: Google_Protobuf_Struct] = [:]
    ) {
        self.locality = locality
        self.priority = priority
        self.loadBalancingWeight = loadBalancingWeight
        self.endpoints = endpoints
        self.metadata = metadata
    }
}

/// One `LbEndpoint`: an upstream address with health, weight and metadata.
public struct UpstreamEndpoint: Sendable, Equatable {
    /// `endpoint.address`.
    public var address: EndpointAddress
    /// `endpoint.hostname`: used for `auto_host_rewrite`, hashing with `use_hostname_for_hashing`
    /// and `auto_sni`.
    public var hostname: String
    /// `health_status` as EDS reported it.
    public var healthStatus: EndpointHealthStatus
    /// `load_balancing_weight`, 1 when unset.
    public var loadBalancingWeight: UInt32
    /// `metadata.filter_metadata`, such as `envoy.transport_socket_match` and `istio`.
    public var metadata: [String: Google_Protobuf_Struct]

    /// - Parameters:
    ///   - address: The address.
    ///   - hostname: The endpoint's hostname.
    ///   - healthStatus: EDS health.
    ///   - loadBalancingWeight: Weight, at least 1.
    ///   - metadata: Filter metadata.
    public init(
        address: EndpointAddress,
        hostname: String = "",
        healthStatus: EndpointHealthStatus = .unknown,
        loadBalancingWeight: UInt32 = 1,
        metadata: [String: Google_Protobuf_Struct] = [:]
    ) {
        self.address = address
        self.hostname = hostname
        self.healthStatus = healthStatus
        self.loadBalancingWeight = max(1, loadBalancingWeight)
        self.metadata = metadata
    }

    init(
        _ source: Envoy_Config_Endpoint_V3_LbEndpoint,
        field: String,
        fail: (ProxyConfigurationError.Code, String, String) -> ProxyConfigurationError
    ) throws(ProxyConfigurationError) {
        let endpoint: Envoy_Config_Endpoint_V3_Endpoint
        switch source.hostIdentifier {
        case .endpoint(let value): endpoint = value
        case .endpointName: throw fail(.unsupported, field + ".endpoint_name", "named endpoints are not supported")
        case nil: throw fail(.invalid, field + ".endpoint", "an endpoint needs an address")
        }
        let address = try EndpointAddress(endpoint.address, field: field + ".endpoint.address", fail: fail)
        var weight: UInt32 = 1
        if source.hasLoadBalancingWeight {
            guard source.loadBalancingWeight.value >= 1 else {
                throw fail(.invalid, field + ".load_balancing_weight", "must be at least 1")
            }
            weight = source.loadBalancingWeight.value
        }
        let health: EndpointHealthStatus
        switch source.healthStatus {
        case .unknown: health = .unknown
        case .healthy: health = .healthy
        case .unhealthy: health = .unhealthy
        case .draining: health = .draining
        case .timeout: health = .timeout
        case .degraded: health = .degraded
        case .UNRECOGNIZED(let raw): throw fail(.invalid, field + ".health_status", "unknown health status \(raw)")
        }
        self.init(
            address: address,
            hostname: endpoint.hostname,
            healthStatus: health,
            loadBalancingWeight: weight,
            metadata: source.hasMetadata ? source.metadata.filterMetadata : [:]
        )
    }
}

/// Where an upstream endpoint listens.
public enum EndpointAddress: Sendable, Hashable, CustomStringConvertible {
    /// A TCP socket address: an IP literal (EDS, STATIC) or a hostname (STRICT_DNS, LOGICAL_DNS).
    case socket(host: String, port: Int)
    /// A Unix domain socket path (`pipe.path`).
    case pipe(path: String)

    /// Envoy's `asString()`: `10.0.0.1:80`, `[::1]:80` or the pipe path. Ring hash and maglev hash it.
    public var description: String {
        switch self {
        case .socket(let host, let port):
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .pipe(let path):
            path
        }
    }

    /// Whether the host part is an IPv4 or IPv6 literal (pipes count as resolved).
    public var isResolved: Bool {
        switch self {
        case .socket(let host, _): IPAddressLiteral.isValid(host)
        case .pipe: true
        }
    }

    init(
        _ address: Envoy_Config_Core_V3_Address,
        field: String,
        fail: (ProxyConfigurationError.Code, String, String) -> ProxyConfigurationError
    ) throws(ProxyConfigurationError) {
        switch address.address {
        case .socketAddress(let socket):
            if socket.protocol != .tcp {
                throw fail(.unsupported, field + ".socket_address.protocol", "only TCP upstreams are supported")
            }
            if !socket.resolverName.isEmpty {
                throw fail(.unsupported, field + ".socket_address.resolver_name", "custom resolvers are not supported")
            }
            guard !socket.address.isEmpty else {
                throw fail(.invalid, field + ".socket_address.address", "must not be empty")
            }
            switch socket.portSpecifier {
            case .portValue(let port):
                guard port <= 65535 else {
                    throw fail(.invalid, field + ".socket_address.port_value", "port \(port) exceeds 65535")
                }
                self = .socket(host: socket.address, port: Int(port))
            case .namedPort:
                throw fail(.unsupported, field + ".socket_address.named_port", "named ports are not supported")
            case nil:
                self = .socket(host: socket.address, port: 0)
            }
        case .pipe(let pipe):
            guard !pipe.path.isEmpty else { throw fail(.invalid, field + ".pipe.path", "must not be empty") }
            self = .pipe(path: pipe.path)
        case .envoyInternalAddress:
            throw fail(.unsupported, field + ".envoy_internal_address", "internal listeners are not supported")
        case nil:
            throw fail(.invalid, field, "an address is required")
        }
    }
}

/// An endpoint's `health_status` from EDS.
public enum EndpointHealthStatus: Sendable, Hashable {
    /// `UNKNOWN`: no health information; treated as healthy.
    case unknown
    /// `HEALTHY`.
    case healthy
    /// `UNHEALTHY`: never chosen unless the priority is in panic.
    case unhealthy
    /// `DRAINING`: excluded. It neither counts towards priority health nor receives traffic
    /// unless the priority is in panic (Envoy's `exclude_host_in_eds_status_draining`).
    case draining
    /// `TIMEOUT`: a health check timed out; treated as unhealthy.
    case timeout
    /// `DEGRADED`: used only when the healthy endpoints cannot take the load.
    case degraded

    /// How load balancing treats the status.
    public var coarseHealth: CoarseHealth {
        switch self {
        case .unknown, .healthy: .healthy
        case .degraded: .degraded
        case .unhealthy, .timeout: .unhealthy
        case .draining: .excluded
        }
    }

    /// Envoy's coarse host health.
    public enum CoarseHealth: Sendable, Hashable {
        /// Receives traffic.
        case healthy
        /// Receives traffic only when healthy hosts are short.
        case degraded
        /// Receives traffic only in panic.
        case unhealthy
        /// Left out of the health ratios; receives traffic only in panic.
        case excluded
    }
}
