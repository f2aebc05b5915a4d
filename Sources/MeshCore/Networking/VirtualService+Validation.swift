/// Istio's `ValidateVirtualService` and the CRD schema rules for virtual services.
extension VirtualService {
    /// The annotation Istio sets on virtual services converted from Gateway API routes.
    static let routeSemanticsAnnotation = "internal.istio.io/route-semantics"

    /// Redirect codes Envoy can emit; other 3xx codes pass Istio's validation but are dropped in translation.
    static let envoyRedirectCodes: Set<UInt32> = [301, 302, 303, 307, 308]

    /// HTTP methods allowed in `corsPolicy.allowMethods`.
    static let corsMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]

    public func validate(in context: ValidationContext) -> ValidationResult {
        var result = ValidationResult()
        let spec = FieldPath("spec")
        let hosts = self.hosts ?? []
        let gateways = self.gateways ?? []
        let httpRoutes = self.http ?? []
        let tlsRoutes = self.tls ?? []
        let tcpRoutes = self.tcp ?? []
        let isDelegate = hosts.isEmpty

        if isDelegate {
            if !gateways.isEmpty {
                result.error(spec / "gateways", "delegate virtual service (one without hosts) must have no gateways specified")
            }
            if !tlsRoutes.isEmpty {
                result.error(spec / "tls", "delegate virtual service (one without hosts) must have no tls route specified")
            }
            if !tcpRoutes.isEmpty {
                result.error(spec / "tcp", "delegate virtual service (one without hosts) must have no tcp route specified")
            }
        }
        let gatewaySemantics = context.meta.annotations[Self.routeSemanticsAnnotation] == "gateway"

        let appliesToGateway = !gateways.isEmpty && !gateways.contains("mesh")
        let appliesToMesh = !appliesToGateway
        if !gateways.isEmpty {
            result.merge(Validators.gatewayNames(gateways, at: spec / "gateways", gatewaySemantics: gatewaySemantics))
        }

        if !appliesToGateway {
            for (i, route) in httpRoutes.enumerated() {
                for (j, match) in (route.match ?? []).enumerated() {
                    for (field, map) in [("headers", match.headers), ("withoutHeaders", match.withoutHeaders)] {
                        for key in (map ?? [:]).keys.sorted() where Validators.isJWTClaimRoutingKey(key) {
                            result.error(((spec / "http")[i] / "match")[j].field(field).key(key),
                                         "JWT claim based routing (key: \(key)) is only supported for gateways; this virtual service applies to the mesh")
                        }
                    }
                }
            }
        }

        var allHostsValid = true
        let sni = tlsRoutes.contains { ($0.match ?? []).contains { !($0.sniHosts ?? []).isEmpty } }
        for (i, host) in hosts.enumerated() {
            let problem = appliesToGateway ? Validators.gatewayBoundDomainProblem(host, sni: sni) : Validators.istioWildcardDomainProblem(host)
            if let problem {
                if IPAddress(host) == nil {
                    result.error((spec / "hosts")[i], problem)
                    allHostsValid = false
                }
            } else if appliesToMesh, host == "*" {
                result.error((spec / "hosts")[i], "wildcard host * is not allowed for virtual services bound to the mesh gateway; list the hosts, or bind to gateways only")
                allHostsValid = false
            }
        }
        if allHostsValid {
            for i in hosts.indices {
                for j in hosts.indices where j > i && Validators.hostsOverlap(hosts[i], hosts[j]) {
                    result.error((spec / "hosts")[j], "duplicate hosts in virtual service: \(hosts[i]) & \(hosts[j])")
                }
            }
        }

        if httpRoutes.isEmpty, tcpRoutes.isEmpty, tlsRoutes.isEmpty {
            result.error(spec, "http, tcp or tls must be provided in virtual service")
        }
        for (i, route) in httpRoutes.enumerated() {
            result.merge(route.validate(at: (spec / "http")[i], isDelegate: isDelegate, gatewaySemantics: gatewaySemantics))
        }
        for (i, route) in tlsRoutes.enumerated() {
            // Istio checks SNI hosts with gateway rules unless `mesh` is listed explicitly (even when gateways is empty).
            result.merge(route.validate(at: (spec / "tls")[i], virtualService: self, appliesToGateway: !gateways.contains("mesh"), gatewaySemantics: gatewaySemantics))
        }
        for (i, route) in tcpRoutes.enumerated() {
            result.merge(route.validate(at: (spec / "tcp")[i], gatewaySemantics: gatewaySemantics))
        }
        result.merge(Validators.exportTo(exportTo, namespace: context.meta.namespace, at: spec / "exportTo"))

        for finding in unreachableRouteFindings(at: spec) { result.warning(finding.path, finding.validationMessage) }
        return result
    }
}

// MARK: - HTTP routes

extension VirtualService.HTTPRoute {
    func validate(at path: FieldPath, isDelegate: Bool, gatewaySemantics: Bool) -> ValidationResult {
        var result = validateConflicts(at: path, isDelegate: isDelegate)
        for (j, match) in (self.match ?? []).enumerated() {
            result.merge(match.validate(at: (path / "match")[j]))
        }
        result.merge(Self.validateHeaders(headers, at: path / "headers"))
        if let corsPolicy { result.merge(corsPolicy.validate(at: path / "corsPolicy")) }
        if let fault { result.merge(fault.validate(at: path / "fault")) }

        if let mirrorPercent {
            if mirrorPercent > 100 {
                result.error(path / "mirrorPercent", "mirror_percent must have a max value of 100 (it has \(mirrorPercent))")
            }
            result.warning(path / "mirrorPercent", "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead")
        }
        if let value = mirrorPercentage?.value {
            if value > 100 {
                result.error(path / "mirrorPercentage" / "value", "mirror_percentage must have a max value of 100 (it has \(value))")
            }
            if value < 0 {
                result.error(path / "mirrorPercentage" / "value", "mirror_percentage must have a min value of 0 (it has \(value))")
            }
        }
        result.merge(Validators.destination(mirror, at: path / "mirror"))
        for (k, policy) in (mirrors ?? []).enumerated() {
            let at = (path / "mirrors")[k]
            guard let destination = policy.destination else {
                result.error(at / "destination", "destination is required for mirrors")
                continue
            }
            result.merge(Validators.destination(destination, at: at / "destination"))
            if let value = policy.percentage?.value {
                if value > 100 { result.error(at / "percentage" / "value", "mirror percentage must have a max value of 100 (it has \(value))") }
                if value < 0 { result.error(at / "percentage" / "value", "mirror percentage must have a min value of 0 (it has \(value))") }
            }
        }
        if let redirect { result.merge(redirect.validate(at: path / "redirect", matches: match ?? [])) }
        if let directResponse { result.merge(directResponse.validate(at: path / "directResponse")) }
        result.merge(Validators.httpRetry(retries, at: path / "retries"))
        if let rewrite { result.merge(rewrite.validate(at: path / "rewrite")) }
        result.merge(validateAuthorityRewrite(at: path))
        result.merge(Self.validateDestinations(route ?? [], at: path / "route", gatewaySemantics: gatewaySemantics))
        result.merge(Validators.istioDuration(timeout, at: path / "timeout"))
        return result
    }

    /// Which of route/redirect/directResponse/delegate may be combined (Istio's `validateHTTPRouteConflict`).
    private func validateConflicts(at path: FieldPath, isDelegate: Bool) -> ValidationResult {
        var result = ValidationResult()
        let hasRoute = !(route ?? []).isEmpty
        let label = (name ?? "").isEmpty ? "" : " \(name!)"
        if !isDelegate, delegate != nil {
            // A root route only hands traffic to the delegate.
            if redirect != nil { result.error(path / "redirect", "root HTTP route\(label) must not specify redirect (it has a delegate)") }
            if hasRoute { result.error(path / "route", "root HTTP route\(label) must not specify route (it has a delegate)") }
            return result
        }
        if isDelegate, delegate != nil {
            result.error(path / "delegate", "delegate HTTP route cannot contain delegate")
        }
        if redirect != nil {
            if hasRoute { result.error(path, "HTTP route cannot contain both route and redirect") }
            if fault != nil { result.error(path, "HTTP route cannot contain both fault and redirect") }
            if rewrite != nil { result.error(path, "HTTP route rule cannot contain both rewrite and redirect") }
            if directResponse != nil { result.error(path, "HTTP route rule cannot contain both direct_response and redirect") }
        } else if directResponse != nil {
            if hasRoute { result.error(path, "HTTP route cannot contain both route and direct_response") }
            if fault != nil { result.error(path, "HTTP route cannot contain both fault and direct_response") }
            if rewrite != nil { result.error(path, "HTTP route rule cannot contain both rewrite and direct_response") }
        } else if !hasRoute {
            result.error(path, "HTTP route, redirect or direct_response is required")
        }
        if mirror != nil, !(mirrors ?? []).isEmpty {
            result.error(path, "HTTP route cannot contain both mirror and mirrors")
        }
        return result
    }

    /// The authority may be rewritten in one place only: `rewrite.authority` or a request `:authority`/`Host` header.
    private func validateAuthorityRewrite(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        var current = rewrite?.authority ?? ""
        let request = headers?.request
        for (op, map) in [("set", request?.set), ("add", request?.add)] {
            for (key, value) in (map ?? [:]).sorted(by: { $0.key < $1.key }) where Validators.isAuthorityHeader(key) {
                if !current.isEmpty {
                    result.error((path / "headers" / "request" / op).key(key), "authority header cannot be set multiple times: have \"\(current)\", attempting to set \"\(value)\"")
                    return result
                }
                current = value
            }
        }
        return result
    }

    /// Header operations on a route or a route destination.
    static func validateHeaders(_ headers: VirtualService.Headers?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let headers else { return result }
        func check(_ ops: VirtualService.Headers.HeaderOperations?, at path: FieldPath, isRequest: Bool) {
            guard let ops else { return }
            for (op, map) in [("set", ops.set), ("add", ops.add)] {
                for (name, value) in (map ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let at = (path / op).key(name)
                    let problem = isRequest ? Validators.requestHeaderSetNameProblem(name) : Validators.headerOperationNameProblem(name)
                    if let problem { result.error(at, problem) }
                    if let problem = Validators.headerValueProblem(value) { result.error(at, problem) }
                }
            }
            for (k, name) in (ops.remove ?? []).enumerated() {
                if let problem = Validators.headerOperationNameProblem(name) { result.error((path / "remove")[k], problem) }
            }
        }
        check(headers.request, at: path / "request", isRequest: true)
        check(headers.response, at: path / "response", isRequest: false)
        return result
    }

    /// Weighted HTTP destinations: destination required and valid, weights non-negative and not all zero.
    static func validateDestinations(_ destinations: [VirtualService.HTTPRouteDestination], at path: FieldPath, gatewaySemantics: Bool) -> ValidationResult {
        var result = ValidationResult()
        var total: Int64 = 0
        for (k, entry) in destinations.enumerated() {
            let at = path[k]
            if entry.destination == nil { result.error(at / "destination", "destination is required") }
            result.merge(validateHeaders(entry.headers, at: at / "headers"))
            if !gatewaySemantics { result.merge(Validators.destination(entry.destination, at: at / "destination")) }
            let weight = entry.weight ?? 0
            if weight < 0 { result.error(at / "weight", "weight \(weight) < 0: weights must not be negative") }
            total += Int64(weight)
        }
        if destinations.count > 1, total == 0 {
            result.error(path, "total destination weight = 0: give at least one destination a positive weight")
        }
        return result
    }
}

extension VirtualService.HTTPMatchRequest {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (name, match) in (headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            let at = (path / "headers").key(name)
            if let problem = Validators.headerMatchNameProblem(name) { result.error(at, problem) }
            result.merge(Validators.httpStringMatch(match, at: at))
        }
        for (name, match) in (withoutHeaders ?? [:]).sorted(by: { $0.key < $1.key }) {
            let at = (path / "withoutHeaders").key(name)
            if let problem = Validators.headerMatchNameProblem(name) { result.error(at, problem) }
            // `regex: "*"` is not a regex: it means "header present".
            if match.regex != "*" { result.merge(Validators.httpStringMatch(match, at: at)) }
        }
        result.merge(Validators.httpStringMatch(uri, at: path / "uri", allowEmptyPrefix: true))
        result.merge(Validators.httpStringMatch(scheme, at: path / "scheme"))
        result.merge(Validators.httpStringMatch(method, at: path / "method"))
        result.merge(Validators.httpStringMatch(authority, at: path / "authority"))
        for (name, match) in (queryParams ?? [:]).sorted(by: { $0.key < $1.key }) {
            result.merge(Validators.httpStringMatch(match, at: (path / "queryParams").key(name)))
        }
        if let port, port != 0 { result.merge(Validators.port(port, at: path / "port")) }
        result.merge(Validators.labels(sourceLabels ?? [:], at: path / "sourceLabels"))
        result.merge(Validators.gatewayNames(gateways, at: path / "gateways"))
        if let sourceNamespace, !sourceNamespace.isEmpty, !Validators.isIstioDNSLabel(sourceNamespace) {
            result.error(path / "sourceNamespace", "sourceNamespace match \(sourceNamespace) is invalid (expected a DNS-1123 label)")
        }
        return result
    }

    /// The match as Istio compares it for duplicates: name dropped, zero values treated as unset.
    var normalized: Self {
        var m = self
        m.name = nil
        if m.headers?.isEmpty == true { m.headers = nil }
        if m.port == 0 { m.port = nil }
        if m.sourceLabels?.isEmpty == true { m.sourceLabels = nil }
        if m.gateways?.isEmpty == true { m.gateways = nil }
        if m.queryParams?.isEmpty == true { m.queryParams = nil }
        if m.ignoreUriCase == false { m.ignoreUriCase = nil }
        if m.withoutHeaders?.isEmpty == true { m.withoutHeaders = nil }
        if m.sourceNamespace?.isEmpty == true { m.sourceNamespace = nil }
        if m.statPrefix?.isEmpty == true { m.statPrefix = nil }
        return m
    }
}

extension VirtualService.CorsPolicy {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (k, origin) in (allowOrigins ?? []).enumerated() {
            let at = (path / "allowOrigins")[k]
            let values = [origin.exact, origin.prefix, origin.regex].compactMap { $0 }
            if values.count > 1 {
                result.error(at, "only one of exact, prefix or regex may be set")
            } else if values.first?.isEmpty ?? true {
                result.error(at, "'\(values.first ?? "")' is not a valid match type for CORS allow origins: set a non-empty exact, prefix or regex")
            } else if let regex = origin.regex, let problem = Validators.istioRegexProblem(regex) {
                result.error(at / "regex", problem)
            }
        }
        for (k, method) in (allowMethods ?? []).enumerated() where !VirtualService.corsMethods.contains(method) {
            result.error((path / "allowMethods")[k], "\"\(method)\" is not a supported HTTP method; expected one of: \(VirtualService.corsMethods.sorted().joined(separator: ", "))")
        }
        for (field, names) in [("allowHeaders", allowHeaders), ("exposeHeaders", exposeHeaders)] {
            for (k, name) in (names ?? []).enumerated() {
                if let problem = Validators.corsHeaderNameProblem(name) { result.error((path / field)[k], problem) }
            }
        }
        if let maxAge {
            result.merge(Validators.istioDuration(maxAge, at: path / "maxAge"))
            if maxAge.nanoseconds >= 1_000_000, maxAge.nanoseconds % 1_000_000_000 != 0 {
                result.error(path / "maxAge", "max_age duration is accurate only to seconds precision")
            }
        }
        return result
    }
}

extension VirtualService.HTTPFaultInjection {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if abort == nil, delay == nil {
            result.error(path, "HTTP fault injection must have an abort and/or a delay")
        }
        if let abort {
            let at = path / "abort"
            result.merge(Validators.fractionalPercent(abort.percentage, at: at / "percentage"))
            let set = [abort.httpStatus != nil, abort.grpcStatus != nil, abort.http2Error != nil].filter { $0 }.count
            if set > 1 {
                result.error(at, "only one of httpStatus, grpcStatus or http2Error may be set")
            } else if let status = abort.httpStatus {
                if !(200...599).contains(status) {
                    result.error(at / "httpStatus", "HTTP status \(status) is not in range 200-599")
                }
            } else if let grpc = abort.grpcStatus {
                if !Validators.grpcStatusNames.contains(grpc) {
                    result.error(at / "grpcStatus", "gRPC status \"\(grpc)\" is not supported; expected a name such as NOT_FOUND or UNAVAILABLE (see https://github.com/grpc/grpc/blob/master/doc/statuscodes.md)")
                }
            } else if abort.http2Error != nil {
                result.error(at / "http2Error", "HTTP/2 abort fault injection not supported yet")
            } else {
                result.warning(at, "abort configured, but error type not set")
            }
        }
        if let delay {
            let at = path / "delay"
            result.merge(Validators.fractionalPercent(delay.percentage, at: at / "percentage"))
            if let percent = delay.percent, !(0...100).contains(percent) {
                result.error(at / "percent", "percentage \(percent) is not in range 0..100")
            }
            if delay.fixedDelay != nil, delay.exponentialDelay != nil {
                result.error(at, "only one of fixedDelay or exponentialDelay may be set")
            }
            result.merge(Validators.istioDuration(delay.fixedDelay, at: at / "fixedDelay"))
            if let exponential = delay.exponentialDelay {
                result.merge(Validators.istioDuration(exponential, at: at / "exponentialDelay"))
                result.error(at / "exponentialDelay", "exponentialDelay not supported yet")
            }
        }
        return result
    }
}

extension VirtualService.HTTPRedirect {
    func validate(at path: FieldPath, matches: [VirtualService.HTTPMatchRequest]) -> ValidationResult {
        var result = ValidationResult()
        let uri = self.uri ?? "", prefixRewrite = self.prefixRewrite ?? ""
        if !uri.isEmpty, !prefixRewrite.isEmpty {
            result.error(path, "redirect may only specify one of uri or prefixRewrite")
        }
        if !prefixRewrite.isEmpty, matches.contains(where: { $0.uri != nil && $0.uri?.prefix == nil }) {
            result.error(path / "prefixRewrite", "redirect prefixRewrite requires all URI matches to use prefix match type")
        }
        if port != nil, derivePort != nil {
            result.error(path, "only one of port or derivePort may be set")
        }
        if uri.isEmpty, prefixRewrite.isEmpty, (authority ?? "").isEmpty, port == nil, derivePort == nil, (scheme ?? "").isEmpty {
            result.error(path, "redirect must specify URI, authority, scheme, or port")
        }
        if let code = redirectCode, code != 0 {
            if !(300...399).contains(code) {
                result.error(path / "redirectCode", "\(code) is not a valid redirect code, must be 3xx")
            } else if !VirtualService.envoyRedirectCodes.contains(code) {
                result.warning(path / "redirectCode", "redirect code \(code) is not supported by Envoy (use 301, 302, 303, 307 or 308); the redirect will be dropped")
            }
        }
        if let scheme, !scheme.isEmpty, scheme != "http", scheme != "https" {
            result.error(path / "scheme", "invalid redirect scheme \"\(scheme)\", must be \"http\" or \"https\"")
        }
        if let port, port > 0 { result.merge(Validators.port(port, at: path / "port")) }
        return result
    }
}

extension VirtualService.HTTPDirectResponse {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if let body {
            if body.string != nil, body.bytes != nil {
                result.error(path / "body", "only one of string or bytes may be set")
            }
            let size = max(body.string?.utf8.count ?? 0, body.bytes?.data.count ?? 0)
            if size > 1024 * 1024 {
                result.error(path / "body", "large direct_responses may impact control plane performance, must be less than 1MB")
            } else if size > 100 * 1024 {
                result.warning(path / "body", "large direct_responses may impact control plane performance")
            }
        }
        guard let status else {
            result.error(path / "status", "status is required")
            return result
        }
        if !(200...599).contains(status) {
            result.error(path / "status", "HTTP status \(status) is not in range 200-599")
        }
        return result
    }
}

extension VirtualService.HTTPRewrite {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let uri = self.uri ?? ""
        if !uri.isEmpty, uriRegexRewrite != nil {
            result.error(path, "rewrite may only contain one of uri or uriRegexRewrite")
        } else if uri.isEmpty, uriRegexRewrite == nil, (authority ?? "").isEmpty {
            result.error(path, "rewrite must specify at least one of uri, uriRegexRewrite, or authority")
        }
        if let regex = uriRegexRewrite {
            let match = regex.match ?? "", rewrite = regex.rewrite ?? ""
            if match.isEmpty || rewrite.isEmpty {
                result.error(path / "uriRegexRewrite", "uriRegexRewrite requires both rewrite and match fields to be specified")
            } else if let problem = Validators.istioRegexProblem(match) {
                result.error(path / "uriRegexRewrite" / "match", problem)
            }
        }
        return result
    }
}

// MARK: - TLS and TCP routes

extension VirtualService.TLSRoute {
    func validate(at path: FieldPath, virtualService: VirtualService, appliesToGateway: Bool, gatewaySemantics: Bool) -> ValidationResult {
        var result = ValidationResult()
        let matches = match ?? []
        if matches.isEmpty {
            result.error(path / "match", "TLS route must have at least one match condition")
        }
        for (j, match) in matches.enumerated() {
            let at = (path / "match")[j]
            let sniHosts = match.sniHosts ?? []
            if sniHosts.isEmpty {
                result.error(at / "sniHosts", "TLS match must have at least one SNI host")
            }
            for (k, sniHost) in sniHosts.enumerated() {
                result.merge(Self.validateSNIHost(sniHost, at: (at / "sniHosts")[k], virtualService: virtualService, appliesToGateway: appliesToGateway))
            }
            result.merge(VirtualService.validateL4Common(
                destinationSubnets: match.destinationSubnets, port: match.port, sourceLabels: match.sourceLabels,
                gateways: match.gateways, sourceNamespace: match.sourceNamespace, at: at))
        }
        let routes = route ?? []
        if routes.isEmpty { result.error(path / "route", "TLS route is required") }
        result.merge(VirtualService.validateRouteDestinations(routes, at: path / "route", gatewaySemantics: gatewaySemantics))
        return result
    }

    /// An SNI host must be a valid (wildcard) name, and covered by one of the virtual service's hosts.
    static func validateSNIHost(_ sniHost: String, at path: FieldPath, virtualService: VirtualService, appliesToGateway: Bool) -> ValidationResult {
        var result = ValidationResult()
        let problem = appliesToGateway ? Validators.gatewayBoundDomainProblem(sniHost, sni: true) : Validators.istioWildcardDomainProblem(sniHost)
        if let problem {
            if IPAddress(sniHost) != nil {
                result.warning(path, "using an IP address (\"\(sniHost)\") goes against SNI spec and most clients do not support this")
            } else {
                result.error(path, problem)
            }
            return result
        }
        let hosts = virtualService.hosts ?? []
        if !hosts.contains(where: { Validators.host(sniHost, isSubsetOf: $0) }) {
            result.error(path, "SNI host \"\(sniHost)\" is not a compatible subset of any of the virtual service hosts: [\(hosts.joined(separator: ", "))]")
        }
        return result
    }
}

extension VirtualService.TCPRoute {
    func validate(at path: FieldPath, gatewaySemantics: Bool) -> ValidationResult {
        var result = ValidationResult()
        for (j, match) in (match ?? []).enumerated() {
            result.merge(VirtualService.validateL4Common(
                destinationSubnets: match.destinationSubnets, port: match.port, sourceLabels: match.sourceLabels,
                gateways: match.gateways, sourceNamespace: nil, at: (path / "match")[j]))
        }
        let routes = route ?? []
        if routes.isEmpty { result.error(path / "route", "TCP route is required") }
        result.merge(VirtualService.validateRouteDestinations(routes, at: path / "route", gatewaySemantics: gatewaySemantics))
        return result
    }
}

extension VirtualService.TLSMatchAttributes {
    var normalized: Self {
        var m = self
        if m.sniHosts?.isEmpty == true { m.sniHosts = nil }
        if m.destinationSubnets?.isEmpty == true { m.destinationSubnets = nil }
        if m.port == 0 { m.port = nil }
        if m.sourceLabels?.isEmpty == true { m.sourceLabels = nil }
        if m.gateways?.isEmpty == true { m.gateways = nil }
        if m.sourceNamespace?.isEmpty == true { m.sourceNamespace = nil }
        return m
    }
}

extension VirtualService.L4MatchAttributes {
    var normalized: Self {
        var m = self
        if m.destinationSubnets?.isEmpty == true { m.destinationSubnets = nil }
        if m.port == 0 { m.port = nil }
        if m.sourceSubnet?.isEmpty == true { m.sourceSubnet = nil }
        if m.sourceLabels?.isEmpty == true { m.sourceLabels = nil }
        if m.gateways?.isEmpty == true { m.gateways = nil }
        if m.sourceNamespace?.isEmpty == true { m.sourceNamespace = nil }
        return m
    }
}

extension VirtualService {
    /// Checks shared by TLS and TCP matches: subnets, port, source labels, gateways.
    static func validateL4Common(
        destinationSubnets: [String]?, port: UInt32?, sourceLabels: [String: String]?, gateways: [String]?,
        sourceNamespace: String?, at path: FieldPath
    ) -> ValidationResult {
        var result = ValidationResult()
        for (k, subnet) in (destinationSubnets ?? []).enumerated() {
            if let problem = Validators.ipSubnetProblem(subnet) { result.error((path / "destinationSubnets")[k], problem) }
        }
        if let port, port != 0 { result.merge(Validators.port(port, at: path / "port")) }
        result.merge(Validators.labels(sourceLabels ?? [:], at: path / "sourceLabels"))
        result.merge(Validators.gatewayNames(gateways, at: path / "gateways"))
        return result
    }

    /// Weighted TLS/TCP destinations: destination required and valid, weights non-negative and not all zero.
    static func validateRouteDestinations(_ destinations: [RouteDestination], at path: FieldPath, gatewaySemantics: Bool) -> ValidationResult {
        HTTPRoute.validateDestinations(
            destinations.map { HTTPRouteDestination(destination: $0.destination, weight: $0.weight) },
            at: path, gatewaySemantics: gatewaySemantics)
    }
}

// MARK: - Unreachable rules and ineffective matches (warnings)

/// A rule or match of a VirtualService that can never take effect, found by Istio's
/// `analyzeUnreachable*Rules`; validation reports it as a warning, analysis as IST0130/IST0131.
struct UnreachableRouteFinding: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// The whole rule is never used (IST0130).
        case unusedRule(rule: String, reason: String)
        /// One match duplicates or is covered by an earlier one (IST0131).
        case ineffectiveMatch(rule: String, match: String, duplicate: String)
    }

    var path: FieldPath
    var kind: Kind

    /// The text of Istio's validation warning.
    var validationMessage: String {
        switch kind {
        case .unusedRule(let rule, let reason):
            "virtualService rule \(rule) not used (\(reason))"
        case .ineffectiveMatch(let rule, let match, let duplicate):
            "virtualService rule \(rule) match \(match) is not used (duplicate/overlapping match in rule \(duplicate))"
        }
    }
}

extension VirtualService {
    /// Every unreachable rule and ineffective match of the http, tcp and tls routes.
    func unreachableRouteFindings(at spec: FieldPath = "spec") -> [UnreachableRouteFinding] {
        Self.unreachableHTTPRules(http ?? [], at: spec / "http")
            + Self.unreachableRules((tcp ?? []).map { $0.match?.map(\.normalized) }, at: spec / "tcp")
            + Self.unreachableRules((tls ?? []).map { $0.match?.map(\.normalized) }, at: spec / "tls")
    }

    private static func warnUnused(_ result: inout [UnreachableRouteFinding], _ path: FieldPath, rule: String, reason: String) {
        result.append(UnreachableRouteFinding(path: path, kind: .unusedRule(rule: rule, reason: reason)))
    }

    private static func warnIneffective(_ result: inout [UnreachableRouteFinding], _ path: FieldPath, rule: String, match: String, duplicate: String) {
        result.append(UnreachableRouteFinding(path: path, kind: .ineffectiveMatch(rule: rule, match: match, duplicate: duplicate)))
    }

    private static func ruleName(_ route: HTTPRoute?, _ index: Int) -> String {
        if let name = route?.name, !name.isEmpty { return "\"\(name)\"" }
        return "#\(index)"
    }

    private static func matchName(_ match: HTTPMatchRequest?, _ index: Int) -> String {
        if let name = match?.name, !name.isEmpty { return "\"\(name)\"" }
        return "#\(index)"
    }

    /// Istio's `analyzeUnreachableTCPRules`/`analyzeUnreachableTLSRules`: rules after a catch-all and duplicate matches.
    static func unreachableRules<M: Hashable>(_ routes: [[M]?], at path: FieldPath) -> [UnreachableRouteFinding] {
        var result: [UnreachableRouteFinding] = []
        var seen: [M: Int] = [:]
        var catchAll = -1
        for (i, matches) in routes.enumerated() {
            let matches = matches ?? []
            let rule = "#\(i)"
            if matches.isEmpty {
                if catchAll >= 0 { warnUnused(&result, path[i], rule: rule, reason: "only the last rule can have no matches") }
                catchAll = i
                continue
            }
            var duplicates = 0
            for (j, match) in matches.enumerated() {
                if catchAll >= 0 {
                    warnUnused(&result, (path[i] / "match")[j], rule: rule, reason: "route without matches defined before")
                    continue
                }
                if let earlier = seen[match] {
                    warnIneffective(&result, (path[i] / "match")[j], rule: rule, match: "#\(j)", duplicate: "#\(earlier)")
                    duplicates += 1
                } else {
                    seen[match] = i
                }
            }
            if duplicates == matches.count {
                warnUnused(&result, path[i], rule: rule, reason: "all matches used by prior rules")
            }
        }
        return result
    }

    /// A prefix match reduced to what Istio compares for overlaps.
    private struct PrefixMatch {
        var ruleName: String
        var routeIndex: Int
        var matchIndex: Int
        var matchName: String
        var prefix: String
        var port: UInt32
        var method: String
        var authority: String
        var headers: [String: String]
        var queryParams: [String: String]
        var withoutHeaders: [String: String]

        init?(route: HTTPRoute, routeIndex: Int, match: HTTPMatchRequest, matchIndex: Int) {
            guard let prefix = match.uri?.prefix, !prefix.isEmpty else { return nil }
            func exactOrPrefix(_ m: StringMatch?) -> String {
                if let exact = m?.exact, !exact.isEmpty { return "exact:" + exact }
                if let prefix = m?.prefix, !prefix.isEmpty { return "prefix:" + prefix }
                return ""
            }
            self.ruleName = VirtualService.ruleName(route, routeIndex)
            self.routeIndex = routeIndex
            self.matchIndex = matchIndex
            self.matchName = VirtualService.matchName(match, matchIndex)
            self.prefix = prefix
            self.port = match.port ?? 0
            let method = exactOrPrefix(match.method)
            self.method = method.isEmpty ? "exact:GET" : method
            self.authority = exactOrPrefix(match.authority)
            self.headers = (match.headers ?? [:]).mapValues(exactOrPrefix)
            self.queryParams = (match.queryParams ?? [:]).mapValues(exactOrPrefix)
            self.withoutHeaders = (match.withoutHeaders ?? [:]).mapValues(exactOrPrefix)
        }

        /// Istio's `coveredValidation`: does `self` (earlier) cover everything `later` matches?
        func covers(_ later: PrefixMatch) -> Bool {
            guard later.prefix.hasPrefix(prefix), later.port == port else { return false }
            if method != later.method, !method.hasPrefix(later.method) { return false }
            if authority != later.authority, !authority.hasPrefix(later.authority) { return false }
            func mapCovers(_ a: [String: String], _ b: [String: String]) -> Bool {
                guard a.count == b.count else { return false }
                for (key, value) in a {
                    guard let other = b[key] else { return false }
                    if value != other, !value.hasPrefix(other) { return false }
                }
                return true
            }
            return mapCovers(headers, later.headers) && mapCovers(queryParams, later.queryParams) && mapCovers(withoutHeaders, later.withoutHeaders)
        }
    }

    /// Istio's `analyzeUnreachableHTTPRules`: rules after a catch-all, duplicate matches and prefix matches
    /// shadowed by an earlier, broader prefix match.
    static func unreachableHTTPRules(_ routes: [HTTPRoute], at path: FieldPath) -> [UnreachableRouteFinding] {
        var result: [UnreachableRouteFinding] = []
        var seen: [HTTPMatchRequest: Int] = [:]
        var catchAll = -1
        var prefixMatches: [PrefixMatch] = []
        for (i, route) in routes.enumerated() {
            let matches = route.match ?? []
            let rule = ruleName(route, i)
            if matches.isEmpty {
                if catchAll >= 0 { warnUnused(&result, path[i], rule: rule, reason: "only the last rule can have no matches") }
                catchAll = i
                continue
            }
            var duplicates = 0
            for (j, match) in matches.enumerated() {
                let at = (path[i] / "match")[j]
                if catchAll >= 0 {
                    warnUnused(&result, at, rule: rule, reason: "route without matches defined before")
                    continue
                }
                let key = match.normalized
                if let earlier = seen[key] {
                    warnIneffective(&result, at, rule: rule, match: matchName(match, j), duplicate: ruleName(routes[earlier], earlier))
                    duplicates += 1
                    continue
                }
                seen[key] = i
                if let prefixMatch = PrefixMatch(route: route, routeIndex: i, match: match, matchIndex: j) {
                    prefixMatches.append(prefixMatch)
                }
            }
            if duplicates == matches.count {
                warnUnused(&result, path[i], rule: rule, reason: "all matches used by prior rules")
            }
        }
        for (a, earlier) in prefixMatches.enumerated() {
            for later in prefixMatches[(a + 1)...] where later.prefix != earlier.prefix && earlier.covers(later) {
                warnIneffective(
                    &result, (path[later.routeIndex] / "match")[later.matchIndex], rule: later.ruleName,
                    match: "\(later.matchName) of prefix \(later.prefix)",
                    duplicate: "\(earlier.matchName) of prefix \(earlier.prefix) on \(earlier.ruleName)")
            }
        }
        return result
    }
}
