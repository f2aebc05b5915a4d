public import MeshCore

/// An HTTP rule together with the VirtualService it came from (for metadata and tracing names).
public struct SourcedHTTPRoute: Sendable {
    /// The rule, with destination hosts already resolved to full names.
    public var route: VirtualService.HTTPRoute
    /// The VirtualService that holds the rule (for a delegated rule, the root one).
    public var origin: Resource<VirtualService>

    public init(route: VirtualService.HTTPRoute, origin: Resource<VirtualService>) {
        self.route = route
        self.origin = origin
    }
}

/// Istio's VirtualService merging: several VirtualServices for one host become one ordered rule
/// list, and rules that `delegate` are replaced by the delegate's rules, each restricted to the
/// intersection of the root's and the delegate's matches (`mergeVirtualServicesIfNeeded`).
public enum VirtualServiceMerger {
    /// Finds a delegate VirtualService by name and namespace for a root in `owner`'s namespace.
    public typealias DelegateLookup = @Sendable (_ name: String, _ namespace: String?, _ owner: String) -> Resource<VirtualService>?

    /// The HTTP rules of `virtualServices` in creation order (then namespace and name), with
    /// delegates expanded and short destination hosts resolved in the namespace that wrote them.
    ///
    /// A delegate must export itself to the root's namespace; a delegated rule whose matches
    /// cannot be intersected with the root's (for example a child prefix outside the root's
    /// prefix) is dropped, as are rules that delegate to a missing VirtualService. Delegation is
    /// one level deep: a delegate's own `delegate` rules are ignored.
    /// - Parameters:
    ///   - virtualServices: the VirtualServices for one host.
    ///   - domainSuffix: the DNS suffix for short names.
    ///   - delegates: looks up delegate VirtualServices.
    ///   - defaultExportTo: the mesh's default `exportTo` for VirtualServices.
    public static func httpRoutes(
        _ virtualServices: [Resource<VirtualService>], domainSuffix: String, delegates: DelegateLookup,
        defaultExportTo: [String]? = nil
    ) -> [SourcedHTTPRoute] {
        var out: [SourcedHTTPRoute] = []
        for vs in creationOrder(virtualServices) {
            for rule in vs.spec.http ?? [] {
                guard let reference = rule.delegate else {
                    out.append(SourcedHTTPRoute(route: resolved(rule, namespace: vs.meta.namespace, domainSuffix: domainSuffix), origin: vs))
                    continue
                }
                guard let name = reference.name,
                      let child = delegates(name, reference.namespace, vs.meta.namespace),
                      ExportScope(exportTo: child.spec.exportTo, defaults: defaultExportTo)
                        .isVisible(from: vs.meta.namespace, owner: child.meta.namespace)
                else { continue }
                for childRule in child.spec.http ?? [] where childRule.delegate == nil {
                    let childResolved = resolved(childRule, namespace: child.meta.namespace, domainSuffix: domainSuffix)
                    if let merged = merge(root: rule, delegate: childResolved) {
                        out.append(SourcedHTTPRoute(route: merged, origin: vs))
                    }
                }
            }
        }
        return out
    }

    /// Istio's ordering of configs of one kind: oldest first, then by namespace and name.
    public static func creationOrder(_ virtualServices: [Resource<VirtualService>]) -> [Resource<VirtualService>] {
        virtualServices.sorted {
            let a = $0.meta.creationTimestamp ?? "", b = $1.meta.creationTimestamp ?? ""
            if a != b { return a < b }
            return ($0.meta.namespace, $0.meta.name) < ($1.meta.namespace, $1.meta.name)
        }
    }

    /// The rule with route, mirror and mirrors hosts made full names in `namespace`.
    static func resolved(_ rule: VirtualService.HTTPRoute, namespace: String, domainSuffix: String) -> VirtualService.HTTPRoute {
        var rule = rule
        func fix(_ destination: inout Destination?) {
            if let host = destination?.host { destination?.host = HostName.resolve(host, namespace: namespace, domainSuffix: domainSuffix) }
        }
        if var routes = rule.route {
            for i in routes.indices { fix(&routes[i].destination) }
            rule.route = routes
        }
        fix(&rule.mirror)
        if var mirrors = rule.mirrors {
            for i in mirrors.indices { fix(&mirrors[i].destination) }
            rule.mirrors = mirrors
        }
        return rule
    }

    /// Istio's `mergeHTTPRoute`: the delegate rule with the intersected matches and the root's
    /// settings where the delegate has none; nil when the matches conflict.
    public static func merge(root: VirtualService.HTTPRoute, delegate: VirtualService.HTTPRoute) -> VirtualService.HTTPRoute? {
        guard let matches = mergeMatches(root: root.match ?? [], delegate: delegate.match ?? []) else { return nil }
        var out = delegate
        out.delegate = nil
        out.match = matches.isEmpty ? nil : matches
        out.name = joinedName(root.name, delegate.name)
        out.rewrite = out.rewrite ?? root.rewrite
        out.directResponse = out.directResponse ?? root.directResponse
        out.timeout = out.timeout ?? root.timeout
        out.retries = out.retries ?? root.retries
        out.fault = out.fault ?? root.fault
        out.mirror = out.mirror ?? root.mirror
        out.mirrorPercent = out.mirrorPercent ?? root.mirrorPercent
        out.mirrorPercentage = out.mirrorPercentage ?? root.mirrorPercentage
        out.corsPolicy = out.corsPolicy ?? root.corsPolicy
        out.mirrors = out.mirrors ?? root.mirrors
        out.headers = out.headers ?? root.headers
        return out
    }

    private static func joinedName(_ root: String?, _ child: String?) -> String? {
        guard let child, !child.isEmpty else { return root }
        guard let root, !root.isEmpty else { return child }
        return "\(root)-\(child)"
    }

    /// Istio's `mergeHTTPMatchRequests`: every delegate match combined with each root match it
    /// does not conflict with; nil (conflict) when some delegate match fits no root match.
    static func mergeMatches(
        root: [VirtualService.HTTPMatchRequest], delegate: [VirtualService.HTTPMatchRequest]
    ) -> [VirtualService.HTTPMatchRequest]? {
        if root.isEmpty { return delegate }
        if delegate.isEmpty { return root }
        var out: [VirtualService.HTTPMatchRequest] = []
        for child in delegate {
            var found = false
            for parent in root where !conflicts(parent, child) {
                out.append(mergeMatch(root: parent, delegate: child))
                found = true
            }
            if !found { return nil }
        }
        return out.isEmpty ? nil : out
    }

    /// Istio's `mergeHTTPMatchRequest`: the delegate's conditions, with the root's where it has none.
    static func mergeMatch(root: VirtualService.HTTPMatchRequest, delegate: VirtualService.HTTPMatchRequest) -> VirtualService.HTTPMatchRequest {
        var out = delegate
        out.name = joinedName(root.name, delegate.name)
        out.uri = out.uri ?? root.uri
        out.scheme = out.scheme ?? root.scheme
        out.method = out.method ?? root.method
        out.authority = out.authority ?? root.authority
        func union<V>(_ a: [String: V]?, _ b: [String: V]?) -> [String: V]? {
            if (a ?? [:]).isEmpty && (b ?? [:]).isEmpty { return b ?? a }
            return (a ?? [:]).merging(b ?? [:]) { _, child in child }
        }
        out.headers = union(root.headers, delegate.headers)
        out.withoutHeaders = union(root.withoutHeaders, delegate.withoutHeaders)
        out.queryParams = union(root.queryParams, delegate.queryParams)
        out.sourceLabels = union(root.sourceLabels, delegate.sourceLabels)
        if (out.port ?? 0) == 0 { out.port = root.port }
        if (out.sourceNamespace ?? "").isEmpty { out.sourceNamespace = root.sourceNamespace }
        if (out.gateways ?? []).isEmpty { out.gateways = root.gateways }
        if (out.statPrefix ?? "").isEmpty { out.statPrefix = root.statPrefix }
        return out
    }

    /// Istio's `hasConflict`: true when no request can satisfy both a root and a delegate match.
    static func conflicts(_ root: VirtualService.HTTPMatchRequest, _ leaf: VirtualService.HTTPMatchRequest) -> Bool {
        if stringConflict(root.uri, leaf.uri) || stringConflict(root.scheme, leaf.scheme)
            || stringConflict(root.method, leaf.method) || stringConflict(root.authority, leaf.authority) {
            return true
        }
        for (key, value) in leaf.headers ?? [:] where stringConflict(root.headers?[key], value) { return true }
        for (key, value) in leaf.withoutHeaders ?? [:] where stringConflict(root.withoutHeaders?[key], value) { return true }
        for (key, value) in leaf.queryParams ?? [:] where stringConflict(root.queryParams?[key], value) { return true }
        if (root.ignoreUriCase ?? false) != (leaf.ignoreUriCase ?? false) { return true }
        if let a = root.port, let b = leaf.port, a > 0, b > 0, a != b { return true }
        if let ns = root.sourceNamespace, !ns.isEmpty, leaf.sourceNamespace != ns { return true }
        for (key, value) in leaf.sourceLabels ?? [:] {
            if let rootValue = root.sourceLabels?[key], rootValue != value { return true }
        }
        let rootGateways = root.gateways ?? [], leafGateways = leaf.gateways ?? []
        if !rootGateways.isEmpty && !leafGateways.isEmpty {
            if rootGateways.count < leafGateways.count { return true }
            let allowed = Set(rootGateways)
            if leafGateways.contains(where: { !allowed.contains($0) }) { return true }
        }
        return false
    }

    /// Istio's `stringMatchConflict`: a delegate condition must narrow the root's.
    static func stringConflict(_ root: StringMatch?, _ leaf: StringMatch?) -> Bool {
        guard let root, let leaf else { return false }
        let rootRegex = !(root.regex ?? "").isEmpty, leafRegex = !(leaf.regex ?? "").isEmpty
        let rootAny = rootRegex || !(root.prefix ?? "").isEmpty || !(root.exact ?? "").isEmpty
        let leafAny = leafRegex || !(leaf.prefix ?? "").isEmpty || !(leaf.exact ?? "").isEmpty
        if rootRegex && leafAny { return true }
        if leafRegex && rootAny { return true }
        if let exact = root.exact, !exact.isEmpty {
            if !(leaf.prefix ?? "").isEmpty { return true }
            return leaf.exact != exact
        }
        if let prefix = root.prefix, !prefix.isEmpty {
            if let leafPrefix = leaf.prefix, !leafPrefix.isEmpty { return !leafPrefix.hasPrefix(prefix) }
            if let leafExact = leaf.exact, !leafExact.isEmpty { return !leafExact.hasPrefix(prefix) }
        }
        return true
    }
}
