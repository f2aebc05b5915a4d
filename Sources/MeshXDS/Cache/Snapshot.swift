public import SwiftProtobuf
import Synchronization

/// A consistent, versioned set of xDS resources for one proxy (or one group of proxies).
///
/// Each type URL carries its own version and named resources, as in go-control-plane's
/// `cache.Snapshot`. The server sends a type again only when its version changes (state of the
/// world) or when a resource's own version changes (delta). Build one with typed messages:
///
/// ```swift
/// let snapshot = try Snapshot(version: "1", clusters: [cluster], listeners: [listener], routes: [routes])
/// try snapshot.validateConsistency()
/// await cache.setSnapshot(snapshot, for: "sidecar~10.0.0.1~a.default~default.svc.cluster.local")
/// ```
public struct Snapshot: Sendable, Hashable {
    /// The resources of one type URL and the version they are published under.
    ///
    /// A set can be layered: a ``ResourceSet`` shared by many proxies (their common outbound
    /// clusters, say) under a few resources of the proxy's own. The shared layer is stored once
    /// however many snapshots hold it; a resource of the own layer replaces a shared one of the
    /// same name.
    public struct Resources: Sendable, Hashable {
        /// The version sent as `version_info` (state of the world) or `system_version_info` (delta).
        public var version: String
        /// The layer shared with other snapshots.
        public private(set) var shared: ResourceSet
        /// The resources of this snapshot alone.
        public private(set) var own: ResourceSet

        /// - Parameters:
        ///   - version: The version of this set.
        ///   - items: The resources; a later resource replaces an earlier one of the same name.
        public init(version: String, items: [XDSResource] = []) {
            self.version = version
            self.shared = ResourceSet()
            self.own = ResourceSet(items)
        }

        /// A layered set: `shared` (held by other snapshots too) under `own`.
        public init(version: String, shared: ResourceSet, own: ResourceSet = ResourceSet()) {
            self.version = version
            self.shared = shared
            self.own = own
        }

        /// The resources by name (both layers merged; prefer ``resource(named:)`` and
        /// ``sorted(where:)``, which do not build a new dictionary).
        public var items: [String: XDSResource] {
            get { own.isEmpty ? shared.byName : shared.byName.merging(own.byName) { _, mine in mine } }
            set {
                shared = ResourceSet()
                own = ResourceSet(Array(newValue.values))
            }
        }

        /// The number of distinct resource names.
        public var count: Int {
            own.isEmpty ? shared.count : shared.count + own.count - own.sorted.filter { shared.byName[$0.name] != nil }.count
        }

        /// The resource called `name`, if any.
        public func resource(named name: String) -> XDSResource? { own.byName[name] ?? shared.byName[name] }

        /// Every resource name.
        public var names: Set<String> { Set(shared.byName.keys).union(own.byName.keys) }

        /// What the resources need from another type (a cluster's load assignment, a listener's
        /// route configuration), or a description of a resource that does not decode. A shared
        /// layer computes this once, however many snapshots hold it.
        func references() -> [ResourceReference] {
            if own.isEmpty { return shared.references() }
            return shared.references().filter { own.byName[$0.referrer] == nil } + own.references()
        }

        /// The resources that satisfy `isIncluded`, sorted by name, merging both layers in one pass.
        public func sorted(where isIncluded: (XDSResource) -> Bool) -> [XDSResource] {
            if own.isEmpty { return shared.sorted.filter(isIncluded) }
            if shared.isEmpty { return own.sorted.filter(isIncluded) }
            var result: [XDSResource] = []
            result.reserveCapacity(shared.count + own.count)
            var i = shared.sorted.startIndex, j = own.sorted.startIndex
            while i < shared.sorted.endIndex || j < own.sorted.endIndex {
                let next: XDSResource
                if j == own.sorted.endIndex || (i < shared.sorted.endIndex && shared.sorted[i].name < own.sorted[j].name) {
                    next = shared.sorted[i]
                    i += 1
                } else {
                    if i < shared.sorted.endIndex, shared.sorted[i].name == own.sorted[j].name { i += 1 }
                    next = own.sorted[j]
                    j += 1
                }
                if isIncluded(next) { result.append(next) }
            }
            return result
        }
    }

    /// An immutable set of resources of one type, indexed by name and kept sorted by name, meant to
    /// be built once and shared by value between snapshots (the storage is not copied).
    public struct ResourceSet: Sendable, Hashable {
        /// The resources by name.
        public let byName: [String: XDSResource]
        /// The resources sorted by name.
        public let sorted: [XDSResource]

        /// A set of `items`; a later resource replaces an earlier one of the same name.
        public init(_ items: [XDSResource] = []) {
            let byName = Dictionary(items.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
            self.byName = byName
            self.sorted = byName.values.sorted { $0.name < $1.name }
        }

        public var isEmpty: Bool { sorted.isEmpty }
        public var count: Int { sorted.count }

        private let referenceCache = ReferenceCache()

        public static func == (lhs: ResourceSet, rhs: ResourceSet) -> Bool { lhs.sorted == rhs.sorted }
        public func hash(into hasher: inout Hasher) { hasher.combine(sorted.count) }

        func references() -> [ResourceReference] {
            referenceCache.value { ResourceReference.all(in: sorted) }
        }
    }

    /// The resources by type URL.
    public var resources: [String: Resources]

    /// An empty snapshot.
    public init() { resources = [:] }

    /// A snapshot of resources grouped by type URL.
    /// - Parameters:
    ///   - resources: The resources by type URL.
    public init(resources: [String: Resources]) { self.resources = resources }

    /// A snapshot of typed Envoy resources, every type at the same version. Types passed empty
    /// are present (with no resources), so wildcard subscribers get an empty answer.
    /// - Parameters:
    ///   - version: The version for every type.
    ///   - clusters: CDS resources.
    ///   - endpoints: EDS resources.
    ///   - listeners: LDS resources.
    ///   - routes: RDS resources.
    ///   - secrets: SDS resources.
    public init(
        version: String,
        clusters: [Envoy_Config_Cluster_V3_Cluster] = [],
        endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = [],
        listeners: [Envoy_Config_Listener_V3_Listener] = [],
        routes: [Envoy_Config_Route_V3_RouteConfiguration] = [],
        secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []
    ) throws(XDSError) {
        self.init()
        try set(EnvoyTypeURL.cluster, version: version, messages: clusters)
        try set(EnvoyTypeURL.clusterLoadAssignment, version: version, messages: endpoints)
        try set(EnvoyTypeURL.listener, version: version, messages: listeners)
        try set(EnvoyTypeURL.routeConfiguration, version: version, messages: routes)
        try set(EnvoyTypeURL.secret, version: version, messages: secrets)
    }

    /// Replaces one type's resources with typed messages.
    /// - Parameters:
    ///   - typeURL: The type URL, such as ``EnvoyTypeURL/cluster``.
    ///   - version: The new version for this type.
    ///   - messages: The resources, named by ``XDSResource/name(of:)``.
    public mutating func set(_ typeURL: String, version: String, messages: [some SwiftProtobuf.Message]) throws(XDSError) {
        var items: [XDSResource] = []
        for message in messages {
            let resource = try XDSResource(message)
            guard resource.resource.typeURL == typeURL else {
                throw XDSError(code: .invalidResource, message: "\(resource.resource.typeURL) resource \"\(resource.name)\" set under \(typeURL)")
            }
            items.append(resource)
        }
        resources[typeURL] = Resources(version: version, items: items)
    }

    /// Replaces one type's resources with already packed ones.
    /// - Parameters:
    ///   - typeURL: The type URL.
    ///   - version: The new version for this type.
    ///   - items: The resources.
    public mutating func set(_ typeURL: String, version: String, items: [XDSResource]) {
        resources[typeURL] = Resources(version: version, items: items)
    }

    /// The version of a type, or nil when the snapshot does not hold that type.
    public func version(of typeURL: String) -> String? { resources[typeURL]?.version }

    /// The names of a type's resources.
    public func names(of typeURL: String) -> Set<String> { resources[typeURL]?.names ?? [] }

    /// Checks that every reference between types resolves inside the snapshot.
    ///
    /// A CDS cluster of discovery type EDS needs a ClusterLoadAssignment named by its
    /// `eds_cluster_config.service_name` (or its own name); an HttpConnectionManager using RDS
    /// needs the RouteConfiguration named by `route_config_name`. Types the snapshot does not
    /// hold are not checked, so a snapshot carrying only CDS and LDS is valid.
    /// - Throws: ``XDSError`` with code ``XDSError/Code/inconsistentSnapshot`` naming every
    ///   missing reference.
    public func validateConsistency() throws(XDSError) {
        var problems: [String] = []
        func check(_ referring: Resources?, in target: Resources?) {
            guard let referring, let target else { return }
            for reference in referring.references() where target.resource(named: reference.name) == nil {
                problems.append(reference.problem)
            }
        }
        check(resources[EnvoyTypeURL.cluster], in: resources[EnvoyTypeURL.clusterLoadAssignment])
        check(resources[EnvoyTypeURL.listener], in: resources[EnvoyTypeURL.routeConfiguration])
        guard problems.isEmpty else {
            throw XDSError(code: .inconsistentSnapshot, message: problems.sorted().joined(separator: "; "))
        }
    }

    /// The RDS route configuration names an LDS listener's HTTP connection managers use.
    public static func routeConfigNames(in listener: Envoy_Config_Listener_V3_Listener) -> [String] {
        var chains = listener.filterChains
        if listener.hasDefaultFilterChain { chains.append(listener.defaultFilterChain) }
        var names: [String] = []
        for chain in chains {
            for filter in chain.filters {
                guard case .typedConfig(let any)? = filter.configType,
                      any.typeURL == EnvoyTypeURL.of(HTTPConnectionManager.self),
                      let manager = try? HTTPConnectionManager(unpackingAny: any),
                      case .rds(let rds)? = manager.routeSpecifier
                else { continue }
                names.append(rds.routeConfigName)
            }
        }
        return names
    }
}

/// A name one resource needs to find in another type for a snapshot to be consistent.
struct ResourceReference: Sendable {
    var referrer: String
    var name: String
    var problem: String

    /// Load assignments named by EDS clusters and route configurations named by listeners; a
    /// cluster or listener that does not decode is reported with an empty `name`, which never resolves.
    static func all(in items: [XDSResource]) -> [ResourceReference] {
        var references: [ResourceReference] = []
        for item in items {
            switch item.resource.typeURL {
            case EnvoyTypeURL.cluster:
                guard let cluster = try? Envoy_Config_Cluster_V3_Cluster(unpackingAny: item.resource) else {
                    references.append(ResourceReference(referrer: item.name, name: "", problem: "cluster \"\(item.name)\" does not decode"))
                    continue
                }
                guard case .type(.eds)? = cluster.clusterDiscoveryType else { continue }
                let serviceName = cluster.edsClusterConfig.serviceName.isEmpty ? cluster.name : cluster.edsClusterConfig.serviceName
                references.append(ResourceReference(
                    referrer: item.name, name: serviceName,
                    problem: "EDS cluster \"\(cluster.name)\" references ClusterLoadAssignment \"\(serviceName)\", which is missing"))
            case EnvoyTypeURL.listener:
                guard let listener = try? Envoy_Config_Listener_V3_Listener(unpackingAny: item.resource) else {
                    references.append(ResourceReference(referrer: item.name, name: "", problem: "listener \"\(item.name)\" does not decode"))
                    continue
                }
                for name in Snapshot.routeConfigNames(in: listener) {
                    references.append(ResourceReference(
                        referrer: item.name, name: name,
                        problem: "listener \"\(listener.name)\" references RouteConfiguration \"\(name)\", which is missing"))
                }
            default:
                continue
            }
        }
        return references
    }
}

/// Computes a value once and keeps it; shared by every copy of the value type holding it.
final class ReferenceCache: Sendable {
    private let stored = Mutex<[ResourceReference]?>(nil)

    func value(_ compute: () -> [ResourceReference]) -> [ResourceReference] {
        if let known = stored.withLock({ $0 }) { return known }
        let computed = compute()
        stored.withLock { $0 = computed }
        return computed
    }
}

typealias HTTPConnectionManager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
