/// Istio's `EnvoyFilter` spec (networking.istio.io/v1alpha3): patches applied to generated Envoy configuration.
public struct EnvoyFilter: ResourceSpec {
    public static var kind: ResourceKind { .envoyFilter }

    /// Workloads to patch; every workload in the namespace (or mesh, in the root namespace) when unset.
    public var workloadSelector: Sidecar.WorkloadSelector?
    /// Gateways or services to patch, instead of `workloadSelector`.
    public var targetRefs: [PolicyTargetReference]?
    /// The patches, applied in order.
    public var configPatches: [EnvoyConfigObjectPatch]?
    /// Order among EnvoyFilters in the same context; lower applies first, negative before the defaults.
    public var priority: Int32?

    public init(
        workloadSelector: Sidecar.WorkloadSelector? = nil, targetRefs: [PolicyTargetReference]? = nil,
        configPatches: [EnvoyConfigObjectPatch]? = nil, priority: Int32? = nil
    ) {
        self.workloadSelector = workloadSelector
        self.targetRefs = targetRefs
        self.configPatches = configPatches
        self.priority = priority
    }

    /// Istio's `EnvoyFilter.ApplyTo`: the kind of Envoy object a patch targets.
    public enum ApplyTo: String, ConfigEnum {
        case INVALID, LISTENER, FILTER_CHAIN, NETWORK_FILTER, HTTP_FILTER, ROUTE_CONFIGURATION, VIRTUAL_HOST,
             HTTP_ROUTE, CLUSTER, EXTENSION_CONFIG, BOOTSTRAP, LISTENER_FILTER
    }

    /// Istio's `EnvoyFilter.PatchContext`: which generated configuration a patch applies to.
    public enum PatchContext: String, ConfigEnum {
        case ANY, SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, WAYPOINT
    }

    /// Matches proxies by version regex (RE2) and node metadata.
    public struct ProxyMatch: Sendable, Hashable, Codable {
        public var proxyVersion: String?
        public var metadata: [String: String]?

        public init(proxyVersion: String? = nil, metadata: [String: String]? = nil) {
            self.proxyVersion = proxyVersion
            self.metadata = metadata
        }
    }

    /// Matches a cluster by port, service, subset or full name.
    public struct ClusterMatch: Sendable, Hashable, Codable {
        public var portNumber: UInt32?
        public var service: String?
        public var subset: String?
        public var name: String?

        public init(portNumber: UInt32? = nil, service: String? = nil, subset: String? = nil, name: String? = nil) {
            self.portNumber = portNumber
            self.service = service
            self.subset = subset
            self.name = name
        }
    }

    /// Matches a route configuration, optionally down to a virtual host and route.
    public struct RouteConfigurationMatch: Sendable, Hashable, Codable {
        public var portNumber: UInt32?
        public var portName: String?
        /// `namespace/name` of the Istio Gateway, for gateway route configurations.
        public var gateway: String?
        public var vhost: VirtualHostMatch?
        public var name: String?

        public init(
            portNumber: UInt32? = nil, portName: String? = nil, gateway: String? = nil, vhost: VirtualHostMatch? = nil,
            name: String? = nil
        ) {
            self.portNumber = portNumber
            self.portName = portName
            self.gateway = gateway
            self.vhost = vhost
            self.name = name
        }

        /// Matches a route by name and action.
        public struct RouteMatch: Sendable, Hashable, Codable {
            public var name: String?
            public var action: Action?

            public init(name: String? = nil, action: Action? = nil) {
                self.name = name
                self.action = action
            }

            /// Istio's `RouteMatch.Action`.
            public enum Action: String, ConfigEnum {
                case ANY, ROUTE, REDIRECT, DIRECT_RESPONSE
            }
        }

        /// Matches a virtual host by name or domain.
        public struct VirtualHostMatch: Sendable, Hashable, Codable {
            public var name: String?
            public var domainName: String?
            public var route: RouteMatch?

            public init(name: String? = nil, domainName: String? = nil, route: RouteMatch? = nil) {
                self.name = name
                self.domainName = domainName
                self.route = route
            }
        }
    }

    /// Matches a listener, optionally down to a filter chain, filter and sub-filter.
    public struct ListenerMatch: Sendable, Hashable, Codable {
        public var portNumber: UInt32?
        public var portName: String?
        public var filterChain: FilterChainMatch?
        public var listenerFilter: String?
        public var name: String?

        public init(
            portNumber: UInt32? = nil, portName: String? = nil, filterChain: FilterChainMatch? = nil,
            listenerFilter: String? = nil, name: String? = nil
        ) {
            self.portNumber = portNumber
            self.portName = portName
            self.filterChain = filterChain
            self.listenerFilter = listenerFilter
            self.name = name
        }

        /// Matches a filter chain by name, SNI, transport, ALPN, contained filter or destination port.
        public struct FilterChainMatch: Sendable, Hashable, Codable {
            public var name: String?
            public var sni: String?
            public var transportProtocol: String?
            /// Comma-separated ALPN values.
            public var applicationProtocols: String?
            public var filter: FilterMatch?
            public var destinationPort: UInt32?

            public init(
                name: String? = nil, sni: String? = nil, transportProtocol: String? = nil,
                applicationProtocols: String? = nil, filter: FilterMatch? = nil, destinationPort: UInt32? = nil
            ) {
                self.name = name
                self.sni = sni
                self.transportProtocol = transportProtocol
                self.applicationProtocols = applicationProtocols
                self.filter = filter
                self.destinationPort = destinationPort
            }
        }

        /// Matches a network filter by name, optionally an HTTP filter inside it.
        public struct FilterMatch: Sendable, Hashable, Codable {
            public var name: String?
            public var subFilter: SubFilterMatch?

            public init(name: String? = nil, subFilter: SubFilterMatch? = nil) {
                self.name = name
                self.subFilter = subFilter
            }
        }

        /// Matches an HTTP filter inside the HTTP connection manager.
        public struct SubFilterMatch: Sendable, Hashable, Codable {
            public var name: String?

            public init(name: String? = nil) { self.name = name }
        }
    }

    /// Matches configuration generated for a waypoint proxy (context `WAYPOINT` only).
    public struct WaypointMatch: Sendable, Hashable, Codable {
        public var portNumber: UInt32?
        public var route: RouteMatch?
        public var filter: FilterMatch?

        public init(portNumber: UInt32? = nil, route: RouteMatch? = nil, filter: FilterMatch? = nil) {
            self.portNumber = portNumber
            self.route = route
            self.filter = filter
        }

        /// Matches a waypoint route by name.
        public struct RouteMatch: Sendable, Hashable, Codable {
            public var name: String?

            public init(name: String? = nil) { self.name = name }
        }

        /// Matches a waypoint filter by name, optionally a sub-filter.
        public struct FilterMatch: Sendable, Hashable, Codable {
            public var name: String?
            public var subFilter: SubFilterMatch?

            public init(name: String? = nil, subFilter: SubFilterMatch? = nil) {
                self.name = name
                self.subFilter = subFilter
            }

            /// Matches a sub-filter by name.
            public struct SubFilterMatch: Sendable, Hashable, Codable {
                public var name: String?

                public init(name: String? = nil) { self.name = name }
            }
        }
    }

    /// How to change the matched object.
    public struct Patch: Sendable, Hashable, Codable {
        public var operation: Operation?
        /// The Envoy configuration (a JSON object) to merge, add or insert.
        public var value: JSONValue?
        /// Where an inserted HTTP filter goes relative to Istio's own filters.
        public var filterClass: FilterClass?

        public init(operation: Operation? = nil, value: JSONValue? = nil, filterClass: FilterClass? = nil) {
            self.operation = operation
            self.value = value
            self.filterClass = filterClass
        }

        /// Istio's `Patch.Operation`.
        public enum Operation: String, ConfigEnum {
            case INVALID, MERGE, ADD, REMOVE, INSERT_BEFORE, INSERT_AFTER, INSERT_FIRST, REPLACE, MERGE_AND_REPLACE_LIST
        }

        /// Istio's `Patch.FilterClass`.
        public enum FilterClass: String, ConfigEnum {
            case UNSPECIFIED, AUTHN, AUTHZ, STATS
        }
    }

    /// Which objects a patch applies to; at most one of `listener`, `routeConfiguration`, `cluster`, `waypoint`.
    public struct EnvoyConfigObjectMatch: Sendable, Hashable, Codable {
        public var context: PatchContext?
        public var proxy: ProxyMatch?
        public var listener: ListenerMatch?
        public var routeConfiguration: RouteConfigurationMatch?
        public var cluster: ClusterMatch?
        public var waypoint: WaypointMatch?

        public init(
            context: PatchContext? = nil, proxy: ProxyMatch? = nil, listener: ListenerMatch? = nil,
            routeConfiguration: RouteConfigurationMatch? = nil, cluster: ClusterMatch? = nil, waypoint: WaypointMatch? = nil
        ) {
            self.context = context
            self.proxy = proxy
            self.listener = listener
            self.routeConfiguration = routeConfiguration
            self.cluster = cluster
            self.waypoint = waypoint
        }

        /// True when one of the `object_types` oneof fields is set.
        public var hasObjectType: Bool { listener != nil || routeConfiguration != nil || cluster != nil || waypoint != nil }
    }

    /// One patch: what it applies to, where, and the change.
    public struct EnvoyConfigObjectPatch: Sendable, Hashable, Codable {
        public var applyTo: ApplyTo?
        public var match: EnvoyConfigObjectMatch?
        public var patch: Patch?

        public init(applyTo: ApplyTo? = nil, match: EnvoyConfigObjectMatch? = nil, patch: Patch? = nil) {
            self.applyTo = applyTo
            self.match = match
            self.patch = patch
        }
    }
}
