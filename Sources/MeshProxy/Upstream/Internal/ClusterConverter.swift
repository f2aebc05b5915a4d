import MeshXDS
import SwiftProtobuf

/// Turns an Envoy `Cluster` into a ``ClusterConfiguration``, field by field, with Envoy's
/// validation rules and defaults.
struct ClusterConverter {
    let cluster: Envoy_Config_Cluster_V3_Cluster
    private let resourceType: String
    private let resourceName: String

    init(cluster: Envoy_Config_Cluster_V3_Cluster) {
        self.cluster = cluster
        self.resourceType = "Cluster"
        self.resourceName = cluster.name
    }

    /// A converter for the TLS contexts of another resource (a listener's `DownstreamTlsContext`
    /// shares `CommonTlsContext` with clusters); errors name that resource.
    init(tlsContextsOf context: ConfigurationContext) {
        self.cluster = Envoy_Config_Cluster_V3_Cluster()
        self.resourceType = context.resourceType
        self.resourceName = context.resourceName
    }

    private func fail(_ code: ProxyConfigurationError.Code, _ field: String, _ message: String) -> ProxyConfigurationError {
        ProxyConfigurationError(code, resourceType: resourceType, resourceName: resourceName, field: field, message)
    }

    private func duration(_ value: Google_Protobuf_Duration, _ field: String, positive: Bool) throws(ProxyConfigurationError) -> Duration {
        guard let result = ProtoValues.duration(value) else { throw fail(.invalid, field, "is not a valid duration") }
        if positive {
            guard result > .zero else { throw fail(.invalid, field, "must be greater than 0") }
        } else {
            guard result >= .zero else { throw fail(.invalid, field, "must not be negative") }
        }
        return result
    }

    private func percent(_ value: Double, _ field: String) throws(ProxyConfigurationError) -> Double {
        guard value >= 0, value <= 100, !value.isNaN else { throw fail(.invalid, field, "must be between 0 and 100") }
        return value
    }

    mutating func convert() throws(ProxyConfigurationError) -> ClusterConfiguration {
        guard !cluster.name.isEmpty else { throw fail(.invalid, "name", "must not be empty") }
        try rejectUnsupportedFields()
        let discovery = try convertDiscovery()
        var configuration = ClusterConfiguration(name: cluster.name, discovery: discovery)
        if !cluster.altStatName.isEmpty { configuration.statName = cluster.altStatName }
        if cluster.hasConnectTimeout {
            configuration.connectTimeout = try duration(cluster.connectTimeout, "connect_timeout", positive: true)
        }
        if cluster.hasPerConnectionBufferLimitBytes {
            configuration.perConnectionBufferLimitBytes = cluster.perConnectionBufferLimitBytes.value
        }
        configuration.loadBalancer = try convertLoadBalancer(discovery: discovery)
        try convertCommonLbConfig(into: &configuration)
        try convertCircuitBreakers(into: &configuration)
        if cluster.hasOutlierDetection {
            configuration.outlierDetection = try convertOutlierDetection(cluster.outlierDetection)
        }
        configuration.httpProtocolOptions = try convertHTTPProtocolOptions()
        if cluster.hasTransportSocket {
            configuration.transportSocket = try convertTransportSocket(cluster.transportSocket, field: "transport_socket")
        }
        for (index, match) in cluster.transportSocketMatches.enumerated() {
            let field = "transport_socket_matches[\(index)]"
            guard !match.name.isEmpty else { throw fail(.invalid, field + ".name", "must not be empty") }
            let socket: UpstreamTransportSocket = match.hasTransportSocket
                ? try convertTransportSocket(match.transportSocket, field: field + ".transport_socket")
                : .plaintext
            configuration.transportSocketMatches.append(TransportSocketMatch(name: match.name, criteria: match.match, transportSocket: socket))
        }
        if cluster.hasMetadata { configuration.metadata = cluster.metadata.filterMetadata }
        if cluster.hasUpstreamBindConfig, cluster.upstreamBindConfig.hasSourceAddress {
            let source = cluster.upstreamBindConfig.sourceAddress
            guard IPAddressLiteral.isValid(source.address) else {
                throw fail(.invalid, "upstream_bind_config.source_address.address", "\"\(source.address)\" is not an IP address")
            }
            guard source.portValue <= 65535 else {
                throw fail(.invalid, "upstream_bind_config.source_address.port_value", "port \(source.portValue) exceeds 65535")
            }
            configuration.upstreamBindAddress = .socket(host: source.address, port: Int(source.portValue))
        }
        if cluster.hasUpstreamConnectionOptions, cluster.upstreamConnectionOptions.hasTcpKeepalive {
            let keepalive = cluster.upstreamConnectionOptions.tcpKeepalive
            configuration.tcpKeepalive = ClusterConfiguration.TCPKeepalive(
                probes: keepalive.hasKeepaliveProbes ? keepalive.keepaliveProbes.value : nil,
                time: keepalive.hasKeepaliveTime ? keepalive.keepaliveTime.value : nil,
                interval: keepalive.hasKeepaliveInterval ? keepalive.keepaliveInterval.value : nil
            )
        }
        if cluster.hasCleanupInterval {
            configuration.cleanupInterval = try duration(cluster.cleanupInterval, "cleanup_interval", positive: true)
        }
        switch cluster.lbConfig {
        case .roundRobinLbConfig(let config)? where config.hasSlowStartConfig && configuration.loadBalancer == .roundRobin:
            configuration.slowStart = try convertSlowStart(config.slowStartConfig, field: "round_robin_lb_config.slow_start_config")
        case .leastRequestLbConfig(let config)? where config.hasSlowStartConfig:
            if case .leastRequest = configuration.loadBalancer {
                configuration.slowStart = try convertSlowStart(config.slowStartConfig, field: "least_request_lb_config.slow_start_config")
            }
        default:
            break
        }
        if case .originalDstLbConfig(let options)? = cluster.lbConfig {
            guard case .originalDestination = discovery else {
                throw fail(.invalid, "original_dst_lb_config", "is only valid for ORIGINAL_DST clusters")
            }
            var converted = ClusterConfiguration.OriginalDestinationOptions(useHTTPHeader: options.useHTTPHeader)
            if !options.httpHeaderName.isEmpty { converted.httpHeaderName = options.httpHeaderName.lowercased() }
            if options.hasUpstreamPortOverride {
                guard options.upstreamPortOverride.value <= 65535 else {
                    throw fail(.invalid, "original_dst_lb_config.upstream_port_override", "port exceeds 65535")
                }
                converted.upstreamPortOverride = options.upstreamPortOverride.value
            }
            configuration.originalDestination = converted
        }
        return configuration
    }

    private func convertSlowStart(_ config: Envoy_Config_Cluster_V3_Cluster.SlowStartConfig, field: String) throws(ProxyConfigurationError) -> ClusterConfiguration.SlowStart? {
        guard config.hasSlowStartWindow else { return nil }
        let window = try duration(config.slowStartWindow, field + ".slow_start_window", positive: false)
        guard window > .zero else { return nil }
        var result = ClusterConfiguration.SlowStart(window: window)
        if config.hasAggression {
            let value = config.aggression.defaultValue
            // Envoy logs and uses 1.0 for a non-positive or NaN aggression.
            result.aggression = value > 0 && !value.isNaN ? value : 1.0
        }
        if config.hasMinWeightPercent {
            result.minimumWeightPercent = try percent(config.minWeightPercent.value, field + ".min_weight_percent.value")
        }
        return result
    }

    private func rejectUnsupportedFields() throws(ProxyConfigurationError) {
        if !cluster.healthChecks.isEmpty {
            throw fail(.unsupported, "health_checks", "active health checking is not supported")
        }
        if cluster.hasLbSubsetConfig, !cluster.lbSubsetConfig.subsetSelectors.isEmpty {
            throw fail(.unsupported, "lb_subset_config", "subset load balancing is not supported")
        }
        if !cluster.filters.isEmpty {
            throw fail(.unsupported, "filters", "upstream network filters are not supported")
        }
        if cluster.hasLoadBalancingPolicy {
            throw fail(.unsupported, "load_balancing_policy", "load-balancing policy extensions are not supported")
        }
        if cluster.hasUpstreamConfig {
            throw fail(.unsupported, "upstream_config", "custom upstream connection factories are not supported")
        }
    }

    // MARK: Discovery

    private func convertDiscovery() throws(ProxyConfigurationError) -> ClusterConfiguration.Discovery {
        switch cluster.clusterDiscoveryType {
        case .type(let type)?:
            return try convertDiscovery(type)
        case nil:
            return try convertDiscovery(.static)
        case .clusterType(let custom)?:
            guard custom.name == ClusterConfiguration.dynamicForwardProxyClusterType else {
                throw fail(.unsupported, "cluster_type.name", "custom cluster type \"\(custom.name)\" is not supported")
            }
            typealias Config = Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig
            guard custom.hasTypedConfig, custom.typedConfig.isA(Config.self),
                  let config = try? Config(unpackingAny: custom.typedConfig) else {
                throw fail(.invalid, "cluster_type.typed_config", "must be a dynamic_forward_proxy.v3.ClusterConfig")
            }
            guard case .dnsCacheConfig(let cache)? = config.clusterImplementationSpecifier else {
                throw fail(.unsupported, "cluster_type.typed_config", "sub-cluster mode is not supported; set dns_cache_config")
            }
            let field = "cluster_type.typed_config.dns_cache_config"
            guard !cache.name.isEmpty else { throw fail(.invalid, field + ".name", "must not be empty") }
            var result = ClusterConfiguration.DNSCache(
                name: cache.name,
                lookupFamily: try lookupFamily(cache.dnsLookupFamily, field: field + ".dns_lookup_family"),
                allowCoalescedConnections: config.allowCoalescedConnections
            )
            if cache.hasDnsRefreshRate {
                result.refreshRate = try duration(cache.dnsRefreshRate, field + ".dns_refresh_rate", positive: true)
            }
            if cache.hasHostTtl { result.hostTTL = try duration(cache.hostTtl, field + ".host_ttl", positive: true) }
            if cache.hasMaxHosts {
                guard cache.maxHosts.value > 0 else { throw fail(.invalid, field + ".max_hosts", "must be greater than 0") }
                result.maxHosts = cache.maxHosts.value
            }
            if cluster.hasLoadAssignment, !cluster.loadAssignment.endpoints.isEmpty {
                throw fail(.invalid, "load_assignment", "a dynamic forward proxy cluster cannot have endpoints")
            }
            return .dynamicForwardProxy(result)
        }
    }

    private func convertDiscovery(_ type: Envoy_Config_Cluster_V3_Cluster.DiscoveryType) throws(ProxyConfigurationError) -> ClusterConfiguration.Discovery {
        switch type {
        case .eds:
            guard cluster.hasEdsClusterConfig else {
                throw fail(.invalid, "eds_cluster_config", "an EDS cluster needs eds_cluster_config")
            }
            if cluster.hasLoadAssignment, !cluster.loadAssignment.endpoints.isEmpty {
                throw fail(.invalid, "load_assignment", "an EDS cluster takes its endpoints from EDS, not load_assignment")
            }
            let service = cluster.edsClusterConfig.serviceName
            return .eds(serviceName: service.isEmpty ? cluster.name : service)
        case .static:
            let endpoints = try inlineEndpoints()
            for (localityIndex, locality) in endpoints.localities.enumerated() {
                for (endpointIndex, endpoint) in locality.endpoints.enumerated() where !endpoint.address.isResolved {
                    throw fail(.invalid, "load_assignment.endpoints[\(localityIndex)].lb_endpoints[\(endpointIndex)].endpoint.address.socket_address.address", "a STATIC cluster needs IP addresses, not \"\(endpoint.address)\"")
                }
            }
            return .staticEndpoints(endpoints)
        case .strictDns, .logicalDns:
            let endpoints = try inlineEndpoints()
            var resolution = ClusterConfiguration.DNSResolution(
                lookupFamily: try lookupFamily(cluster.dnsLookupFamily, field: "dns_lookup_family"),
                respectTTL: cluster.respectDnsTtl
            )
            if cluster.hasDnsRefreshRate {
                let rate = try duration(cluster.dnsRefreshRate, "dns_refresh_rate", positive: true)
                guard rate >= .milliseconds(1) else { throw fail(.invalid, "dns_refresh_rate", "must be at least 1 ms") }
                resolution.refreshRate = rate
            }
            if cluster.hasDnsFailureRefreshRate {
                let failure = cluster.dnsFailureRefreshRate
                guard failure.hasBaseInterval else { throw fail(.invalid, "dns_failure_refresh_rate.base_interval", "is required") }
                let base = try duration(failure.baseInterval, "dns_failure_refresh_rate.base_interval", positive: true)
                guard base > .milliseconds(1) else { throw fail(.invalid, "dns_failure_refresh_rate.base_interval", "must be greater than 1 ms") }
                var maximum = base * 10
                if failure.hasMaxInterval {
                    maximum = try duration(failure.maxInterval, "dns_failure_refresh_rate.max_interval", positive: true)
                    guard maximum > .milliseconds(1) else { throw fail(.invalid, "dns_failure_refresh_rate.max_interval", "must be greater than 1 ms") }
                    guard maximum >= base else { throw fail(.invalid, "dns_failure_refresh_rate.max_interval", "must be greater than or equal to base_interval") }
                }
                resolution.failureRefresh = ClusterConfiguration.FailureRefreshRate(base: base, max: maximum)
            }
            for entry in endpoints.allEndpoints {
                if case .pipe = entry.endpoint.address {
                    throw fail(.invalid, "load_assignment", "DNS clusters resolve hostnames; pipe addresses are not allowed")
                }
            }
            if type == .logicalDns {
                guard endpoints.localities.count == 1, endpoints.localities[0].endpoints.count == 1 else {
                    throw fail(.invalid, "load_assignment", "LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint")
                }
                return .logicalDNS(endpoints, resolution)
            }
            return .strictDNS(endpoints, resolution)
        case .originalDst:
            if cluster.hasLoadAssignment, !cluster.loadAssignment.endpoints.isEmpty {
                throw fail(.invalid, "load_assignment", "ORIGINAL_DST clusters must have no load assignment configured")
            }
            return .originalDestination
        case .UNRECOGNIZED(let raw):
            throw fail(.unsupported, "type", "cluster discovery type \(raw) is not supported")
        }
    }

    private func inlineEndpoints() throws(ProxyConfigurationError) -> EndpointSet {
        guard cluster.hasLoadAssignment else {
            return EndpointSet(clusterName: cluster.name, localities: [])
        }
        return try EndpointSet(cluster.loadAssignment, resourceType: "Cluster", resourceName: cluster.name, fieldPrefix: "load_assignment.")
    }

    private func lookupFamily(_ family: Envoy_Config_Cluster_V3_Cluster.DnsLookupFamily, field: String) throws(ProxyConfigurationError) -> ClusterConfiguration.DNSLookupFamily {
        switch family {
        case .auto: .auto
        case .v4Only: .v4Only
        case .v6Only: .v6Only
        case .v4Preferred: .v4Preferred
        case .all: .all
        case .UNRECOGNIZED(let raw): throw fail(.invalid, field, "unknown lookup family \(raw)")
        }
    }

    // MARK: Load balancing

    private func convertLoadBalancer(discovery: ClusterConfiguration.Discovery) throws(ProxyConfigurationError) -> LoadBalancerKind {
        let clusterProvidedOnly: String?
        switch discovery {
        case .originalDestination: clusterProvidedOnly = "ORIGINAL_DST"
        case .dynamicForwardProxy: clusterProvidedOnly = ClusterConfiguration.dynamicForwardProxyClusterType
        default: clusterProvidedOnly = nil
        }
        if let kind = clusterProvidedOnly {
            guard cluster.lbPolicy == .clusterProvided else {
                throw fail(.invalid, "lb_policy", "only CLUSTER_PROVIDED is allowed with cluster type \(kind)")
            }
            return .clusterProvided
        }
        switch cluster.lbPolicy {
        case .roundRobin:
            return .roundRobin
        case .leastRequest:
            var choiceCount = LoadBalancerKind.defaultChoiceCount
            var bias = LoadBalancerKind.defaultActiveRequestBias
            if case .leastRequestLbConfig(let config)? = cluster.lbConfig {
                if config.hasChoiceCount {
                    guard config.choiceCount.value >= 2 else {
                        throw fail(.invalid, "least_request_lb_config.choice_count", "must be at least 2")
                    }
                    choiceCount = Int(config.choiceCount.value)
                }
                if config.hasActiveRequestBias {
                    let value = config.activeRequestBias.defaultValue
                    // Envoy logs and falls back to 1.0 for a negative or NaN bias.
                    bias = value >= 0 && !value.isNaN ? value : 1.0
                }
            }
            return .leastRequest(choiceCount: choiceCount, activeRequestBias: bias)
        case .random:
            return .random
        case .ringHash:
            var minimum = LoadBalancerKind.defaultMinimumRingSize
            var maximum = LoadBalancerKind.defaultMaximumRingSize
            var function = RingHashFunction.xxHash
            if case .ringHashLbConfig(let config)? = cluster.lbConfig {
                if config.hasMinimumRingSize {
                    guard config.minimumRingSize.value <= LoadBalancerKind.defaultMaximumRingSize else {
                        throw fail(.invalid, "ring_hash_lb_config.minimum_ring_size", "must be at most 8388608")
                    }
                    minimum = config.minimumRingSize.value
                }
                if config.hasMaximumRingSize {
                    guard config.maximumRingSize.value <= LoadBalancerKind.defaultMaximumRingSize else {
                        throw fail(.invalid, "ring_hash_lb_config.maximum_ring_size", "must be at most 8388608")
                    }
                    maximum = config.maximumRingSize.value
                }
                switch config.hashFunction {
                case .xxHash: function = .xxHash
                case .murmurHash2: function = .murmurHash2
                case .UNRECOGNIZED(let raw):
                    throw fail(.invalid, "ring_hash_lb_config.hash_function", "unknown hash function \(raw)")
                }
            }
            guard minimum <= maximum else {
                throw fail(.invalid, "ring_hash_lb_config.minimum_ring_size", "minimum_ring_size (\(minimum)) > maximum_ring_size (\(maximum))")
            }
            guard minimum > 0 else {
                throw fail(.invalid, "ring_hash_lb_config.minimum_ring_size", "must be greater than 0")
            }
            return .ringHash(minimumRingSize: minimum, maximumRingSize: maximum, hashFunction: function)
        case .maglev:
            var size = LoadBalancerKind.defaultMaglevTableSize
            if case .maglevLbConfig(let config)? = cluster.lbConfig {
                if config.hasTableSize {
                    size = config.tableSize.value
                    guard size < LoadBalancerKind.maglevTableSizeLimit else {
                        throw fail(.invalid, "maglev_lb_config.table_size", "must be less than 5000011")
                    }
                    guard MaglevTable.isPrime(size) else {
                        throw fail(.invalid, "maglev_lb_config.table_size", "the table size of maglev must be a prime number")
                    }
                }
            }
            return .maglev(tableSize: size)
        case .clusterProvided:
            throw fail(.invalid, "lb_policy", "CLUSTER_PROVIDED is only valid for ORIGINAL_DST and dynamic forward proxy clusters")
        case .loadBalancingPolicyConfig:
            throw fail(.unsupported, "lb_policy", "LOAD_BALANCING_POLICY_CONFIG is not supported")
        case .UNRECOGNIZED(let raw):
            throw fail(.invalid, "lb_policy", "unknown load-balancing policy \(raw)")
        }
    }

    private func convertCommonLbConfig(into configuration: inout ClusterConfiguration) throws(ProxyConfigurationError) {
        guard cluster.hasCommonLbConfig else { return }
        let common = cluster.commonLbConfig
        if common.hasHealthyPanicThreshold {
            configuration.healthyPanicThreshold = try percent(common.healthyPanicThreshold.value, "common_lb_config.healthy_panic_threshold.value")
        }
        if case .localityWeightedLbConfig? = common.localityConfigSpecifier {
            configuration.localityWeightedBalancing = true
        }
        if common.hasConsistentHashingLbConfig {
            let hashing = common.consistentHashingLbConfig
            configuration.useHostnameForHashing = hashing.useHostnameForHashing
            if hashing.hasHashBalanceFactor, hashing.hashBalanceFactor.value > 0 {
                throw fail(.unsupported, "common_lb_config.consistent_hashing_lb_config.hash_balance_factor", "bounded-load consistent hashing is not supported")
            }
        }
        if common.ignoreNewHostsUntilFirstHc {
            throw fail(.unsupported, "common_lb_config.ignore_new_hosts_until_first_hc", "needs active health checking, which is not supported")
        }
    }

    // MARK: Circuit breakers

    private func convertCircuitBreakers(into configuration: inout ClusterConfiguration) throws(ProxyConfigurationError) {
        guard cluster.hasCircuitBreakers else { return }
        for (index, threshold) in cluster.circuitBreakers.thresholds.enumerated() {
            let field = "circuit_breakers.thresholds[\(index)]"
            var result = CircuitBreakerThresholds()
            if threshold.hasMaxConnections { result.maxConnections = threshold.maxConnections.value }
            if threshold.hasMaxPendingRequests { result.maxPendingRequests = threshold.maxPendingRequests.value }
            if threshold.hasMaxRequests { result.maxRequests = threshold.maxRequests.value }
            if threshold.hasMaxRetries { result.maxRetries = threshold.maxRetries.value }
            if threshold.hasMaxConnectionPools { result.maxConnectionPools = threshold.maxConnectionPools.value }
            result.trackRemaining = threshold.trackRemaining
            if threshold.hasRetryBudget {
                var budget = CircuitBreakerThresholds.RetryBudget()
                if threshold.retryBudget.hasBudgetPercent {
                    budget.budgetPercent = try percent(threshold.retryBudget.budgetPercent.value, field + ".retry_budget.budget_percent.value")
                }
                if threshold.retryBudget.hasMinRetryConcurrency {
                    budget.minRetryConcurrency = threshold.retryBudget.minRetryConcurrency.value
                }
                result.retryBudget = budget
            }
            // Envoy reads the list in order, so a later entry for the same priority wins.
            switch threshold.priority {
            case .default: configuration.circuitBreakers = result
            case .high: configuration.highPriorityCircuitBreakers = result
            case .UNRECOGNIZED(let raw): throw fail(.invalid, field + ".priority", "unknown routing priority \(raw)")
            }
        }
        for threshold in cluster.circuitBreakers.perHostThresholds where threshold.priority == .default && threshold.hasMaxConnections {
            configuration.perHostMaxConnections = threshold.maxConnections.value
        }
    }

    // MARK: Outlier detection

    private func enforcement(_ value: Google_Protobuf_UInt32Value, has: Bool, default defaultValue: UInt32, _ field: String) throws(ProxyConfigurationError) -> UInt32 {
        guard has else { return defaultValue }
        guard value.value <= 100 else { throw fail(.invalid, "outlier_detection." + field, "must be at most 100") }
        return value.value
    }

    private func convertOutlierDetection(_ source: Envoy_Config_Cluster_V3_OutlierDetection) throws(ProxyConfigurationError) -> OutlierDetectionPolicy {
        var policy = OutlierDetectionPolicy()
        if source.hasConsecutive5Xx { policy.consecutive5xx = source.consecutive5Xx.value }
        if source.hasConsecutiveGatewayFailure { policy.consecutiveGatewayFailure = source.consecutiveGatewayFailure.value }
        if source.hasConsecutiveLocalOriginFailure { policy.consecutiveLocalOriginFailure = source.consecutiveLocalOriginFailure.value }
        policy.splitExternalLocalOriginErrors = source.splitExternalLocalOriginErrors
        if source.hasInterval { policy.interval = try duration(source.interval, "outlier_detection.interval", positive: true) }
        if source.hasBaseEjectionTime {
            policy.baseEjectionTime = try duration(source.baseEjectionTime, "outlier_detection.base_ejection_time", positive: true)
        }
        if source.hasMaxEjectionTime {
            policy.maxEjectionTime = try duration(source.maxEjectionTime, "outlier_detection.max_ejection_time", positive: true)
            guard policy.maxEjectionTime >= policy.baseEjectionTime else {
                throw fail(.invalid, "outlier_detection.max_ejection_time", "max_ejection_time cannot be smaller than base_ejection_time")
            }
        } else {
            policy.maxEjectionTime = max(.seconds(300), policy.baseEjectionTime)
        }
        if source.hasMaxEjectionTimeJitter {
            policy.maxEjectionTimeJitter = try duration(source.maxEjectionTimeJitter, "outlier_detection.max_ejection_time_jitter", positive: false)
        }
        policy.maxEjectionPercent = try enforcement(source.maxEjectionPercent, has: source.hasMaxEjectionPercent, default: 10, "max_ejection_percent")
        policy.alwaysEjectOneHost = source.hasAlwaysEjectOneHost && source.alwaysEjectOneHost.value
        policy.enforcingConsecutive5xx = try enforcement(source.enforcingConsecutive5Xx, has: source.hasEnforcingConsecutive5Xx, default: 100, "enforcing_consecutive_5xx")
        policy.enforcingConsecutiveGatewayFailure = try enforcement(source.enforcingConsecutiveGatewayFailure, has: source.hasEnforcingConsecutiveGatewayFailure, default: 0, "enforcing_consecutive_gateway_failure")
        policy.enforcingConsecutiveLocalOriginFailure = try enforcement(source.enforcingConsecutiveLocalOriginFailure, has: source.hasEnforcingConsecutiveLocalOriginFailure, default: 100, "enforcing_consecutive_local_origin_failure")
        var rate = OutlierDetectionPolicy.SuccessRateSettings()
        rate.enforcingSuccessRate = try enforcement(source.enforcingSuccessRate, has: source.hasEnforcingSuccessRate, default: 100, "enforcing_success_rate")
        if source.hasSuccessRateMinimumHosts { rate.minimumHosts = source.successRateMinimumHosts.value }
        if source.hasSuccessRateRequestVolume { rate.requestVolume = source.successRateRequestVolume.value }
        if source.hasSuccessRateStdevFactor { rate.stdevFactor = source.successRateStdevFactor.value }
        rate.enforcingLocalOriginSuccessRate = try enforcement(source.enforcingLocalOriginSuccessRate, has: source.hasEnforcingLocalOriginSuccessRate, default: 100, "enforcing_local_origin_success_rate")
        rate.failurePercentageThreshold = try enforcement(source.failurePercentageThreshold, has: source.hasFailurePercentageThreshold, default: 85, "failure_percentage_threshold")
        rate.enforcingFailurePercentage = try enforcement(source.enforcingFailurePercentage, has: source.hasEnforcingFailurePercentage, default: 0, "enforcing_failure_percentage")
        rate.enforcingFailurePercentageLocalOrigin = try enforcement(source.enforcingFailurePercentageLocalOrigin, has: source.hasEnforcingFailurePercentageLocalOrigin, default: 0, "enforcing_failure_percentage_local_origin")
        if source.hasFailurePercentageMinimumHosts { rate.failurePercentageMinimumHosts = source.failurePercentageMinimumHosts.value }
        if source.hasFailurePercentageRequestVolume { rate.failurePercentageRequestVolume = source.failurePercentageRequestVolume.value }
        policy.successRate = rate
        return policy
    }

    // MARK: HTTP protocol options

    private func convertHTTPProtocolOptions() throws(ProxyConfigurationError) -> UpstreamHTTPProtocolOptions {
        var result = UpstreamHTTPProtocolOptions()
        if cluster.hasMaxRequestsPerConnection, cluster.maxRequestsPerConnection.value > 0 {
            result.maxRequestsPerConnection = cluster.maxRequestsPerConnection.value
        }
        for key in cluster.typedExtensionProtocolOptions.keys.sorted() where key != ClusterConfiguration.httpProtocolOptionsKey {
            throw fail(.unsupported, "typed_extension_protocol_options[\"\(key)\"]", "protocol options \"\(key)\" are not supported")
        }
        guard let any = cluster.typedExtensionProtocolOptions[ClusterConfiguration.httpProtocolOptionsKey] else { return result }
        let field = "typed_extension_protocol_options[\"\(ClusterConfiguration.httpProtocolOptionsKey)\"]"
        typealias Options = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions
        guard any.isA(Options.self), let options = try? Options(unpackingAny: any) else {
            throw fail(.invalid, field, "must be an envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        }
        if options.hasCommonHTTPProtocolOptions {
            let common = options.commonHTTPProtocolOptions
            if common.hasIdleTimeout {
                let value = try duration(common.idleTimeout, field + ".common_http_protocol_options.idle_timeout", positive: false)
                result.idleTimeout = value == .zero ? nil : value
            }
            if common.hasMaxRequestsPerConnection {
                result.maxRequestsPerConnection = common.maxRequestsPerConnection.value == 0 ? nil : common.maxRequestsPerConnection.value
            }
            if common.hasMaxConnectionDuration {
                let value = try duration(common.maxConnectionDuration, field + ".common_http_protocol_options.max_connection_duration", positive: false)
                result.maxConnectionDuration = value == .zero ? nil : value
            }
            if common.hasMaxStreamDuration {
                let value = try duration(common.maxStreamDuration, field + ".common_http_protocol_options.max_stream_duration", positive: false)
                result.maxStreamDuration = value == .zero ? nil : value
            }
            if common.hasMaxHeadersCount {
                guard common.maxHeadersCount.value >= 1 else {
                    throw fail(.invalid, field + ".common_http_protocol_options.max_headers_count", "must be at least 1")
                }
                result.maxHeadersCount = common.maxHeadersCount.value
            }
        }
        if options.hasUpstreamHTTPProtocolOptions {
            result.autoSNI = options.upstreamHTTPProtocolOptions.autoSni
            result.autoSANValidation = options.upstreamHTTPProtocolOptions.autoSanValidation
        }
        var http2: Envoy_Config_Core_V3_Http2ProtocolOptions?
        var http2Field = ""
        switch options.upstreamProtocolOptions {
        case nil:
            result.version = .http1
        case .explicitHTTPConfig(let explicit)?:
            switch explicit.protocolConfig {
            case .httpProtocolOptions?, nil: result.version = .http1
            case .http2ProtocolOptions(let options)?:
                result.version = .http2
                http2 = options
                http2Field = field + ".explicit_http_config.http2_protocol_options"
            }
        case .useDownstreamProtocolConfig(let config)?:
            result.version = .useDownstream
            if config.hasHTTP2ProtocolOptions {
                http2 = config.http2ProtocolOptions
                http2Field = field + ".use_downstream_protocol_config.http2_protocol_options"
            }
        case .autoConfig(let config)?:
            result.version = .automatic
            if config.hasHTTP2ProtocolOptions {
                http2 = config.http2ProtocolOptions
                http2Field = field + ".auto_config.http2_protocol_options"
            }
        }
        if let http2 {
            if http2.hasMaxConcurrentStreams {
                guard (1...2_147_483_647).contains(http2.maxConcurrentStreams.value) else {
                    throw fail(.invalid, http2Field + ".max_concurrent_streams", "must be between 1 and 2147483647")
                }
                result.http2MaxConcurrentStreams = http2.maxConcurrentStreams.value
            }
            if http2.hasInitialStreamWindowSize {
                guard (65535...2_147_483_647).contains(http2.initialStreamWindowSize.value) else {
                    throw fail(.invalid, http2Field + ".initial_stream_window_size", "must be between 65535 and 2147483647")
                }
                result.http2InitialStreamWindowSize = http2.initialStreamWindowSize.value
            }
            if http2.hasInitialConnectionWindowSize {
                guard (65535...2_147_483_647).contains(http2.initialConnectionWindowSize.value) else {
                    throw fail(.invalid, http2Field + ".initial_connection_window_size", "must be between 65535 and 2147483647")
                }
                result.http2InitialConnectionWindowSize = http2.initialConnectionWindowSize.value
            }
            if http2.hasConnectionKeepalive {
                let keepalive = http2.connectionKeepalive
                guard keepalive.hasTimeout else {
                    throw fail(.invalid, http2Field + ".connection_keepalive.timeout", "is required")
                }
                let timeout = try duration(keepalive.timeout, http2Field + ".connection_keepalive.timeout", positive: true)
                var interval: Duration?
                if keepalive.hasInterval {
                    interval = try duration(keepalive.interval, http2Field + ".connection_keepalive.interval", positive: true)
                }
                result.http2Keepalive = UpstreamHTTPProtocolOptions.HTTP2Keepalive(interval: interval, timeout: timeout)
            }
        }
        return result
    }

    // MARK: Transport sockets

    private static let tlsTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
    private static let rawBufferTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"

    private func convertTransportSocket(_ socket: Envoy_Config_Core_V3_TransportSocket, field: String) throws(ProxyConfigurationError) -> UpstreamTransportSocket {
        guard case .typedConfig(let any)? = socket.configType else {
            switch socket.name {
            case "envoy.transport_sockets.raw_buffer", "raw_buffer": return .plaintext
            default: throw fail(.unsupported, field + ".name", "transport socket \"\(socket.name)\" without typed_config is not supported")
            }
        }
        switch any.typeURL {
        case Self.rawBufferTypeURL:
            return .plaintext
        case Self.tlsTypeURL:
            guard let context = try? Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: any) else {
                throw fail(.invalid, field + ".typed_config", "cannot decode the UpstreamTlsContext")
            }
            return .tls(try convertTLS(context, field: field + ".typed_config"))
        default:
            throw fail(.unsupported, field + ".typed_config", "transport socket type \(any.typeURL) is not supported")
        }
    }

    private func dataSource(_ source: Envoy_Config_Core_V3_DataSource, _ field: String) throws(ProxyConfigurationError) -> UpstreamTLSConfiguration.DataSource {
        switch source.specifier {
        case .filename(let path)?: return .file(path)
        case .inlineBytes(let bytes)?: return .inlineBytes(bytes)
        case .inlineString(let string)?: return .inlineString(string)
        case .environmentVariable(let name)?: return .environmentVariable(name)
        case nil: throw fail(.invalid, field, "a data source needs filename, inline_bytes, inline_string or environment_variable")
        }
    }

    private func tlsVersion(_ version: Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters.TlsProtocol, _ field: String) throws(ProxyConfigurationError) -> UpstreamTLSConfiguration.TLSVersion? {
        switch version {
        case .tlsAuto: nil
        case .tlsv10: .tls1_0
        case .tlsv11: .tls1_1
        case .tlsv12: .tls1_2
        case .tlsv13: .tls1_3
        case .UNRECOGNIZED(let raw): throw fail(.invalid, field, "unknown TLS version \(raw)")
        }
    }

    func convertTLS(_ context: Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext, field: String) throws(ProxyConfigurationError) -> UpstreamTLSConfiguration {
        var result = UpstreamTLSConfiguration(sni: context.sni)
        guard context.sni.utf8.count <= 255 else { throw fail(.invalid, field + ".sni", "must be at most 255 bytes") }
        result.autoHostSNI = context.autoHostSni
        result.autoSNISANValidation = context.autoSniSanValidation
        if context.autoHostSni || context.autoSniSanValidation {
            throw fail(.unsupported, field + (context.autoHostSni ? ".auto_host_sni" : ".auto_sni_san_validation"), "SNI from the request host is not supported by the Swift proxy; set sni")
        }
        if context.hasMaxSessionKeys { result.maxSessionKeys = context.maxSessionKeys.value }
        let common = context.commonTlsContext
        let commonField = field + ".common_tls_context"
        result.alpnProtocols = common.alpnProtocols
        if common.hasTlsParams {
            let params = common.tlsParams
            result.minimumVersion = try tlsVersion(params.tlsMinimumProtocolVersion, commonField + ".tls_params.tls_minimum_protocol_version")
            result.maximumVersion = try tlsVersion(params.tlsMaximumProtocolVersion, commonField + ".tls_params.tls_maximum_protocol_version")
            if let low = result.minimumVersion, let high = result.maximumVersion, order(low) > order(high) {
                throw fail(.invalid, commonField + ".tls_params", "minimum protocol version is above the maximum")
            }
            result.cipherSuites = params.cipherSuites
            result.ecdhCurves = params.ecdhCurves
            for (index, name) in params.cipherSuites.enumerated() where !TLSParameterNames.isKnownCipherSuite(name) {
                throw fail(.invalid, "\(commonField).tls_params.cipher_suites[\(index)]", "unknown cipher suite \"\(name)\"")
            }
            for (index, name) in params.ecdhCurves.enumerated() where TLSParameterNames.curve(name) == nil {
                throw fail(.invalid, "\(commonField).tls_params.ecdh_curves[\(index)]", "unknown or unsupported ECDH curve \"\(name)\"")
            }
            if !params.signatureAlgorithms.isEmpty {
                throw fail(.unsupported, commonField + ".tls_params.signature_algorithms", "signature algorithm lists are not supported")
            }
        }
        for (index, certificate) in common.tlsCertificates.enumerated() {
            let certificateField = "\(commonField).tls_certificates[\(index)]"
            guard certificate.hasCertificateChain, certificate.hasPrivateKey else {
                throw fail(.invalid, certificateField, "needs certificate_chain and private_key")
            }
            result.certificates.append(.static(
                chain: try dataSource(certificate.certificateChain, certificateField + ".certificate_chain"),
                privateKey: try dataSource(certificate.privateKey, certificateField + ".private_key")
            ))
        }
        for (index, secret) in common.tlsCertificateSdsSecretConfigs.enumerated() {
            guard !secret.name.isEmpty else {
                throw fail(.invalid, "\(commonField).tls_certificate_sds_secret_configs[\(index)].name", "must not be empty")
            }
            result.certificates.append(.sds(secretName: secret.name))
        }
        switch common.validationContextType {
        case nil:
            result.validation = nil
        case .validationContext(let context)?:
            result.validation = try convertValidation(context, field: commonField + ".validation_context")
        case .validationContextSdsSecretConfig(let secret)?:
            guard !secret.name.isEmpty else {
                throw fail(.invalid, commonField + ".validation_context_sds_secret_config.name", "must not be empty")
            }
            result.validation = UpstreamTLSConfiguration.Validation(trustBundleSecretName: secret.name)
        case .combinedValidationContext(let combined)?:
            let combinedField = commonField + ".combined_validation_context"
            guard combined.hasValidationContextSdsSecretConfig, !combined.validationContextSdsSecretConfig.name.isEmpty else {
                throw fail(.invalid, combinedField + ".validation_context_sds_secret_config", "is required")
            }
            var validation = try convertValidation(combined.defaultValidationContext, field: combinedField + ".default_validation_context")
            validation.trustBundleSecretName = combined.validationContextSdsSecretConfig.name
            result.validation = validation
        }
        return result
    }

    private func order(_ version: UpstreamTLSConfiguration.TLSVersion) -> Int {
        switch version {
        case .tls1_0: 0
        case .tls1_1: 1
        case .tls1_2: 2
        case .tls1_3: 3
        }
    }

    private func convertValidation(_ context: Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext, field: String) throws(ProxyConfigurationError) -> UpstreamTLSConfiguration.Validation {
        if context.hasCustomValidatorConfig {
            throw fail(.unsupported, field + ".custom_validator_config", "custom certificate validators are not supported")
        }
        if context.hasCrl {
            throw fail(.unsupported, field + ".crl", "certificate revocation lists are not supported")
        }
        var validation = UpstreamTLSConfiguration.Validation()
        if context.hasTrustedCa { validation.trustedCA = try dataSource(context.trustedCa, field + ".trusted_ca") }
        validation.certificateHashes = context.verifyCertificateHash
        for (index, hash) in context.verifyCertificateHash.enumerated() where TLSPeerCertificate.normalizedHash(hash) == nil {
            throw fail(.invalid, "\(field).verify_certificate_hash[\(index)]", "\"\(hash)\" is not a hex SHA-256 fingerprint")
        }
        if !context.verifyCertificateSpki.isEmpty {
            throw fail(.unsupported, field + ".verify_certificate_spki", "SPKI pinning is not supported by the Swift proxy")
        }
        if context.allowExpiredCertificate {
            throw fail(.unsupported, field + ".allow_expired_certificate", "accepting expired certificates is not supported by the Swift proxy")
        }
        if context.hasSystemRootCerts {
            throw fail(.unsupported, field + ".system_root_certs", "the system trust store is not supported; name a trusted_ca")
        }
        switch context.trustChainVerification {
        case .verifyTrustChain: validation.acceptUntrusted = false
        case .acceptUntrusted: validation.acceptUntrusted = true
        case .UNRECOGNIZED(let raw): throw fail(.invalid, field + ".trust_chain_verification", "unknown value \(raw)")
        }
        for (index, matcher) in context.matchTypedSubjectAltNames.enumerated() {
            let matcherField = "\(field).match_typed_subject_alt_names[\(index)]"
            let type: SubjectAltNameMatcher.SANType
            switch matcher.sanType {
            case .email: type = .email
            case .dns: type = .dns
            case .uri: type = .uri
            case .ipAddress: type = .ipAddress
            case .otherName:
                guard !matcher.oid.isEmpty else { throw fail(.invalid, matcherField + ".oid", "OTHER_NAME needs an oid") }
                type = .otherName(oid: matcher.oid)
            case .unspecified, .UNRECOGNIZED:
                throw fail(.invalid, matcherField + ".san_type", "must be EMAIL, DNS, URI, IP_ADDRESS or OTHER_NAME")
            }
            validation.subjectAltNameMatchers.append(SubjectAltNameMatcher(sanType: type, pattern: try pattern(matcher.matcher, matcherField + ".matcher")))
        }
        return validation
    }

    private func pattern(_ matcher: Envoy_Type_Matcher_V3_StringMatcher, _ field: String) throws(ProxyConfigurationError) -> SubjectAltNameMatcher.Pattern {
        let ignore = matcher.ignoreCase
        switch matcher.matchPattern {
        case .exact(let value)?: return .exact(value, ignoreCase: ignore)
        case .prefix(let value)?:
            guard !value.isEmpty else { throw fail(.invalid, field + ".prefix", "must not be empty") }
            return .prefix(value, ignoreCase: ignore)
        case .suffix(let value)?:
            guard !value.isEmpty else { throw fail(.invalid, field + ".suffix", "must not be empty") }
            return .suffix(value, ignoreCase: ignore)
        case .contains(let value)?:
            guard !value.isEmpty else { throw fail(.invalid, field + ".contains", "must not be empty") }
            return .contains(value, ignoreCase: ignore)
        case .safeRegex(let regex)?:
            guard (try? Regex(regex.regex)) != nil else {
                throw fail(.invalid, field + ".safe_regex.regex", "\"\(regex.regex)\" is not a valid regular expression")
            }
            return .regex(regex.regex)
        case nil:
            throw fail(.invalid, field, "a string matcher needs exact, prefix, suffix, contains or safe_regex")
        }
    }
}
