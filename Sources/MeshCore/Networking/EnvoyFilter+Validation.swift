extension EnvoyFilter {
    /// Filter names Envoy no longer accepts, mapped to their canonical replacements (Istio's `DeprecatedFilterNames`).
    static let deprecatedFilterNames: [String: String] = [
        "envoy.buffer": "envoy.filters.http.buffer",
        "envoy.cors": "envoy.filters.http.cors",
        "envoy.csrf": "envoy.filters.http.csrf",
        "envoy.http_dynamo_filter": "envoy.filters.http.dynamo",
        "envoy.fault": "envoy.filters.http.fault",
        "envoy.grpc_http1_bridge": "envoy.filters.http.grpc_http1_bridge",
        "envoy.grpc_json_transcoder": "envoy.filters.http.grpc_json_transcoder",
        "envoy.grpc_web": "envoy.filters.http.grpc_web",
        "envoy.gzip": "envoy.filters.http.gzip",
        "envoy.health_check": "envoy.filters.http.health_check",
        "envoy.ip_tagging": "envoy.filters.http.ip_tagging",
        "envoy.lua": "envoy.filters.http.lua",
        "envoy.rate_limit": "envoy.filters.http.ratelimit",
        "envoy.router": "envoy.filters.http.router",
        "envoy.squash": "envoy.filters.http.squash",
        "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
        "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
        "envoy.listener.original_src": "envoy.filters.listener.original_src",
        "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
        "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
        "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth",
        // Istio maps this one to both the HTTP and the network filter; which one depends on where it is used.
        "envoy.ext_authz": "envoy.filters.http.ext_authz or envoy.filters.network.ext_authz",
        "envoy.http_connection_manager": "envoy.filters.network.http_connection_manager",
        "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy",
        "envoy.ratelimit": "envoy.filters.network.ratelimit",
        "envoy.redis_proxy": "envoy.filters.network.redis_proxy",
        "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
    ]

    static let httpConnectionManagerNames: Set<String> = ["envoy.filters.network.http_connection_manager", "envoy.http_connection_manager"]

    /// Longest `proxyVersion` regex Istio compiles; longer ones are ignored with a warning.
    static let maxProxyVersionLength = 1024

    /// Applies Istio's `ValidateEnvoyFilter` rules and the EnvoyFilter CRD schema.
    ///
    /// Every EnvoyFilter gets a warning that it depends on Envoy internals. The patch value is checked
    /// structurally (a JSON object, v3 type URLs, `typed_config` present on named filters); MeshCore does
    /// not carry Envoy's protos, so unknown Envoy fields are not reported.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = ValidationResult()
        result.warning(spec, "EnvoyFilter exposes internal implementation details that may change at any time. Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.")
        result.merge(Validators.networkingWorkloadSelector(workloadSelector, at: spec / "workloadSelector", kindName: "Envoy filter"))
        if workloadSelector != nil, targetRefs != nil {
            result.error(spec, "only one of targetRefs or workloadSelector can be set")
        }
        result.merge(Self.validateTargetRefs(targetRefs, at: spec / "targetRefs"))
        for (i, patch) in (configPatches ?? []).enumerated() {
            result.merge(Self.validatePatch(patch, at: (spec / "configPatches")[i]))
        }
        return result
    }

    /// CRD schema rules for `targetRefs`: at most 16, kind and name required, same namespace only.
    private static func validateTargetRefs(_ refs: [PolicyTargetReference]?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let refs else { return result }
        if refs.count > 16 {
            result.error(path, "too many targetRefs: \(refs.count) (at most 16)")
        }
        for (i, ref) in refs.enumerated() {
            let refPath = path[i]
            if let group = ref.group, !group.isEmpty, !Validators.isDNS1123Subdomain(group) {
                result.error(refPath / "group", "invalid group \"\(group)\": must be empty or a lowercase DNS subdomain")
            }
            let kind = ref.kind ?? ""
            if kind.isEmpty {
                result.error(refPath / "kind", "kind is required")
            } else if kind.count > 63 || !(kind.first!.isASCII && kind.first!.isLetter) || !Validators.isDNS1123Label(kind, allowUpper: true) {
                result.error(refPath / "kind", "invalid kind \"\(kind)\": must start with a letter and hold only letters, digits and '-'")
            }
            let name = ref.name ?? ""
            if name.isEmpty {
                result.error(refPath / "name", "name is required")
            } else if name.count > 253 {
                result.error(refPath / "name", "name must be at most 253 characters")
            }
            if let ns = ref.namespace, !ns.isEmpty {
                result.error(refPath / "namespace", "cross namespace referencing is not currently supported")
            }
        }
        return result
    }

    private static func validatePatch(_ cp: EnvoyConfigObjectPatch, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let match = cp.match
        let matchPath = path / "match"

        // CRD schema: object_types is a oneof, and waypoint matches go with the WAYPOINT context only.
        if let match {
            let set = [match.listener != nil, match.routeConfiguration != nil, match.cluster != nil, match.waypoint != nil].filter { $0 }.count
            if set > 1 {
                result.error(matchPath, "only one of listener, routeConfiguration, cluster or waypoint may be set")
            }
            if (match.context == .WAYPOINT) != (match.waypoint != nil) {
                result.error(matchPath, "only support waypointMatch when context is WAYPOINT")
            }
            if let port = match.waypoint?.portNumber, !(1...65535).contains(port) {
                result.error(matchPath / "waypoint" / "portNumber", "port must be between 1-65535")
            }
            // Istio does not validate waypoint patches further yet.
            if match.context == .WAYPOINT { return result }
        }

        guard let applyTo = cp.applyTo, applyTo != .INVALID else {
            result.error(path / "applyTo", "Envoy filter: missing applyTo")
            return result
        }
        guard let patch = cp.patch else {
            result.error(path / "patch", "Envoy filter: missing patch")
            return result
        }
        guard let operation = patch.operation, operation != .INVALID else {
            result.error(path / "patch" / "operation", "Envoy filter: missing patch operation")
            return result
        }
        if operation != .REMOVE, patch.value == nil {
            result.error(path / "patch" / "value", "Envoy filter: missing patch value for non-remove operation")
            return result
        }

        if let version = match?.proxy?.proxyVersion, !version.isEmpty {
            let versionPath = matchPath / "proxy" / "proxyVersion"
            if version.count > maxProxyVersionLength {
                result.warning(versionPath, "Envoy filter: proxyVersion match exceeds \(maxProxyVersionLength) characters and will be ignored")
            } else if let problem = Validators.regexProblem(version) {
                result.error(versionPath, "Envoy filter: invalid regex for proxy version: \(problem)")
                return result
            }
        }

        // applyTo, match and patch must line up.
        switch applyTo {
        case .LISTENER, .FILTER_CHAIN, .NETWORK_FILTER, .HTTP_FILTER:
            guard let match, match.hasObjectType else { break }
            guard let listener = match.listener else {
                result.error(matchPath, "Envoy filter: applyTo for listener class objects cannot have non listener match")
                return result
            }
            guard let filter = listener.filterChain?.filter else { break }
            let filterPath = matchPath / "listener" / "filterChain" / "filter"
            if applyTo == .LISTENER || applyTo == .FILTER_CHAIN {
                result.warning(filterPath, "Envoy filter: filter match has no effect when used with \(applyTo.rawValue)")
            }
            let filterName = filter.name ?? ""
            if filterName.isEmpty {
                result.error(filterPath / "name", "Envoy filter: filter match has no name to match on")
                return result
            }
            if let subFilter = filter.subFilter {
                if applyTo != .HTTP_FILTER {
                    result.error(filterPath / "subFilter", "Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only")
                    return result
                }
                if !httpConnectionManagerNames.contains(filterName) {
                    result.error(filterPath / "subFilter", "Envoy filter: subfilter match requires filter match with envoy.filters.network.http_connection_manager")
                    return result
                }
                if (subFilter.name ?? "").isEmpty {
                    result.error(filterPath / "subFilter" / "name", "Envoy filter: subfilter match has no name to match on")
                    return result
                }
            }
            if let replacement = deprecatedFilterNames[filterName] {
                result.warning(filterPath / "name", "using deprecated filter name \"\(filterName)\"; use \"\(replacement)\" instead")
            }
            if let subName = filter.subFilter?.name, let replacement = deprecatedFilterNames[subName] {
                result.warning(filterPath / "subFilter" / "name", "using deprecated filter name \"\(subName)\"; use \"\(replacement)\" instead")
            }
        case .ROUTE_CONFIGURATION, .VIRTUAL_HOST, .HTTP_ROUTE:
            if let match, match.hasObjectType, match.routeConfiguration == nil {
                result.error(matchPath, "Envoy filter: applyTo for http route class objects cannot have non route configuration match")
            }
        case .CLUSTER:
            if let match, match.hasObjectType, match.cluster == nil {
                result.error(matchPath, "Envoy filter: applyTo for cluster class objects cannot have non cluster match")
            }
        default:
            break
        }

        if let value = patch.value {
            result.merge(validateValue(value, applyTo: applyTo, at: path / "patch" / "value"))
        }
        return result
    }

    /// Structural checks standing in for Istio's conversion of the value into the Envoy proto for `applyTo`.
    private static func validateValue(_ value: JSONValue, applyTo: ApplyTo, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard case .object(let object) = value else {
            result.error(path, "Envoy filter: patch value must be an object (the Envoy configuration for \(applyTo.rawValue))")
            return result
        }
        var v2Types: [String] = []
        collectTypeURLs(value) { url in
            if url.contains(".v2.") || url.contains(".v2alpha.") { v2Types.append(url) }
        }
        if !v2Types.isEmpty {
            result.error(path, "Envoy filter: referenced type unknown (hint: try using the v3 XDS API): \(v2Types.joined(separator: ", "))")
            return result
        }
        // Filters selected by name alone (no typed_config) rely on a deprecated Envoy lookup.
        var missing: [String] = []
        func check(_ filter: JSONValue?) {
            guard case .object(let f)? = filter else { return }
            let hasTyped = ["typed_config", "typedConfig", "config_discovery", "configDiscovery"].contains { f[$0] != nil }
            if !hasTyped, case .string(let name)? = f["name"] { missing.append(name) }
        }
        func checkList(_ list: JSONValue?) {
            if case .array(let items)? = list { items.forEach(check) }
        }
        func checkFilterChain(_ chain: JSONValue?) { checkList(chain?["filters"]) }
        switch applyTo {
        case .HTTP_FILTER, .NETWORK_FILTER, .LISTENER_FILTER:
            check(value)
        case .FILTER_CHAIN:
            checkFilterChain(value)
        case .LISTENER:
            checkList(object["listener_filters"] ?? object["listenerFilters"])
            if case .array(let chains)? = object["filter_chains"] ?? object["filterChains"] { chains.forEach(checkFilterChain) }
        default:
            break
        }
        if !missing.isEmpty {
            result.warning(path, "using deprecated types by name without typed_config; \(missing.joined(separator: ", "))")
        }
        return result
    }

    private static func collectTypeURLs(_ value: JSONValue, _ found: (String) -> Void) {
        switch value {
        case .object(let object):
            for (key, child) in object {
                if key == "@type", case .string(let url) = child { found(url) }
                collectTypeURLs(child, found)
            }
        case .array(let items):
            for item in items { collectTypeURLs(item, found) }
        default:
            break
        }
    }
}
