internal import MeshXDS
public import NIOHTTP1
public import SwiftProtobuf

/// Why a filter's configuration is rejected: the proto field path inside the filter's
/// `typed_config` and what is wrong. Becomes part of the NACK's `error_detail`.
public struct FilterConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field path inside the filter configuration (`rules.policies["p"].permissions[0]`).
    public var field: String
    /// What is wrong, in a sentence.
    public var message: String
    /// Whether the configuration is valid for Envoy but uses something this proxy does not
    /// implement (reported as unsupported rather than invalid).
    public var isUnsupported: Bool

    /// - Parameters: see the properties.
    public init(field: String, _ message: String, isUnsupported: Bool = false) {
        self.field = field
        self.message = message
        self.isUnsupported = isUnsupported
    }

    /// A valid setting this proxy does not implement.
    public static func unsupported(field: String, _ message: String) -> FilterConfigurationError {
        FilterConfigurationError(field: field, message, isUnsupported: true)
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }

    /// Runs a route-matcher compiler (``StringMatcher``, ``HeaderMatcher``) and re-labels its errors.
    static func wrapping<T>(_ body: (RouteConfigurationContext) throws(ProxyConfigurationError) -> T) throws(FilterConfigurationError) -> T {
        do {
            return try body(RouteConfigurationContext(resourceName: ""))
        } catch {
            throw FilterConfigurationError(field: error.field, error.message)
        }
    }
}

/// What RBAC policies and JWT requirements look at: the connection, and for HTTP the request.
///
/// Addresses are raw bytes (4 for IPv4, 16 for IPv6). `remoteAddress` is Envoy's "downstream remote
/// address" (for HTTP it may come from `x-forwarded-for`, see
/// ``HTTPFilterContext/downstreamEffectiveRemoteAddress``); `directRemoteAddress` is the peer of the
/// TCP connection.
public struct RBACAttributes: Sendable {
    /// The request head (method, path with query, headers with `host`), nil for a network filter.
    public var request: HTTPRequestHead?
    /// `http` or `https` (the `:scheme` pseudo-header).
    public var scheme: String
    /// The TCP peer's address bytes.
    public var directRemoteAddress: [UInt8]
    /// The downstream remote address after `x-forwarded-for` processing (HTTP) or the peer (TCP).
    public var remoteAddress: [UInt8]
    /// The local (destination) address bytes.
    public var localAddress: [UInt8]
    /// The local (destination) port.
    public var localPort: Int
    /// The TLS session, nil for plaintext.
    public var tls: DownstreamTLSInfo?
    /// Dynamic metadata by filter namespace (`envoy.filters.http.jwt_authn`, ...).
    public var dynamicMetadata: [String: Google_Protobuf_Struct]

    /// - Parameters: see the properties.
    public init(request: HTTPRequestHead? = nil, scheme: String = "http", directRemoteAddress: [UInt8] = [], remoteAddress: [UInt8]? = nil,
                localAddress: [UInt8] = [], localPort: Int = 0, tls: DownstreamTLSInfo? = nil, dynamicMetadata: [String: Google_Protobuf_Struct] = [:]) {
        self.request = request
        self.scheme = scheme
        self.directRemoteAddress = directRemoteAddress
        self.remoteAddress = remoteAddress ?? directRemoteAddress
        self.localAddress = localAddress
        self.localPort = localPort
        self.tls = tls
        self.dynamicMetadata = dynamicMetadata
    }

    /// A header's joined value; pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`) come
    /// from the request line, as Envoy stores them in the header map. Nil without a request.
    func headerValue(_ lowercasedName: String) -> String? {
        guard let request else { return nil }
        switch lowercasedName {
        case ":method": return request.method.rawValue
        case ":path": return request.uri
        case ":authority", "host": return request.headers.first(name: "host")
        case ":scheme": return scheme
        default: return request.headers.joinedValue(lowercasedName: lowercasedName)
        }
    }

    /// The path without query and fragment, nil without a request.
    var path: Substring? { request.map { ASCII.pathWithoutQuery($0.uri) } }
}

extension DynamicMetadataMatcher {
    /// A `sourced_metadata` rule of a permission or principal (`field` names that rule): only
    /// DYNAMIC metadata exists in the Swift proxy.
    init(sourced: Envoy_Config_Rbac_V3_SourcedMetadata, field: String) throws(FilterConfigurationError) {
        guard sourced.metadataSource == .dynamic else {
            throw FilterConfigurationError.unsupported(field: field + ".sourced_metadata.metadata_source", "ROUTE metadata is not supported by the Swift proxy; only DYNAMIC")
        }
        try self.init(sourced.metadataMatcher, field: field + ".sourced_metadata.metadata_matcher")
    }
}

/// Envoy's URI template path matcher (`envoy.path.match.uri_template.uri_template_matcher`):
/// `/` separated literal segments, `*` (one segment), `**` (the rest, last operator only) and
/// `{name}` / `{name=*}` / `{name=**}` variables, matched against the path without its query.
enum URITemplate {
    static let segmentCharacters = "a-zA-Z0-9\\-._~%!$&'()+,;:@="

    static func regex(_ template: String, field: String) throws(FilterConfigurationError) -> CompiledRegex {
        guard template.hasPrefix("/") else { throw FilterConfigurationError(field: field, "path template \"\(template)\" must start with /") }
        let one = "[\(segmentCharacters)]+"
        let rest = "[\(segmentCharacters)/]*"
        var pattern = ""
        var sawTextGlob = false
        let segments = template.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            pattern += "/"
            var operatorText = String(segment)
            if segment.hasPrefix("{"), segment.hasSuffix("}") {
                let inner = segment.dropFirst().dropLast()
                if let equals = inner.firstIndex(of: "=") { operatorText = String(inner[inner.index(after: equals)...]) } else { operatorText = "*" }
            }
            switch operatorText {
            case "*":
                guard !sawTextGlob else { throw FilterConfigurationError(field: field, "path template \"\(template)\": ** must be the last operator") }
                pattern += one
            case "**":
                guard !sawTextGlob, index == segments.count - 1 else { throw FilterConfigurationError(field: field, "path template \"\(template)\": ** must be the last operator") }
                sawTextGlob = true
                // `/**` also matches the bare prefix without a trailing segment.
                pattern.removeLast()
                pattern += "(?:/\(rest))?"
            default:
                guard !operatorText.contains("*"), !operatorText.contains("{"), !operatorText.contains("}") else {
                    throw FilterConfigurationError(field: field, "path template \"\(template)\": segment \"\(segment)\" mixes literals and operators")
                }
                pattern += escape(operatorText)
            }
        }
        do { return try CompiledRegex(pattern) } catch {
            throw FilterConfigurationError(field: field, "path template \"\(template)\" does not compile: \(error)")
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\.^$|?*+()[]{}-".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

/// An IP prefix from RBAC's `CidrRange` fields.
extension CIDRRange {
    init(rbac range: Envoy_Config_Core_V3_CidrRange, field: String) throws(FilterConfigurationError) {
        guard let bytes = IPAddressBytes.parse(range.addressPrefix) else {
            throw FilterConfigurationError(field: field + ".address_prefix", "\"\(range.addressPrefix)\" is not an IP address")
        }
        let length = range.hasPrefixLen ? Int(range.prefixLen.value) : bytes.count * 8
        guard length <= bytes.count * 8 else { throw FilterConfigurationError(field: field + ".prefix_len", "prefix length \(length) is longer than the address") }
        self.bytes = bytes
        self.prefixLength = length
    }
}

/// Envoy's `config.rbac.v3.Permission`, compiled: what the request or connection does.
indirect enum RBACPermission: Sendable {
    case and([RBACPermission])
    case or([RBACPermission])
    case not(RBACPermission)
    case any
    case header(HeaderMatcher)
    case urlPath(StringMatcher)
    case uriTemplate(CompiledRegex)
    case destinationIP(CIDRRange)
    case destinationPort(Int)
    case destinationPortRange(Range<Int>)
    case metadata(DynamicMetadataMatcher)
    case requestedServerName(StringMatcher)

    init(_ proto: Envoy_Config_Rbac_V3_Permission, field: String) throws(FilterConfigurationError) {
        switch proto.rule {
        case .andRules(let set):
            self = .and(try Self.list(set.rules, field: field + ".and_rules.rules"))
        case .orRules(let set):
            self = .or(try Self.list(set.rules, field: field + ".or_rules.rules"))
        case .notRule(let inner):
            self = .not(try RBACPermission(inner, field: field + ".not_rule"))
        case .any(let any):
            guard any else { throw FilterConfigurationError(field: field + ".any", "must be true") }
            self = .any
        case .header(let header):
            self = .header(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try HeaderMatcher(header, field + ".header", c) })
        case .urlPath(let path):
            guard case .path(let matcher)? = path.rule else { throw FilterConfigurationError(field: field + ".url_path", "needs path") }
            self = .urlPath(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try StringMatcher(matcher, field + ".url_path.path", c) })
        case .uriTemplate(let extensionConfig):
            let typeName = HTTPFilterRegistry.typeName(extensionConfig.typedConfig.typeURL)
            guard typeName == "envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig" else {
                throw FilterConfigurationError(field: field + ".uri_template.typed_config", "\(extensionConfig.typedConfig.typeURL) is not a URI template matcher")
            }
            let config: Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig
            do { config = try .init(unpackingAny: extensionConfig.typedConfig) } catch {
                throw FilterConfigurationError(field: field + ".uri_template.typed_config", "cannot decode: \(error)")
            }
            self = .uriTemplate(try URITemplate.regex(config.pathTemplate, field: field + ".uri_template.typed_config.path_template"))
        case .destinationIp(let range):
            self = .destinationIP(try CIDRRange(rbac: range, field: field + ".destination_ip"))
        case .destinationPort(let port):
            guard port <= 65535 else { throw FilterConfigurationError(field: field + ".destination_port", "\(port) is not a port") }
            self = .destinationPort(Int(port))
        case .destinationPortRange(let range):
            guard range.start <= range.end else { throw FilterConfigurationError(field: field + ".destination_port_range", "start is greater than end") }
            self = .destinationPortRange(Int(range.start)..<Int(range.end))
        case .metadata(let matcher):
            self = .metadata(try DynamicMetadataMatcher(matcher, field: field + ".metadata"))
        case .sourcedMetadata(let sourced):
            self = .metadata(try DynamicMetadataMatcher(sourced: sourced, field: field))
        case .requestedServerName(let matcher):
            self = .requestedServerName(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try StringMatcher(matcher, field + ".requested_server_name", c) })
        case .matcher:
            throw FilterConfigurationError.unsupported(field: field + ".matcher", "extension permission matchers are not supported by the Swift proxy")
        case nil:
            throw FilterConfigurationError(field: field, "a permission needs a rule")
        }
    }

    private static func list(_ items: [Envoy_Config_Rbac_V3_Permission], field: String) throws(FilterConfigurationError) -> [RBACPermission] {
        var out: [RBACPermission] = []
        for (index, item) in items.enumerated() { out.append(try RBACPermission(item, field: "\(field)[\(index)]")) }
        return out
    }

    func matches(_ attributes: RBACAttributes) -> Bool {
        switch self {
        case .and(let rules): return rules.allSatisfy { $0.matches(attributes) }
        case .or(let rules): return rules.contains { $0.matches(attributes) }
        case .not(let rule): return !rule.matches(attributes)
        case .any: return true
        case .header(let matcher):
            guard attributes.request != nil else { return false }
            return matcher.matches(value: attributes.headerValue(matcher.name))
        case .urlPath(let matcher):
            guard let path = attributes.path else { return false }
            return matcher.matches(path)
        case .uriTemplate(let regex):
            guard let path = attributes.path else { return false }
            return regex.wholeMatch(path)
        case .destinationIP(let range): return range.contains(attributes.localAddress)
        case .destinationPort(let port): return attributes.localPort == port
        case .destinationPortRange(let range): return range.contains(attributes.localPort)
        case .metadata(let matcher): return matcher.matches(attributes.dynamicMetadata)
        case .requestedServerName(let matcher): return matcher.matches((attributes.tls?.serverName ?? "")[...])
        }
    }
}

/// Envoy's `config.rbac.v3.Principal`, compiled: who makes the request.
indirect enum RBACPrincipal: Sendable {
    case and([RBACPrincipal])
    case or([RBACPrincipal])
    case not(RBACPrincipal)
    case any
    case authenticated(StringMatcher?)
    case directRemoteIP(CIDRRange)
    case remoteIP(CIDRRange)
    case header(HeaderMatcher)
    case urlPath(StringMatcher)
    case metadata(DynamicMetadataMatcher)

    init(_ proto: Envoy_Config_Rbac_V3_Principal, field: String) throws(FilterConfigurationError) {
        switch proto.identifier {
        case .andIds(let set): self = .and(try Self.list(set.ids, field: field + ".and_ids.ids"))
        case .orIds(let set): self = .or(try Self.list(set.ids, field: field + ".or_ids.ids"))
        case .notID(let inner): self = .not(try RBACPrincipal(inner, field: field + ".not_id"))
        case .any(let any):
            guard any else { throw FilterConfigurationError(field: field + ".any", "must be true") }
            self = .any
        case .authenticated(let authenticated):
            if authenticated.hasPrincipalName {
                self = .authenticated(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in
                    try StringMatcher(authenticated.principalName, field + ".authenticated.principal_name", c)
                })
            } else {
                self = .authenticated(nil)
            }
        case .sourceIp(let range): self = .directRemoteIP(try CIDRRange(rbac: range, field: field + ".source_ip"))
        case .directRemoteIp(let range): self = .directRemoteIP(try CIDRRange(rbac: range, field: field + ".direct_remote_ip"))
        case .remoteIp(let range): self = .remoteIP(try CIDRRange(rbac: range, field: field + ".remote_ip"))
        case .header(let header):
            self = .header(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try HeaderMatcher(header, field + ".header", c) })
        case .urlPath(let path):
            guard case .path(let matcher)? = path.rule else { throw FilterConfigurationError(field: field + ".url_path", "needs path") }
            self = .urlPath(try FilterConfigurationError.wrapping { (c) throws(ProxyConfigurationError) in try StringMatcher(matcher, field + ".url_path.path", c) })
        case .metadata(let matcher): self = .metadata(try DynamicMetadataMatcher(matcher, field: field + ".metadata"))
        case .sourcedMetadata(let sourced): self = .metadata(try DynamicMetadataMatcher(sourced: sourced, field: field))
        case .filterState:
            throw FilterConfigurationError.unsupported(field: field + ".filter_state", "filter state principals are not supported by the Swift proxy")
        case .custom:
            throw FilterConfigurationError.unsupported(field: field + ".custom", "custom principal extensions are not supported by the Swift proxy")
        case nil:
            throw FilterConfigurationError(field: field, "a principal needs an identifier")
        }
    }

    private static func list(_ items: [Envoy_Config_Rbac_V3_Principal], field: String) throws(FilterConfigurationError) -> [RBACPrincipal] {
        var out: [RBACPrincipal] = []
        for (index, item) in items.enumerated() { out.append(try RBACPrincipal(item, field: "\(field)[\(index)]")) }
        return out
    }

    func matches(_ attributes: RBACAttributes) -> Bool {
        switch self {
        case .and(let ids): return ids.allSatisfy { $0.matches(attributes) }
        case .or(let ids): return ids.contains { $0.matches(attributes) }
        case .not(let id): return !id.matches(attributes)
        case .any: return true
        case .authenticated(let matcher):
            // Envoy: a TLS connection is required; without a name any TLS peer matches; otherwise
            // every URI SAN, then every DNS SAN, then the subject is tried.
            guard let tls = attributes.tls else { return false }
            guard let matcher else { return true }
            guard tls.peerCertificatePresented else { return false }
            if tls.peerURISANs.contains(where: { matcher.matches($0[...]) }) { return true }
            if tls.peerDNSSANs.contains(where: { matcher.matches($0[...]) }) { return true }
            return matcher.matches(tls.peerSubject[...])
        case .directRemoteIP(let range): return range.contains(attributes.directRemoteAddress)
        case .remoteIP(let range): return range.contains(attributes.remoteAddress)
        case .header(let matcher):
            guard attributes.request != nil else { return false }
            return matcher.matches(value: attributes.headerValue(matcher.name))
        case .urlPath(let matcher):
            guard let path = attributes.path else { return false }
            return matcher.matches(path)
        case .metadata(let matcher): return matcher.matches(attributes.dynamicMetadata)
        }
    }
}

/// One `config.rbac.v3.RBAC` (the enforced `rules` or the `shadow_rules`), compiled: an action and
/// named policies, evaluated in name order as Envoy's ordered map.
public struct RBACEngine: Sendable {
    /// What a matching policy means.
    public enum Action: Sendable, Hashable {
        /// Allow only requests some policy matches.
        case allow
        /// Deny requests some policy matches.
        case deny
        /// Allow everything; record whether a policy matched (`access_log_hint`).
        case log
    }

    /// The outcome for one request or connection.
    public struct Decision: Sendable, Hashable {
        /// Whether the request may proceed.
        public var allowed: Bool
        /// The first policy (in name order) that matched, if any.
        public var effectivePolicyID: String?
    }

    struct Policy: Sendable {
        var name: String
        var permissions: [RBACPermission]
        var principals: [RBACPrincipal]
    }

    /// The action.
    public let action: Action
    let policies: [Policy]

    init(_ proto: Envoy_Config_Rbac_V3_RBAC, field: String) throws(FilterConfigurationError) {
        switch proto.action {
        case .allow: action = .allow
        case .deny: action = .deny
        case .log: action = .log
        case .UNRECOGNIZED(let raw): throw FilterConfigurationError(field: field + ".action", "unknown action \(raw)")
        }
        if proto.hasAuditLoggingOptions, proto.auditLoggingOptions.auditCondition != .none {
            throw FilterConfigurationError.unsupported(field: field + ".audit_logging_options", "RBAC audit loggers are not supported by the Swift proxy")
        }
        var policies: [Policy] = []
        for name in proto.policies.keys.sorted() {
            let policy = proto.policies[name]!
            let policyField = "\(field).policies[\"\(name)\"]"
            guard !policy.permissions.isEmpty else { throw FilterConfigurationError(field: policyField + ".permissions", "needs at least one permission") }
            guard !policy.principals.isEmpty else { throw FilterConfigurationError(field: policyField + ".principals", "needs at least one principal") }
            var permissions: [RBACPermission] = []
            for (index, item) in policy.permissions.enumerated() { permissions.append(try RBACPermission(item, field: "\(policyField).permissions[\(index)]")) }
            var principals: [RBACPrincipal] = []
            for (index, item) in policy.principals.enumerated() { principals.append(try RBACPrincipal(item, field: "\(policyField).principals[\(index)]")) }
            policies.append(Policy(name: name, permissions: permissions, principals: principals))
        }
        self.policies = policies
    }

    /// Evaluates the policies against a request or connection.
    public func evaluate(_ attributes: RBACAttributes) -> Decision {
        let matched = policies.first { policy in
            policy.permissions.contains { $0.matches(attributes) } && policy.principals.contains { $0.matches(attributes) }
        }?.name
        switch action {
        case .allow: return Decision(allowed: matched != nil, effectivePolicyID: matched)
        case .deny: return Decision(allowed: matched == nil, effectivePolicyID: matched)
        case .log: return Decision(allowed: true, effectivePolicyID: matched)
        }
    }
}
