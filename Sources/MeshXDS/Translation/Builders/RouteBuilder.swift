public import MeshCore

/// Builds HTTP route configurations the way Istio's sidecar RDS does: one virtual host per
/// service port (`host:port`), the VirtualService's routes or a default route to the service's
/// cluster, and a catch-all virtual host for unknown authorities.
public struct RouteBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    /// Resolves a route destination's host (as written, in the VirtualService's namespace) to a service.
    public typealias ServiceLookup = @Sendable (_ host: String, _ namespace: String) -> MeshService?
    /// Finds the DestinationRule for a service, to learn whether it hashes consistently.
    public typealias RuleLookup = @Sendable (_ service: MeshService) -> DestinationRuleIndex.Merged?

    /// An outbound route configuration: the virtual hosts sorted by name, then the catch-all.
    ///
    /// Ports are ignored in host matching, as in Istio, unless the virtual hosts carry them.
    /// - Parameters:
    ///   - name: the RDS name (the port, e.g. `9080`).
    ///   - virtualHosts: the service virtual hosts.
    ///   - catchAllCluster: `PassthroughCluster` (an `allow_any` host) or `BlackHoleCluster` (`block_all`, 502).
    public func outboundRouteConfiguration(
        name: String, virtualHosts: [Envoy_Config_Route_V3_VirtualHost], catchAllCluster: String
    ) -> Envoy_Config_Route_V3_RouteConfiguration {
        .with {
            $0.name = name
            $0.virtualHosts = virtualHosts.sorted { $0.name < $1.name } + [catchAllVirtualHost(cluster: catchAllCluster)]
            $0.validateClusters = .init(false)
            $0.maxDirectResponseBodySizeBytes = .init(1_048_576)
            // HTTP_PROXY virtual hosts match `host:port`; everything else matches the host alone.
            $0.ignorePortInHostMatching = !virtualHosts.contains { vh in
                vh.domains.contains { !$0.hasPrefix("[") && $0.contains(":") }
            }
        }
    }

    /// The virtual host for one service port, named `host:port`.
    /// - Parameters:
    ///   - service: the service.
    ///   - port: the service port.
    ///   - proxy: the proxy the routes are for (its DNS domain gives short names; its labels and
    ///     namespace select `sourceLabels`/`sourceNamespace` matches).
    ///   - virtualService: the VirtualService for the host, if any.
    ///   - includePort: add `:port` forms to the domains (HTTP_PROXY listeners).
    ///   - services: looks up route destinations.
    ///   - rules: looks up DestinationRules.
    public func virtualHost(
        service: MeshService, port: ServicePortInfo, proxy: ProxyView, virtualService: Resource<VirtualService>?,
        includePort: Bool, services: ServiceLookup, rules: RuleLookup
    ) -> Envoy_Config_Route_V3_VirtualHost {
        var routes: [Envoy_Config_Route_V3_Route]
        if let virtualService {
            routes = self.routes(virtualService, port: port.port, proxy: proxy, services: services, rules: rules)
        } else {
            let hashPolicy = rules(service)?.trafficPolicy?.loadBalancer?.consistentHash != nil
            routes = [defaultRoute(cluster: ClusterName.outbound(port: port.port, host: service.hostname),
                                   operation: "\(service.hostname):\(port.port)/*", hashPolicy: hashPolicy)]
            if let hash = HashPolicyConverter.forService(rule: rules(service), port: port.port) { routes[0].route.hashPolicy = [hash] }
        }
        return .with {
            $0.name = "\(service.hostname):\(port.port)"
            $0.domains = VirtualHostDomains.domains(
                host: service.hostname, port: includePort ? port.port : nil, proxyDomain: proxy.dnsDomain,
                addresses: service.addresses)
            if includePort && port.port != 80 { $0.domains = $0.domains.filter { $0.contains(":") } }
            $0.routes = routes
            $0.includeRequestAttemptCount = true
        }
    }

    /// Istio's default outbound route: every path to `cluster`, no timeout, the default retries.
    /// - Parameters:
    ///   - cluster: the destination cluster.
    ///   - operation: the tracing operation name (`host:port/*`).
    ///   - hashPolicy: true when the destination hashes consistently (no previous-hosts predicate).
    public func defaultRoute(cluster: String, operation: String, hashPolicy: Bool = false) -> Envoy_Config_Route_V3_Route {
        .with {
            $0.name = "default"
            $0.match = RouteMatchConverter.convert(nil)
            $0.decorator = .with { $0.operation = operation }
            $0.route = .with { action in
                action.cluster = cluster
                RouteTimeoutConverter.apply(nil, to: &action)
                if let retry = RetryPolicyConverter.convert(options.defaultRetryPolicy, hashPolicy: hashPolicy) {
                    action.retryPolicy = retry
                }
            }
        }
    }

    /// The routes of a VirtualService's `http` section for traffic on `port`.
    ///
    /// Each match of a rule becomes a route (a rule without matches becomes one catch-all route);
    /// matches for another port, other source labels or namespaces, or only other gateways are
    /// left out; routes after a catch-all are unreachable and dropped, as in Istio.
    public func routes(
        _ virtualService: Resource<VirtualService>, port: UInt32, proxy: ProxyView,
        services: ServiceLookup, rules: RuleLookup
    ) -> [Envoy_Config_Route_V3_Route] {
        var out: [Envoy_Config_Route_V3_Route] = []
        let namespace = virtualService.meta.namespace
        for rule in virtualService.spec.http ?? [] {
            let matches: [VirtualService.HTTPMatchRequest?] = (rule.match ?? []).isEmpty ? [nil] : (rule.match ?? []).map { $0 }
            var sawCatchAll = false
            for match in matches {
                if let match, !applies(match, port: port, proxy: proxy) { continue }
                out.append(route(rule, match: match, port: port, virtualService: virtualService,
                                 namespace: namespace, services: services, rules: rules))
                if Self.isCatchAll(match) { sawCatchAll = true; break }
            }
            if sawCatchAll { break }
        }
        return out
    }

    private func applies(_ match: VirtualService.HTTPMatchRequest, port: UInt32, proxy: ProxyView) -> Bool {
        if let p = match.port, p != port { return false }
        if let gateways = match.gateways, !gateways.isEmpty, !gateways.contains("mesh") { return false }
        if let ns = match.sourceNamespace, ns != proxy.namespace { return false }
        if let labels = match.sourceLabels, !labels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { return false }
        return true
    }

    /// True when a match has no condition that can fail (Istio's isCatchAllMatch).
    static func isCatchAll(_ match: VirtualService.HTTPMatchRequest?) -> Bool {
        guard let match else { return true }
        let uriCatchAll = match.uri == nil || match.uri?.prefix == "/" || match.uri?.regex == "*" || match.uri?.regex == ".*"
        return uriCatchAll && (match.headers ?? [:]).isEmpty && (match.withoutHeaders ?? [:]).isEmpty
            && (match.queryParams ?? [:]).isEmpty && match.method == nil && match.scheme == nil
            && match.authority == nil && match.port == nil && match.sourceLabels == nil && match.sourceNamespace == nil
    }

    private func route(
        _ rule: VirtualService.HTTPRoute, match: VirtualService.HTTPMatchRequest?, port: UInt32,
        virtualService: Resource<VirtualService>, namespace: String, services: ServiceLookup, rules: RuleLookup
    ) -> Envoy_Config_Route_V3_Route {
        var out = Envoy_Config_Route_V3_Route()
        var name = rule.name ?? ""
        if let matchName = match?.name, !matchName.isEmpty { name = name.isEmpty ? matchName : "\(name).\(matchName)" }
        out.name = name
        out.match = RouteMatchConverter.convert(match)
        out.metadata = Proto.configMetadata(kind: "virtual-service", namespace: namespace, name: virtualService.meta.name)

        if let direct = rule.directResponse {
            out.directResponse = .with {
                $0.status = direct.status ?? 200
                if let text = direct.body?.string { $0.body = .with { $0.inlineString = text } }
                if let bytes = direct.body?.bytes { $0.body = .with { $0.inlineBytes = bytes.data } }
            }
        } else if let redirect = rule.redirect {
            out.redirect = .with {
                if let uri = redirect.uri { $0.pathRedirect = uri }
                if let prefix = redirect.prefixRewrite { $0.prefixRewrite = prefix }
                if let authority = redirect.authority { $0.hostRedirect = authority }
                if let port = redirect.port { $0.portRedirect = port }
                if let scheme = redirect.scheme { $0.schemeRedirect = scheme }
                switch redirect.redirectCode ?? 301 {
                case 302: $0.responseCode = .found
                case 303: $0.responseCode = .seeOther
                case 307: $0.responseCode = .temporaryRedirect
                case 308: $0.responseCode = .permanentRedirect
                default: $0.responseCode = .movedPermanently
                }
            }
        } else {
            var action = Envoy_Config_Route_V3_RouteAction()
            let destinations = (rule.route ?? []).filter { ($0.weight ?? 0) != 0 || (rule.route ?? []).count == 1 }
            var hashPolicy = false
            var hashPolicies: [HashPolicyConverter.HashPolicy] = []
            func clusterName(_ destination: Destination?) -> String {
                let host = destination?.host ?? ""
                let service = services(host, namespace)
                if let hash = HashPolicyConverter.forDestination(rule: service.flatMap(rules), subset: destination?.subset, port: destination?.port?.number) { hashPolicies.append(hash) }
                if let service, rules(service)?.trafficPolicy?.loadBalancer?.consistentHash != nil { hashPolicy = true }
                let resolved = service?.hostname ?? HostName.resolve(host, namespace: namespace, domainSuffix: options.domainSuffix)
                var destinationPort = port
                if let number = destination?.port?.number {
                    destinationPort = number
                } else if let service, service.ports.count == 1 {
                    destinationPort = service.ports[0].port
                }
                return ClusterName.outbound(port: destinationPort, subset: destination?.subset, host: resolved)
            }
            if destinations.count == 1 {
                action.cluster = clusterName(destinations[0].destination)
            } else {
                action.weightedClusters = .with {
                    $0.clusters = destinations.map { destination in
                        .with {
                            $0.name = clusterName(destination.destination)
                            $0.weight = .init(UInt32(max(destination.weight ?? 0, 0)))
                        }
                    }
                }
            }
            if let uri = rule.rewrite?.uri {
                if match?.uri?.prefix != nil { action.prefixRewrite = uri } else {
                    action.regexRewrite = .with { $0.pattern = .with { $0.regex = ".*" }; $0.substitution = uri }
                }
            }
            if let authority = rule.rewrite?.authority { action.hostRewriteLiteral = authority }
            action.hashPolicy = hashPolicies
            RouteTimeoutConverter.apply(rule.timeout, to: &action)
            if let retry = RetryPolicyConverter.convert(rule.retries ?? options.defaultRetryPolicy, hashPolicy: hashPolicy) {
                action.retryPolicy = retry
            }
            out.route = action
            out.decorator = .with { $0.operation = Self.operation(out, virtualService: virtualService.meta.name, port: port) }
        }
        return out
    }

    /// Istio's getRouteOperation: `host:port/path` for a single cluster, else `vs-name:port/path`.
    static func operation(_ route: Envoy_Config_Route_V3_Route, virtualService: String, port: UInt32) -> String {
        var path = "/*"
        switch route.match.pathSpecifier {
        case .prefix(let prefix)?: path = prefix + "*"
        case .path(let exact)?: path = exact
        case .safeRegex(let regex)?: path = regex.regex
        default: break
        }
        if case .cluster(let cluster)? = route.route.clusterSpecifier, let parts = ClusterName.parse(cluster) {
            return "\(parts.host):\(port)\(path)"
        }
        return "\(virtualService):\(port)\(path)"
    }

    /// Istio's catch-all virtual host: `allow_any` to PassthroughCluster, else `block_all` answering 502.
    public func catchAllVirtualHost(cluster: String) -> Envoy_Config_Route_V3_VirtualHost {
        let allow = cluster == ClusterName.passthrough
        return .with {
            $0.name = allow ? "allow_any" : "block_all"
            $0.domains = ["*"]
            $0.includeRequestAttemptCount = true
            $0.routes = [.with {
                $0.name = allow ? "allow_any" : "block_all"
                $0.match = RouteMatchConverter.convert(nil)
                if allow {
                    $0.route = .with { action in
                        action.cluster = cluster
                        RouteTimeoutConverter.apply(nil, to: &action)
                    }
                } else {
                    $0.directResponse = .with { $0.status = 502 }
                }
            }]
        }
    }

    /// The inline route configuration of an inbound HTTP listener: every request to `inbound|PORT||`.
    public func inboundRouteConfiguration(port: UInt32) -> Envoy_Config_Route_V3_RouteConfiguration {
        let cluster = ClusterName.inbound(port: port)
        return .with {
            $0.name = cluster
            $0.validateClusters = .init(false)
            $0.virtualHosts = [.with {
                $0.name = "inbound|http|\(port)"
                $0.domains = ["*"]
                $0.routes = [.with {
                    $0.name = "default"
                    $0.match = RouteMatchConverter.convert(nil)
                    $0.decorator = .with { $0.operation = ":\(port)/*" }
                    $0.route = .with { action in
                        action.cluster = cluster
                        RouteTimeoutConverter.apply(nil, to: &action)
                    }
                }]
            }]
        }
    }
}
