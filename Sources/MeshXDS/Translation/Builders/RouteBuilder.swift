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

    /// The virtual host for one service port, named `host:port`, from at most one VirtualService
    /// (delegates are not expanded; see the `httpRoutes:` form).
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
        let httpRoutes = virtualService.map {
            VirtualServiceMerger.httpRoutes([$0], domainSuffix: options.domainSuffix, delegates: { _, _, _ in nil })
        }
        return virtualHost(service: service, port: port, proxy: proxy, httpRoutes: httpRoutes,
                           includePort: includePort, services: services, rules: rules)
    }

    /// The virtual host for one service port, named `host:port`.
    ///
    /// With VirtualService rules (see ``VirtualServiceMerger``) it holds their routes; when there
    /// are none, or none applies to this port and proxy, it holds Istio's default route to the
    /// service. Requests that match no route get Envoy's 404 (`NR`), as in Istio.
    /// - Parameters:
    ///   - service: the service.
    ///   - port: the service port.
    ///   - proxy: the proxy the routes are for.
    ///   - httpRoutes: the merged VirtualService rules for the host, or nil.
    ///   - includePort: add `:port` forms to the domains (HTTP_PROXY listeners).
    ///   - services: looks up route destinations.
    ///   - rules: looks up DestinationRules.
    public func virtualHost(
        service: MeshService, port: ServicePortInfo, proxy: ProxyView, httpRoutes: [SourcedHTTPRoute]?,
        includePort: Bool, services: ServiceLookup, rules: RuleLookup
    ) -> Envoy_Config_Route_V3_VirtualHost {
        var routes: [Envoy_Config_Route_V3_Route] = []
        if let httpRoutes {
            routes = self.routes(httpRoutes, port: port.port, proxy: proxy, services: services, rules: rules)
        }
        if routes.isEmpty {
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

    /// The routes of one VirtualService's `http` section for traffic on `port` (delegates are
    /// not expanded; see ``routes(_:port:proxy:gateways:isTLS:jwtIssuers:services:rules:)``).
    public func routes(
        _ virtualService: Resource<VirtualService>, port: UInt32, proxy: ProxyView, jwtIssuers: [String] = [],
        services: ServiceLookup, rules: RuleLookup
    ) -> [Envoy_Config_Route_V3_Route] {
        let merged = VirtualServiceMerger.httpRoutes([virtualService], domainSuffix: options.domainSuffix, delegates: { _, _, _ in nil })
        return routes(merged, port: port, proxy: proxy, jwtIssuers: jwtIssuers, services: services, rules: rules)
    }

    /// Istio's `BuildHTTPRoutesForVirtualService`: the routes of merged HTTP rules for traffic on `port`.
    ///
    /// Each match of a rule becomes a route (matches are OR-ed; a rule without matches becomes
    /// one catch-all route). Matches for another port, or whose `gateways` name none of
    /// `gateways`, or (without `gateways`) whose `sourceLabels`/`sourceNamespace` the proxy does
    /// not have, are left out. After a catch-all route, later routes are unreachable and dropped.
    /// - Parameters:
    ///   - httpRoutes: the rules, in order.
    ///   - port: the port the routes serve.
    ///   - proxy: the proxy the routes are for.
    ///   - gateways: the gateway names the proxy answers to (`mesh` for sidecars).
    ///   - isTLS: true when the listener terminates TLS (redirects then default to https).
    ///   - jwtIssuers: the issuers whose verified payloads the proxy's `jwt_authn` keeps, for
    ///     JWT claim matches (``RouteMatchConverter/claimAlternatives(_:issuers:)``).
    ///   - services: looks up route destinations.
    ///   - rules: looks up DestinationRules.
    public func routes(
        _ httpRoutes: [SourcedHTTPRoute], port: UInt32, proxy: ProxyView, gateways: Set<String> = ["mesh"],
        isTLS: Bool = false, jwtIssuers: [String] = [], services: ServiceLookup, rules: RuleLookup
    ) -> [Envoy_Config_Route_V3_Route] {
        var out: [Envoy_Config_Route_V3_Route] = []
        for sourced in httpRoutes {
            let rule = sourced.route
            var catchAll = false
            if (rule.match ?? []).isEmpty {
                if let route = self.route(rule, match: nil, port: port, virtualService: sourced.origin, isTLS: isTLS,
                                     services: services, rules: rules) {
                    out.append(route)
                }
                catchAll = true
            } else {
                for match in rule.match ?? [] {
                    guard Self.applies(match, port: port, proxy: proxy, gateways: gateways),
                          let route = self.route(rule, match: match, port: port, virtualService: sourced.origin, isTLS: isTLS,
                                            services: services, rules: rules)
                    else { continue }
                    let alternatives = RouteMatchConverter.claimAlternatives(match, issuers: jwtIssuers)
                    for metadata in alternatives {
                        var copy = route
                        copy.match.dynamicMetadata = metadata
                        out.append(copy)
                    }
                    if alternatives == [[]], RouteMatchConverter.isCatchAll(route.match) { catchAll = true; break }
                }
            }
            if catchAll { break }
        }
        return out
    }

    /// Istio's port and `sourceMatchHTTP` checks: whether a match can apply to this proxy on `port`.
    static func applies(_ match: VirtualService.HTTPMatchRequest, port: UInt32, proxy: ProxyView, gateways: Set<String>) -> Bool {
        if let p = match.port, p != 0, p != port { return false }
        if let names = match.gateways, !names.isEmpty { return names.contains { gateways.contains($0) } }
        if let labels = match.sourceLabels, !labels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { return false }
        if let ns = match.sourceNamespace, !ns.isEmpty, ns != proxy.namespace { return false }
        return true
    }

    /// Istio's `translateRoute`: one rule and one of its matches as an Envoy route; nil when the
    /// rule cannot be expressed (an unsupported redirect code, no destination).
    private func route(
        _ rule: VirtualService.HTTPRoute, match: VirtualService.HTTPMatchRequest?, port: UInt32,
        virtualService: Resource<VirtualService>, isTLS: Bool, services: ServiceLookup, rules: RuleLookup
    ) -> Envoy_Config_Route_V3_Route? {
        let namespace = virtualService.meta.namespace
        var out = Envoy_Config_Route_V3_Route()
        var name = rule.name ?? ""
        if let matchName = match?.name, !matchName.isEmpty { name += ".\(matchName)" }
        out.name = name
        out.match = RouteMatchConverter.convert(match)
        out.metadata = Proto.configMetadata(kind: "virtual-service", namespace: namespace, name: virtualService.meta.name)
        if let statPrefix = match?.statPrefix, !statPrefix.isEmpty { out.statPrefix = statPrefix }

        let headers = HeaderOperationsConverter.convert(rule.headers)
        out.requestHeadersToAdd = headers.requestHeadersToAdd
        out.requestHeadersToRemove = headers.requestHeadersToRemove
        out.responseHeadersToAdd = headers.responseHeadersToAdd
        out.responseHeadersToRemove = headers.responseHeadersToRemove

        if let redirect = rule.redirect {
            guard let action = RedirectConverter.convert(redirect, port: port, isTLS: isTLS) else { return nil }
            out.redirect = action
        } else if let direct = rule.directResponse {
            out.directResponse = .with {
                $0.status = direct.status ?? 200
                if let text = direct.body?.string { $0.body = .with { $0.inlineString = text } }
                if let bytes = direct.body?.bytes { $0.body = .with { $0.inlineBytes = bytes.data } }
            }
        } else {
            let destinations = rule.route ?? []
            guard !destinations.isEmpty else { return nil }
            var action = Envoy_Config_Route_V3_RouteAction()
            RouteTimeoutConverter.apply(rule.timeout, to: &action)
            var authority = RewriteConverter.apply(rule.rewrite, to: &action) ?? headers.authority
            if let authority { action.hostRewriteLiteral = authority }
            func clusterName(_ destination: Destination?) -> String {
                let host = destination?.host ?? ""
                let service = services(host, namespace)
                let resolved = service?.hostname ?? HostName.resolve(host, namespace: namespace, domainSuffix: options.domainSuffix)
                var destinationPort = port
                if let number = destination?.port?.number {
                    destinationPort = number
                } else if let service, service.ports.count == 1 {
                    destinationPort = service.ports[0].port
                }
                return ClusterName.outbound(port: destinationPort, subset: destination?.subset, host: resolved)
            }
            action.requestMirrorPolicies = MirrorPolicyConverter.convert(rule) { clusterName($0) }
            var hashPolicy = false
            if destinations.count == 1 {
                let destination = destinations[0]
                action.cluster = clusterName(destination.destination)
                if let service = services(destination.destination?.host ?? "", namespace),
                   rules(service)?.trafficPolicy?.loadBalancer?.consistentHash != nil {
                    hashPolicy = true
                }
                let operations = HeaderOperationsConverter.convert(destination.headers)
                out.requestHeadersToAdd += operations.requestHeadersToAdd
                out.requestHeadersToRemove += operations.requestHeadersToRemove
                out.responseHeadersToAdd += operations.responseHeadersToAdd
                out.responseHeadersToRemove += operations.responseHeadersToRemove
                if authority == nil, let destinationAuthority = operations.authority {
                    authority = destinationAuthority
                    action.hostRewriteLiteral = destinationAuthority
                }
            } else {
                action.weightedClusters = .with {
                    $0.clusters = destinations.filter { ($0.weight ?? 0) != 0 }.map { destination -> Envoy_Config_Route_V3_WeightedCluster.ClusterWeight in
                        let operations = HeaderOperationsConverter.convert(destination.headers)
                        return .with {
                            $0.name = clusterName(destination.destination)
                            $0.weight = .init(UInt32(max(destination.weight ?? 0, 0)))
                            $0.requestHeadersToAdd = operations.requestHeadersToAdd
                            $0.requestHeadersToRemove = operations.requestHeadersToRemove
                            $0.responseHeadersToAdd = operations.responseHeadersToAdd
                            $0.responseHeadersToRemove = operations.responseHeadersToRemove
                            if let destinationAuthority = operations.authority { $0.hostRewriteLiteral = destinationAuthority }
                        }
                    }
                }
            }
            action.hashPolicy = (destinations.count == 1 ? destinations : destinations.filter { ($0.weight ?? 0) != 0 }).compactMap {
                HashPolicyConverter.forDestination(rule: services($0.destination?.host ?? "", namespace).flatMap(rules), subset: $0.destination?.subset, port: $0.destination?.port?.number)
            }
            if let retry = RetryPolicyConverter.convert(rule.retries ?? options.defaultRetryPolicy, hashPolicy: hashPolicy) {
                action.retryPolicy = retry
            }
            out.route = action
        }
        out.decorator = .with { $0.operation = Self.operation(out, virtualService: virtualService.meta.name, port: port) }
        if let fault = FaultInjectionConverter.convert(rule.fault) {
            out.typedPerFilterConfig[FaultInjectionConverter.filterName] = Proto.any(fault)
        }
        if let cors = rule.corsPolicy {
            out.typedPerFilterConfig[CorsPolicyConverter.filterName] = Proto.any(CorsPolicyConverter.convert(cors))
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

    /// Istio's catch-all virtual host: `allow_any` to `cluster` (PassthroughCluster, or ForwardProxyCluster
    /// for HTTP_PROXY listeners), or for BlackHoleCluster `block_all` answering 502.
    public func catchAllVirtualHost(cluster: String) -> Envoy_Config_Route_V3_VirtualHost {
        let allow = cluster != ClusterName.blackHole
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
