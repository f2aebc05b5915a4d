import Foundation
public import MeshCore
import SwiftProtobuf

/// The EnvoyFilter patches that apply to one proxy, decoded and in Istio's order, ready to be
/// applied to its generated clusters, listeners and route configurations.
///
/// EnvoyFilters come from the mesh root namespace and the proxy's namespace, selected by
/// `workloadSelector` (none means every workload in scope) or by `targetRefs` naming a
/// `gateway.networking.k8s.io` Gateway the proxy serves. They are ordered by `priority`, then
/// creation time, then `name.namespace`; their patches apply in that order, each applyTo level after
/// the one above it, as in Istio. Patches whose `match.proxy` does not match the proxy are dropped.
///
/// A patch that cannot be applied — its value names a field or `@type` SwiftMesh's trimmed protos
/// do not have, or it uses an applyTo or operation SwiftMesh does not implement — is skipped and
/// reported in ``diagnostics``; the other patches still apply.
///
/// ```swift
/// let patches = EnvoyFilterPatches(snapshot: snapshot, proxy: proxy)
/// let clusters = patches.patchClusters(generatedClusters)
/// ```
public struct EnvoyFilterPatches: Sendable {
    /// One patch, decoded.
    struct Patch: Sendable {
        var namespace: String
        var name: String
        var index: Int
        var applyTo: EnvoyFilter.ApplyTo
        var operation: EnvoyFilter.Patch.Operation
        var context: EnvoyFilter.PatchContext
        var match: EnvoyFilter.EnvoyConfigObjectMatch
        var decoded: (any SwiftProtobuf.Message)?

        /// The decoded value (an empty message for REMOVE).
        func value<M: SwiftProtobuf.Message>(as type: M.Type) -> M { (decoded as? M) ?? M() }

        /// Whether the patch applies in `context` (Istio's `patchContextMatch`).
        func applies(in context: EnvoyFilter.PatchContext) -> Bool { self.context == .ANY || self.context == context }
    }

    /// Patches by the kind of object they target, in application order.
    let byApplyTo: [EnvoyFilter.ApplyTo: [Patch]]
    /// The context of gateway resources (`GATEWAY`) or nil for a sidecar, whose resources are inbound or outbound.
    let isGateway: Bool
    /// Problems with patches that apply to this proxy; each such patch is skipped.
    public let diagnostics: [EnvoyFilterDiagnostic]

    /// True when no patch applies to the proxy.
    public var isEmpty: Bool { byApplyTo.values.allSatisfy(\.isEmpty) }

    /// The patches of every EnvoyFilter in `snapshot` that selects `proxy`.
    /// - Parameters:
    ///   - snapshot: the mesh.
    ///   - proxy: the proxy whose configuration will be patched.
    public init(snapshot: MeshSnapshot, proxy: ProxyView) {
        isGateway = proxy.type == .router
        var patches: [EnvoyFilter.ApplyTo: [Patch]] = [:]
        var diagnostics: [EnvoyFilterDiagnostic] = []
        for filter in Self.selected(in: snapshot, for: proxy) {
            let (compiled, problems) = Self.compile(filter, proxy: proxy)
            for patch in compiled { patches[patch.applyTo, default: []].append(patch) }
            diagnostics += problems
        }
        self.byApplyTo = patches
        self.diagnostics = diagnostics
    }

    func patches(_ applyTo: EnvoyFilter.ApplyTo) -> [Patch] { byApplyTo[applyTo] ?? [] }

    /// The EnvoyFilters that select `proxy`, in the order their patches apply.
    public static func selected(in snapshot: MeshSnapshot, for proxy: ProxyView) -> [Resource<EnvoyFilter>] {
        var filters = snapshot.envoyFilters.policies(for: proxy.workload)
        if let gateway = proxy.labels["gateway.networking.k8s.io/gateway-name"] {
            filters += snapshot.envoyFilters.policies(targeting: "Gateway", name: gateway, namespace: proxy.namespace).filter { filter in
                filter.meta.namespace == proxy.namespace && filter.spec.targetReferences.contains {
                    $0.kind == "Gateway" && $0.name == gateway && ["", "gateway.networking.k8s.io"].contains($0.group ?? "")
                }
            }
        }
        return order(filters)
    }

    /// Istio's order: priority, then creation time, then `name.namespace`.
    static func order(_ filters: [Resource<EnvoyFilter>]) -> [Resource<EnvoyFilter>] {
        let formatter = ISO8601DateFormatter()
        func created(_ filter: Resource<EnvoyFilter>) -> Date {
            filter.meta.creationTimestamp.flatMap { formatter.date(from: $0) } ?? .distantPast
        }
        let keyed = filters.map { (filter: $0, priority: $0.spec.priority ?? 0, created: created($0), name: "\($0.meta.name).\($0.meta.namespace)") }
        return keyed.sorted { a, b in
            if a.priority != b.priority { return a.priority < b.priority }
            if a.created != b.created { return a.created < b.created }
            return a.name < b.name
        }.map(\.filter)
    }

    /// Problems with every EnvoyFilter in the snapshot, independent of any proxy (undecodable
    /// values, unsupported applyTo or operations, bad proxy version regexes).
    public static func diagnostics(in snapshot: MeshSnapshot) -> [EnvoyFilterDiagnostic] {
        order(snapshot.envoyFilters.all).flatMap { compile($0, proxy: nil).diagnostics }
    }

    /// The operations Istio implements for each applyTo.
    static let operations: [EnvoyFilter.ApplyTo: Set<EnvoyFilter.Patch.Operation>] = [
        .LISTENER: [.MERGE, .ADD, .REMOVE],
        .LISTENER_FILTER: [.ADD, .REMOVE, .INSERT_BEFORE, .INSERT_AFTER, .INSERT_FIRST, .REPLACE],
        .FILTER_CHAIN: [.MERGE, .ADD, .REMOVE],
        .NETWORK_FILTER: [.MERGE, .ADD, .REMOVE, .INSERT_BEFORE, .INSERT_AFTER, .INSERT_FIRST, .REPLACE],
        .HTTP_FILTER: [.MERGE, .ADD, .REMOVE, .INSERT_BEFORE, .INSERT_AFTER, .INSERT_FIRST, .REPLACE],
        .ROUTE_CONFIGURATION: [.MERGE],
        .VIRTUAL_HOST: [.MERGE, .ADD, .REMOVE, .REPLACE],
        .HTTP_ROUTE: [.MERGE, .ADD, .REMOVE, .INSERT_BEFORE, .INSERT_AFTER, .INSERT_FIRST],
        .CLUSTER: [.MERGE, .ADD, .REMOVE],
    ]

    /// Decodes one EnvoyFilter's patches; with a proxy, keeps only those whose `match.proxy` matches it.
    static func compile(_ filter: Resource<EnvoyFilter>, proxy: ProxyView?) -> (patches: [Patch], diagnostics: [EnvoyFilterDiagnostic]) {
        var patches: [Patch] = []
        var diagnostics: [EnvoyFilterDiagnostic] = []
        for (index, configPatch) in (filter.spec.configPatches ?? []).enumerated() {
            func problem(_ field: String, _ message: String) {
                diagnostics.append(EnvoyFilterDiagnostic(namespace: filter.meta.namespace, name: filter.meta.name, patchIndex: index, field: field, message: message))
            }
            let match = configPatch.match ?? EnvoyFilter.EnvoyConfigObjectMatch()
            let context = match.context ?? .ANY
            // Waypoint patches target ambient waypoints, which SwiftMesh does not run; Istio ignores them for sidecars and gateways.
            if context == .WAYPOINT { continue }
            guard let applyTo = configPatch.applyTo, applyTo != .INVALID else {
                problem("applyTo", "missing applyTo")
                continue
            }
            guard let allowed = operations[applyTo] else {
                problem("applyTo", "applyTo \(applyTo.rawValue) is not supported by SwiftMesh (it patches LISTENER, LISTENER_FILTER, FILTER_CHAIN, NETWORK_FILTER, HTTP_FILTER, ROUTE_CONFIGURATION, VIRTUAL_HOST, HTTP_ROUTE and CLUSTER)")
                continue
            }
            guard let operation = configPatch.patch?.operation, operation != .INVALID else {
                problem("patch.operation", "missing operation")
                continue
            }
            guard allowed.contains(operation) else {
                problem("patch.operation", "operation \(operation.rawValue) does not apply to \(applyTo.rawValue) (valid: \(allowed.map(\.rawValue).sorted().joined(separator: ", ")))")
                continue
            }
            if let filterClass = configPatch.patch?.filterClass, filterClass != .UNSPECIFIED {
                problem("patch.filterClass", "filterClass \(filterClass.rawValue) is not supported by SwiftMesh; use INSERT_BEFORE or INSERT_AFTER with a subFilter match")
                continue
            }
            if let version = match.proxy?.proxyVersion, !version.isEmpty, (try? Regex(version)) == nil {
                problem("match.proxy.proxyVersion", "invalid regular expression \"\(version)\"")
                continue
            }
            var value: (any SwiftProtobuf.Message)?
            if operation != .REMOVE {
                guard let json = configPatch.patch?.value else {
                    problem("patch.value", "missing value for \(operation.rawValue)")
                    continue
                }
                do {
                    value = try decode(json, for: applyTo)
                } catch {
                    problem(error.field, error.message)
                    continue
                }
            }
            if let proxy, !proxyMatches(match.proxy, proxy) { continue }
            patches.append(Patch(
                namespace: filter.meta.namespace, name: filter.meta.name, index: index, applyTo: applyTo,
                operation: operation, context: context, match: match, decoded: value))
        }
        return (patches, diagnostics)
    }

    private static func decode(_ json: JSONValue, for applyTo: EnvoyFilter.ApplyTo) throws(PatchValueError) -> any SwiftProtobuf.Message {
        switch applyTo {
        case .LISTENER: try PatchValueDecoder.decode(json, as: Envoy_Config_Listener_V3_Listener.self)
        case .LISTENER_FILTER: try PatchValueDecoder.decode(json, as: Envoy_Config_Listener_V3_ListenerFilter.self)
        case .FILTER_CHAIN: try PatchValueDecoder.decode(json, as: Envoy_Config_Listener_V3_FilterChain.self)
        case .NETWORK_FILTER: try PatchValueDecoder.decode(json, as: Envoy_Config_Listener_V3_Filter.self)
        case .HTTP_FILTER: try PatchValueDecoder.decode(json, as: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter.self)
        case .ROUTE_CONFIGURATION: try PatchValueDecoder.decode(json, as: Envoy_Config_Route_V3_RouteConfiguration.self)
        case .VIRTUAL_HOST: try PatchValueDecoder.decode(json, as: Envoy_Config_Route_V3_VirtualHost.self)
        case .HTTP_ROUTE: try PatchValueDecoder.decode(json, as: Envoy_Config_Route_V3_Route.self)
        case .CLUSTER: try PatchValueDecoder.decode(json, as: Envoy_Config_Cluster_V3_Cluster.self)
        case .INVALID, .EXTENSION_CONFIG, .BOOTSTRAP:
            throw PatchValueError(field: "applyTo", message: "applyTo \(applyTo.rawValue) is not supported")
        }
    }

    /// Istio's `proxyMatch`: the version regex must find a match in the proxy's `ISTIO_VERSION`
    /// (a proxy without one does not match), and every metadata entry must equal the node's.
    static func proxyMatches(_ match: EnvoyFilter.ProxyMatch?, _ proxy: ProxyView) -> Bool {
        guard let match else { return true }
        if let pattern = match.proxyVersion, !pattern.isEmpty {
            guard let version = proxy.istioVersion, let regex = try? Regex(pattern), version.contains(regex) else { return false }
        }
        for (key, value) in match.metadata ?? [:] where proxy.metadata[key] != value { return false }
        return true
    }
}
