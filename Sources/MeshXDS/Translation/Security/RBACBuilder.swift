import MeshCore

/// Translates AuthorizationPolicy to Envoy RBAC filters with Istio's semantics.
///
/// Filters come in Istio's order: AUDIT (RBAC `LOG`), CUSTOM, DENY, then ALLOW, so a request
/// is denied when any DENY rule matches, and, once any ALLOW policy applies, allowed only when
/// an ALLOW rule matches (an ALLOW policy without rules allows nothing; `rules: [{}]` allows
/// everything). Policies annotated `istio.io/dry-run: "true"` become shadow rules.
///
/// A rule matches when any `from` matches, any `to` matches and every `when` holds; within a
/// source or operation every set field must match, any value of a field may match and a `not`
/// field matches when none of its values do. Peer identities are matched on the URI SAN of the
/// client certificate (`spiffe://<trust domain>/ns/<ns>/sa/<sa>`), request principals and claims
/// on the payload `jwt_authn` verified (stored in dynamic metadata under the issuer).
///
/// For TCP (the network RBAC filter) HTTP-only attributes cannot be evaluated: an ALLOW or AUDIT
/// rule using one is left out (it never matches), while in a DENY rule the HTTP-only parts are
/// dropped so that it denies more, never less — as Istio documents.
struct RBACBuilder {
    typealias Principal = Envoy_Config_Rbac_V3_Principal
    typealias Permission = Envoy_Config_Rbac_V3_Permission
    typealias Policy = Envoy_Config_Rbac_V3_Policy
    typealias RBAC = Envoy_Config_Rbac_V3_RBAC
    typealias StringMatcher = Envoy_Type_Matcher_V3_StringMatcher
    typealias HttpFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter

    /// HTTP (the RBAC HTTP filter) or TCP (the network RBAC filter).
    enum Target { case http, tcp }

    var trustDomain: String
    var trustDomainAliases: [String]
    /// Issuers of the workload's JWT providers; `jwt_authn` stores each verified payload under its issuer.
    var issuers: [String]

    static let httpFilterName = "envoy.filters.http.rbac"
    static let networkFilterName = "envoy.filters.network.rbac"
    static let dryRunAnnotation = "istio.io/dry-run"

    /// The RBAC filters for one workload.
    struct Output {
        var httpFilters: [HttpFilter] = []
        var networkFilters: [Envoy_Config_Listener_V3_Filter] = []
        var diagnostics: [SecurityDiagnostic] = []
    }

    func build(_ policies: [Resource<AuthorizationPolicy>]) -> Output {
        var output = Output()
        let ordered: [(AuthorizationPolicy.Action, RBAC.Action)] = [(.AUDIT, .log), (.CUSTOM, .deny), (.DENY, .deny), (.ALLOW, .allow)]
        for (action, rbacAction) in ordered {
            let group = policies.filter { ($0.spec.action ?? .ALLOW) == action }
            guard !group.isEmpty else { continue }
            if action == .CUSTOM {
                for policy in group {
                    let provider = policy.spec.provider?.name ?? ""
                    output.diagnostics.append(SecurityDiagnostic(
                        policy, field: "spec.action",
                        message: "CUSTOM authorization (provider \"\(provider)\") is unsupported until an extension provider exists; requests its rules match are denied (fail closed)"))
                }
            }
            for target in [Target.http, .tcp] {
                var rules: [String: Policy] = [:]
                var shadow: [String: Policy] = [:]
                var enforced = false, dryRun = false
                for policy in group {
                    let isDryRun = policy.meta.annotations[Self.dryRunAnnotation]?.lowercased() == "true"
                    if isDryRun { dryRun = true } else { enforced = true }
                    for (index, rule) in (policy.spec.rules ?? []).enumerated() {
                        let (built, problems) = self.policy(rule, action: action, target: target, namespace: policy.meta.namespace)
                        if target == .http {
                            output.diagnostics += problems.map { SecurityDiagnostic(policy, field: "spec.rules[\(index)]", message: $0) }
                        }
                        guard let built else { continue }
                        let name = "ns[\(policy.meta.namespace)]-policy[\(policy.meta.name)]-rule[\(index)]"
                        if isDryRun { shadow[name] = built } else { rules[name] = built }
                    }
                }
                // ALLOW policies deny what they do not match, so they are enforced even without
                // rules; the other actions only act through their rules.
                let hasRules = action == .ALLOW ? enforced : !rules.isEmpty
                let hasShadow = action == .ALLOW ? dryRun : !shadow.isEmpty
                guard hasRules || hasShadow else { continue }
                let rulesConfig = hasRules ? RBAC.with { $0.action = rbacAction; $0.policies = rules } : nil
                let shadowConfig = hasShadow ? RBAC.with { $0.action = rbacAction; $0.policies = shadow } : nil
                let shadowPrefix = "istio_dry_run_\(rbacAction == .allow ? "allow" : "deny")_"
                switch target {
                case .http:
                    let config = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.with {
                        if let rulesConfig { $0.rules = rulesConfig }
                        if let shadowConfig { $0.shadowRules = shadowConfig; $0.shadowRulesStatPrefix = shadowPrefix }
                    }
                    output.httpFilters.append(.with { $0.name = Self.httpFilterName; $0.typedConfig = Proto.any(config) })
                case .tcp:
                    let config = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.with {
                        $0.statPrefix = "tcp."
                        if let rulesConfig { $0.rules = rulesConfig }
                        if let shadowConfig { $0.shadowRules = shadowConfig; $0.shadowRulesStatPrefix = shadowPrefix }
                    }
                    output.networkFilters.append(.with { $0.name = Self.networkFilterName; $0.typedConfig = Proto.any(config) })
                }
            }
        }
        return output
    }

    // MARK: Rules

    /// One rule as an Envoy policy, or nil when it cannot match for `target`.
    func policy(_ rule: AuthorizationPolicy.Rule, action: AuthorizationPolicy.Action, target: Target, namespace: String) -> (Policy?, [String]) {
        var context = RuleContext(builder: self, denyLike: action == .DENY || action == .CUSTOM, target: target, namespace: namespace)
        // Conditions become principals (about the caller) or permissions (about the destination).
        var principalConditions: [Principal] = []
        var permissionConditions: [Permission] = []
        for condition in rule.when ?? [] {
            guard let key = condition.key else { continue }
            switch context.condition(key: key, values: condition.values, notValues: condition.notValues) {
            case .principal(let p)?: principalConditions.append(p)
            case .permission(let p)?: permissionConditions.append(p)
            case nil: break
            }
        }
        var principals: [Principal] = []
        if let from = rule.from {
            for item in from {
                guard let source = item.source else { continue }
                principals.append(Self.and(context.source(source) + principalConditions))
            }
        } else {
            principals = [Self.and(principalConditions)]
        }
        var permissions: [Permission] = []
        if let to = rule.to {
            for item in to {
                guard let operation = item.operation else { continue }
                permissions.append(Self.and(context.operation(operation) + permissionConditions))
            }
        } else {
            permissions = [Self.and(permissionConditions)]
        }
        if context.skipRule || principals.isEmpty || permissions.isEmpty {
            return (nil, context.problems)
        }
        return (Policy.with { $0.principals = principals; $0.permissions = permissions }, context.problems)
    }

    // MARK: Combinators

    static let anyPrincipal = Principal.with { $0.any = true }
    static let anyPermission = Permission.with { $0.any = true }
    static let noPrincipal = Principal.with { $0.notID = anyPrincipal }
    static let noPermission = Permission.with { $0.notRule = anyPermission }

    static func and(_ ids: [Principal]) -> Principal {
        switch ids.count {
        case 0: anyPrincipal
        case 1: ids[0]
        default: .with { $0.andIds = .with { $0.ids = ids } }
        }
    }

    static func or(_ ids: [Principal]) -> Principal {
        switch ids.count {
        case 0: noPrincipal
        case 1: ids[0]
        default: .with { $0.orIds = .with { $0.ids = ids } }
        }
    }

    static func and(_ rules: [Permission]) -> Permission {
        switch rules.count {
        case 0: anyPermission
        case 1: rules[0]
        default: .with { $0.andRules = .with { $0.rules = rules } }
        }
    }

    static func or(_ rules: [Permission]) -> Permission {
        switch rules.count {
        case 0: noPermission
        case 1: rules[0]
        default: .with { $0.orRules = .with { $0.rules = rules } }
        }
    }

    /// Istio's string matching: `*` any non-empty value, `*x` suffix, `x*` prefix, else exact.
    static func stringMatcher(_ value: String, prefix: String = "", ignoreCase: Bool = false) -> StringMatcher {
        .with {
            if value == "*" {
                $0.safeRegex = .with { $0.regex = prefix.isEmpty ? ".+" : "\(regexEscape(prefix)).+" }
            } else if value.hasPrefix("*") {
                $0.suffix = String(value.dropFirst())
            } else if value.hasSuffix("*") {
                $0.prefix = prefix + value.dropLast()
            } else {
                $0.exact = prefix + value
            }
            if ignoreCase { $0.ignoreCase = true }
        }
    }

    static func regexEscape(_ text: some StringProtocol) -> String {
        var out = ""
        for c in text {
            if "\\.^$|?*+()[]{}".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// Translation state of one rule: where it is enforced and what went wrong.
private struct RuleContext {
    typealias Principal = RBACBuilder.Principal
    typealias Permission = RBACBuilder.Permission

    enum Matcher { case principal(Principal), permission(Permission) }

    let builder: RBACBuilder
    /// DENY and CUSTOM: an unusable part matches everything, so the rule denies more.
    let denyLike: Bool
    let target: RBACBuilder.Target
    let namespace: String
    /// Set when an ALLOW or AUDIT rule uses an attribute that cannot match for the target.
    var skipRule = false
    var problems: [String] = []

    /// True when an HTTP-only attribute may be used; otherwise records what happens to it.
    mutating func httpOnly(_ name: String) -> Bool {
        guard target == .tcp else { return true }
        if !denyLike { skipRule = true }
        return false
    }

    /// A value that cannot be translated: it matches everything in DENY rules and nothing otherwise.
    mutating func invalid(_ field: String, _ value: String) -> (Principal, Permission) {
        if target == .http { problems.append("\(field) value \"\(value)\" cannot be translated; it \(denyLike ? "matches every request (fail closed)" : "matches nothing")") }
        return denyLike ? (RBACBuilder.anyPrincipal, RBACBuilder.anyPermission) : (RBACBuilder.noPrincipal, RBACBuilder.noPermission)
    }

    /// `values` (any of) and `notValues` (none of) of one attribute.
    func combine(_ values: [Principal]?, _ notValues: [Principal]?) -> [Principal] {
        var out: [Principal] = []
        if let values, !values.isEmpty { out.append(RBACBuilder.or(values)) }
        if let notValues, !notValues.isEmpty { out.append(.with { $0.notID = RBACBuilder.or(notValues) }) }
        return out
    }

    func combine(_ values: [Permission]?, _ notValues: [Permission]?) -> [Permission] {
        var out: [Permission] = []
        if let values, !values.isEmpty { out.append(RBACBuilder.or(values)) }
        if let notValues, !notValues.isEmpty { out.append(.with { $0.notRule = RBACBuilder.or(notValues) }) }
        return out
    }

    // MARK: Source

    mutating func source(_ s: AuthorizationPolicy.Source) -> [Principal] {
        var out: [Principal] = []
        out += combine(s.principals.map(principals), s.notPrincipals.map(principals))
        if s.requestPrincipals != nil || s.notRequestPrincipals != nil, httpOnly("requestPrincipals") {
            out += combine(s.requestPrincipals?.map(requestPrincipal), s.notRequestPrincipals?.map(requestPrincipal))
        }
        out += combine(s.namespaces?.map(namespacePrincipal), s.notNamespaces?.map(namespacePrincipal))
        out += combine(s.serviceAccounts?.map(serviceAccount), s.notServiceAccounts?.map(serviceAccount))
        out += combine(s.trustDomains?.map(trustDomain), s.notTrustDomains?.map(trustDomain))
        out += combine(s.ipBlocks?.map { cidrPrincipal($0, field: "ipBlocks", remote: false) },
                       s.notIpBlocks?.map { cidrPrincipal($0, field: "notIpBlocks", remote: false) })
        out += combine(s.remoteIpBlocks?.map { cidrPrincipal($0, field: "remoteIpBlocks", remote: true) },
                       s.notRemoteIpBlocks?.map { cidrPrincipal($0, field: "notRemoteIpBlocks", remote: true) })
        return out
    }

    /// Peer principals (`cluster.local/ns/foo/sa/bar`, with `*` prefix/suffix wildcards) against
    /// the URI SAN, expanded to every trust domain alias.
    func principals(_ values: [String]) -> [Principal] {
        let domains = [builder.trustDomain] + builder.trustDomainAliases
        var expanded: [String] = []
        for value in values {
            expanded.append(value)
            guard !builder.trustDomainAliases.isEmpty, !value.hasPrefix("*"), let slash = value.firstIndex(of: "/") else { continue }
            let domain = String(value[..<slash])
            guard domains.contains(domain) || domain == "cluster.local" else { continue }
            expanded += domains.map { $0 + value[slash...] }
        }
        var seen = Set<String>()
        return expanded.filter { seen.insert($0).inserted }.map { value in
            authenticated(RBACBuilder.stringMatcher(value, prefix: value == "*" ? "" : "spiffe://"))
        }
    }

    func authenticated(_ matcher: RBACBuilder.StringMatcher) -> Principal {
        .with { $0.authenticated = .with { $0.principalName = matcher } }
    }

    func regexPrincipal(_ regex: String) -> Principal {
        authenticated(.with { $0.safeRegex = .with { $0.regex = regex } })
    }

    /// A namespace as a pattern over the SPIFFE ID's `/ns/<namespace>/` segment.
    func namespacePrincipal(_ value: String) -> Principal {
        let segment: String
        if value == "*" {
            segment = "[^/]+"
        } else if value.hasPrefix("*") {
            segment = "[^/]*" + RBACBuilder.regexEscape(value.dropFirst())
        } else if value.hasSuffix("*") {
            segment = RBACBuilder.regexEscape(value.dropLast()) + "[^/]*"
        } else {
            segment = RBACBuilder.regexEscape(value)
        }
        return regexPrincipal("spiffe://[^/]+/ns/\(segment)/.*")
    }

    /// `namespace/account` or `account` (in the policy's namespace), in any trust domain of the bundle.
    func serviceAccount(_ value: String) -> Principal {
        let parts = value.split(separator: "/", maxSplits: 1).map(String.init)
        let (ns, sa) = parts.count == 2 ? (parts[0], parts[1]) : (namespace, value)
        let ids = ([builder.trustDomain] + builder.trustDomainAliases).map { domain in
            authenticated(.with { $0.exact = TLSContexts.spiffeID(trustDomain: domain, namespace: ns, serviceAccount: sa) })
        }
        return RBACBuilder.or(ids)
    }

    func trustDomain(_ value: String) -> Principal {
        if value == "*" { return authenticated(.with { $0.prefix = "spiffe://" }) }
        if value.hasPrefix("*") { return regexPrincipal("spiffe://[^/]*\(RBACBuilder.regexEscape(value.dropFirst()))/.*") }
        if value.hasSuffix("*") { return authenticated(.with { $0.prefix = "spiffe://\(value.dropLast())" }) }
        return authenticated(.with { $0.prefix = "spiffe://\(value)/" })
    }

    mutating func cidrPrincipal(_ value: String, field: String, remote: Bool) -> Principal {
        guard let range = Self.cidr(value) else { return invalid(field, value).0 }
        return remote ? .with { $0.remoteIp = range } : .with { $0.directRemoteIp = range }
    }

    static func cidr(_ value: String) -> Envoy_Config_Core_V3_CidrRange? {
        if let range = CIDRRange(value) {
            return .with { $0.addressPrefix = "\(range.address)"; $0.prefixLen = .init(UInt32(range.prefixLength)) }
        }
        guard let ip = IPAddress(value) else { return nil }
        let length: UInt32
        if case .v4 = ip { length = 32 } else { length = 128 }
        return .with { $0.addressPrefix = "\(ip)"; $0.prefixLen = .init(length) }
    }

    // MARK: Request principals and claims (jwt_authn payload metadata, keyed by issuer)

    static let jwtFilter = JWTAuthenticationBuilder.filterName

    func payload(issuer: String, path: [String], _ value: Envoy_Type_Matcher_V3_ValueMatcher) -> Principal {
        .with {
            $0.sourcedMetadata = .with {
                $0.metadataMatcher = .with {
                    $0.filter = Self.jwtFilter
                    $0.path = ([issuer] + path).map { key in .with { $0.key = key } }
                    $0.value = value
                }
            }
        }
    }

    static func stringValue(_ matcher: RBACBuilder.StringMatcher) -> Envoy_Type_Matcher_V3_ValueMatcher {
        .with { $0.stringMatch = matcher }
    }

    static let present = Envoy_Type_Matcher_V3_ValueMatcher.with { $0.presentMatch = true }

    /// `iss/sub` of a verified token; `*` wildcards apply to the whole `iss/sub` string.
    func requestPrincipal(_ value: String) -> Principal {
        var alternatives: [Principal] = []
        for issuer in builder.issuers {
            let lead = issuer + "/"
            if value == "*" {
                alternatives.append(payload(issuer: issuer, path: ["iss"], Self.present))
            } else if value.hasPrefix("*") {
                let suffix = String(value.dropFirst())
                alternatives.append(payload(issuer: issuer, path: ["sub"], Self.stringValue(.with { $0.suffix = suffix })))
                // A suffix longer than the subject reaches into the issuer: split it at each '/'.
                var index = suffix.startIndex
                while let slash = suffix[index...].firstIndex(of: "/") {
                    let head = suffix[..<slash], tail = String(suffix[suffix.index(after: slash)...])
                    if issuer.hasSuffix(head), !tail.isEmpty {
                        alternatives.append(payload(issuer: issuer, path: ["sub"], Self.stringValue(.with { $0.exact = tail })))
                    }
                    index = suffix.index(after: slash)
                }
            } else if value.hasSuffix("*") {
                let prefix = String(value.dropLast())
                if prefix.hasPrefix(lead) {
                    let rest = String(prefix.dropFirst(lead.count))
                    alternatives.append(payload(issuer: issuer, path: ["sub"], rest.isEmpty ? Self.present : Self.stringValue(.with { $0.prefix = rest })))
                } else if lead.hasPrefix(prefix) {
                    alternatives.append(payload(issuer: issuer, path: ["sub"], Self.present))
                }
            } else if value.hasPrefix(lead), value.count > lead.count {
                alternatives.append(payload(issuer: issuer, path: ["sub"], Self.stringValue(.with { $0.exact = String(value.dropFirst(lead.count)) })))
            }
        }
        return RBACBuilder.or(alternatives)
    }

    /// A claim (nested by path) equal to one of the values, as a string or as an element of a list.
    func claim(_ path: [String], _ value: String) -> Principal {
        let matcher: Envoy_Type_Matcher_V3_ValueMatcher
        if value == "*" {
            matcher = Self.present
        } else {
            let string = Self.stringValue(RBACBuilder.stringMatcher(value))
            matcher = .with {
                $0.orMatch = .with {
                    $0.valueMatchers = [string, .with { $0.listMatch = .with { $0.oneOf = string } }]
                }
            }
        }
        return RBACBuilder.or(builder.issuers.map { payload(issuer: $0, path: path, matcher) })
    }

    // MARK: Operation

    mutating func operation(_ o: AuthorizationPolicy.Operation) -> [Permission] {
        var out: [Permission] = []
        if o.hosts != nil || o.notHosts != nil, httpOnly("hosts") {
            out += combine(o.hosts?.map { header(":authority", $0, ignoreCase: true) }, o.notHosts?.map { header(":authority", $0, ignoreCase: true) })
        }
        out += combine(o.ports?.map { port($0, field: "ports") }, o.notPorts?.map { port($0, field: "notPorts") })
        if o.methods != nil || o.notMethods != nil, httpOnly("methods") {
            out += combine(o.methods?.map { header(":method", $0) }, o.notMethods?.map { header(":method", $0) })
        }
        if o.paths != nil || o.notPaths != nil, httpOnly("paths") {
            out += combine(o.paths?.map(path), o.notPaths?.map(path))
        }
        return out
    }

    func headerMatcher(_ name: String, _ value: String, ignoreCase: Bool = false) -> Envoy_Config_Route_V3_HeaderMatcher {
        .with {
            $0.name = name
            if value == "*" {
                $0.presentMatch = true
            } else {
                $0.stringMatch = RBACBuilder.stringMatcher(value, ignoreCase: ignoreCase)
            }
        }
    }

    func header(_ name: String, _ value: String, ignoreCase: Bool = false) -> Permission {
        .with { $0.header = headerMatcher(name, value, ignoreCase: ignoreCase) }
    }

    mutating func port(_ value: String, field: String) -> Permission {
        guard let number = UInt32(value), number > 0, number <= 65535 else { return invalid(field, value).1 }
        return .with { $0.destinationPort = number }
    }

    /// A path without its query: exact, `*` prefix/suffix, or a template where Istio's `{*}`
    /// (one segment) and `{**}` (any remainder) become Envoy's URI template `*` and `**`.
    func path(_ value: String) -> Permission {
        if value.contains("{*") {
            let template = value.replacing("{**}", with: "**").replacing("{*}", with: "*")
            return .with {
                $0.uriTemplate = .with {
                    $0.name = "uri-template"
                    $0.typedConfig = Proto.any(Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig.with { $0.pathTemplate = template })
                }
            }
        }
        return .with { $0.urlPath = .with { $0.path = RBACBuilder.stringMatcher(value) } }
    }

    // MARK: Conditions

    mutating func condition(key: String, values: [String]?, notValues: [String]?) -> Matcher? {
        func asPrincipals(_ make: (String) -> Principal) -> Matcher? {
            let items = combine(values?.map(make), notValues?.map(make))
            return items.isEmpty ? nil : .principal(RBACBuilder.and(items))
        }
        func asPermissions(_ make: (String) -> Permission) -> Matcher? {
            let items = combine(values?.map(make), notValues?.map(make))
            return items.isEmpty ? nil : .permission(RBACBuilder.and(items))
        }
        if key.hasPrefix("request.headers[") {
            guard httpOnly(key) else { return nil }
            let name = String(key.dropFirst("request.headers[".count).dropLast())
            return asPrincipals { value in .with { $0.header = headerMatcher(name, value) } }
        }
        if key.hasPrefix("request.auth.claims[") {
            guard httpOnly(key) else { return nil }
            let path = Self.bracketKeys(key.dropFirst("request.auth.claims".count))
            return asPrincipals { claim(path, $0) }
        }
        if key.hasPrefix("experimental.envoy.filters.") {
            guard let bracket = key.firstIndex(of: "[") else {
                let (principal, _) = invalid(key, key)
                return .principal(principal)
            }
            let filter = String(key[key.index(key.startIndex, offsetBy: "experimental.".count)..<bracket])
            let path = Self.bracketKeys(key[bracket...])
            return asPermissions { value in
                let string = Self.stringValue(RBACBuilder.stringMatcher(value))
                return .with {
                    $0.sourcedMetadata = .with {
                        $0.metadataMatcher = .with {
                            $0.filter = filter
                            $0.path = path.map { k in .with { $0.key = k } }
                            $0.value = .with { $0.orMatch = .with { $0.valueMatchers = [string, .with { $0.listMatch = .with { $0.oneOf = string } }] } }
                        }
                    }
                }
            }
        }
        var this = self
        defer { self = this }
        switch key {
        case "source.ip":
            return asPrincipals { this.cidrPrincipal($0, field: key, remote: false) }
        case "remote.ip":
            return asPrincipals { this.cidrPrincipal($0, field: key, remote: true) }
        case "source.namespace":
            return asPrincipals(namespacePrincipal)
        case "source.principal":
            return asPrincipals { RBACBuilder.or(this.principals([$0])) }
        case "source.serviceAccount":
            return asPrincipals(serviceAccount)
        case "source.trustDomain":
            return asPrincipals(trustDomain)
        case "request.auth.principal":
            guard this.httpOnly(key) else { return nil }
            return asPrincipals(requestPrincipal)
        case "request.auth.audiences":
            guard this.httpOnly(key) else { return nil }
            return asPrincipals { claim(["aud"], $0) }
        case "request.auth.presenter":
            guard this.httpOnly(key) else { return nil }
            return asPrincipals { claim(["azp"], $0) }
        case "destination.ip":
            return asPermissions { value in
                guard let range = Self.cidr(value) else { return this.invalid(key, value).1 }
                return .with { $0.destinationIp = range }
            }
        case "destination.port":
            return asPermissions { this.port($0, field: key) }
        case "connection.sni":
            return asPermissions { value in .with { $0.requestedServerName = RBACBuilder.stringMatcher(value) } }
        default:
            let (principal, _) = this.invalid("when key", key)
            return .principal(principal)
        }
    }

    /// `[a][b]` → `["a", "b"]`.
    static func bracketKeys(_ text: Substring) -> [String] {
        var keys: [String] = []
        var rest = text
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            keys.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return keys
    }
}
