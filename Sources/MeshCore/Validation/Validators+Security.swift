import Foundation

/// Rules shared by the security kinds (PeerAuthentication, RequestAuthentication, AuthorizationPolicy),
/// after Istio's `pkg/config/security` helpers and the CRD schema of `security.istio.io`.
extension Validators {
    /// The annotation that puts an AuthorizationPolicy in dry-run mode.
    public static let dryRunAnnotationName = "istio.io/dry-run"

    // MARK: Attachment

    /// Selector and `targetRef(s)` rules for a security policy.
    ///
    /// Adds Istio's warning for a selector without labels and the CRD's limit of 16 `targetRefs`
    /// to the shared attachment rules.
    public static func securityPolicyAttachment(
        selector: WorkloadSelector?, targetRef: PolicyTargetReference?, targetRefs: [PolicyTargetReference]?,
        at spec: FieldPath
    ) -> ValidationResult {
        var result = policyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec)
        result.merge(selectorLabelsWarning(selector, at: spec / "selector"))
        if let targetRefs, targetRefs.count > 16 {
            result.error(spec / "targetRefs", "too many targetRefs (\(targetRefs.count)); at most 16 are allowed")
        }
        return result
    }

    /// Istio warns when a selector is present but names no labels: it then selects every workload.
    public static func selectorLabelsWarning(_ selector: WorkloadSelector?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if let selector, (selector.matchLabels ?? [:]).isEmpty {
            result.warning(path, "workload selector specified without labels; it selects every workload in scope")
        }
        return result
    }

    /// Istio accepts `istio.io/dry-run` only on AuthorizationPolicy; other kinds must not carry it
    /// (applied to every kind by ``ValidationContext/validateMetadata(_:kind:)``).
    public static func dryRunAnnotationUnsupported(_ meta: ObjectMeta) -> ValidationResult {
        var result = ValidationResult()
        if meta.annotations[dryRunAnnotationName] != nil {
            result.error(FieldPath("metadata.annotations").key(dryRunAnnotationName),
                         "unsupported annotation \(dryRunAnnotationName): it is only supported on AuthorizationPolicy; please remove it")
        }
        return result
    }

    /// On an AuthorizationPolicy, `istio.io/dry-run` needs action ALLOW or DENY and a boolean value.
    public static func dryRunAnnotation(_ meta: ObjectMeta, action: AuthorizationPolicy.Action?) -> ValidationResult {
        var result = ValidationResult()
        guard let value = meta.annotations[dryRunAnnotationName] else { return result }
        let path = FieldPath("metadata.annotations").key(dryRunAnnotationName)
        switch action ?? .ALLOW {
        case .ALLOW, .DENY:
            if !isGoBool(value) {
                result.error(path, "invalid value \"\(value)\" for annotation \(dryRunAnnotationName): expected true or false")
            }
        case .AUDIT, .CUSTOM:
            result.error(path, "annotation \(dryRunAnnotationName) only supports action ALLOW or DENY, found \((action ?? .ALLOW).rawValue)")
        }
        return result
    }

    /// True for the spellings Go's `strconv.ParseBool` accepts.
    static func isGoBool(_ text: String) -> Bool {
        ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].contains(text)
    }

    // MARK: Values

    /// Why `text` is not an IP address or CIDR range as Go's `netip` parses them, or nil.
    public static func ipOrCIDRProblem(_ text: String) -> String? {
        if text.contains("/") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            let bits = parts.count == 2 ? parts[1] : ""
            if text.contains("%") || CIDRRange(text) == nil || (bits.count > 1 && bits.hasPrefix("0")) {
                return "bad CIDR range \"\(text)\": expected an address with a prefix length, such as 10.0.0.0/8 or 2001:db8::/32"
            }
        } else if IPAddress(text) == nil {
            return "bad IP address \"\(text)\": expected an IPv4 or IPv6 address, or a CIDR range"
        }
        return nil
    }

    /// Why `text` is not a port as Istio's authorization ports are written (decimal, 0...65535), or nil.
    public static func authorizationPortProblem(_ text: String) -> String? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt64(text), port <= 65535 else {
            return "bad port \"\(text)\": expected a decimal number from 0 to 65535"
        }
        return nil
    }

    /// Why `value` is not an exact, prefix (`abc*`), suffix (`*abc`) or presence (`*`) match, or nil.
    public static func wildcardValueProblem(_ value: String) -> String? {
        let count = value.filter { $0 == "*" }.count
        if count > 1 {
            return "at most one wildcard is allowed, found \"\(value)\""
        }
        if count == 1, !value.hasPrefix("*"), !value.hasSuffix("*") {
            return "wildcard is only allowed at the start or end, found \"\(value)\""
        }
        return nil
    }

    /// Why `value` is not a trust domain match value, or nil.
    public static func trustDomainMatchProblem(_ value: String) -> String? {
        if let problem = wildcardValueProblem(value) { return problem }
        if value.contains("/") { return "trust domain must not contain '/', found \"\(value)\"" }
        return nil
    }

    /// Why `value` is not a service account reference (`<account>` or `<namespace>/<account>`, no wildcard), or nil.
    public static func serviceAccountProblem(_ value: String) -> String? {
        if value.contains("*") { return "wildcard is not allowed in service accounts, found \"\(value)\"" }
        let slashes = value.filter { $0 == "/" }.count
        if slashes > 1 {
            return "expected format 'serviceAccount' or 'namespace/serviceAccount', found \"\(value)\""
        }
        if value.count > 320 { return "value cannot exceed 320 characters, found \"\(value.prefix(40))...\"" }
        if slashes == 1 {
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            if parts[0].isEmpty {
                return "expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace in \"\(value)\""
            }
            if parts[1].isEmpty {
                return "expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount in \"\(value)\""
            }
        }
        return nil
    }

    /// Validates a service account list: at most 16 entries, each non-empty and well formed.
    public static func serviceAccounts(_ values: [String]?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let values else { return result }
        if values.count > 16 {
            result.error(path, "may not have more than 16 values, found \(values.count)")
        }
        for (i, value) in values.enumerated() {
            if value.isEmpty {
                result.error(path[i], "empty value not allowed")
            } else if let problem = serviceAccountProblem(value) {
                result.error(path[i], problem)
            }
        }
        return result
    }

    /// Errors for empty strings in `values`, one per offending entry.
    public static func nonEmptyValues(_ values: [String]?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (i, value) in (values ?? []).enumerated() where value.isEmpty {
            result.error(path[i], "empty value not allowed")
        }
        return result
    }

    /// Errors for empty entries and for entries `problem` rejects.
    public static func eachValue(_ values: [String]?, at path: FieldPath, _ problem: (String) -> String?) -> ValidationResult {
        var result = ValidationResult()
        for (i, value) in (values ?? []).enumerated() {
            if value.isEmpty {
                result.error(path[i], "empty value not allowed")
            } else if let message = problem(value) {
                result.error(path[i], message)
            }
        }
        return result
    }

    // MARK: Paths

    /// Why an authorization path is not acceptable as an Envoy URI template, or nil.
    ///
    /// Paths using `{*}` or `{**}` must follow Envoy's template rules: `{**}` is the last operator,
    /// no `{` or `}` outside an operator, and other segments are RFC 3986 `pchar` literals.
    /// Paths without a template operator are plain (exact/prefix/suffix) matches and only must not
    /// contain `{` or `}`.
    public static func pathTemplateProblem(_ path: String) -> String? {
        let hasTemplate = path.contains("{*}") || path.contains("{**}")
        var trimmed = Substring(path)
        while trimmed.hasPrefix("/") { trimmed = trimmed.dropFirst() }
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        var sawMatchAny = false
        for glob in trimmed.split(separator: "/", omittingEmptySubsequences: false) {
            if glob == "{*}" || glob == "{**}" {
                if sawMatchAny {
                    return "invalid or unsupported path \"\(path)\": {**} must be the last operator"
                }
                if glob == "{**}" { sawMatchAny = true }
                continue
            }
            if glob.contains("{") || glob.contains("}") {
                return "invalid or unsupported path \"\(path)\": '{' or '}' may only appear in the {*} and {**} operators"
            }
            if hasTemplate, !isPathLiteral(glob) {
                return "invalid or unsupported path \"\(path)\": segment \"\(glob)\" of a path template must be a non-empty literal without wildcards"
            }
        }
        return nil
    }

    /// RFC 3986 `pchar` characters (Envoy's literal path segment).
    private static func isPathLiteral(_ glob: Substring) -> Bool {
        let allowed = Set("-._~%!$&'()+,;:@=")
        return !glob.isEmpty && glob.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || allowed.contains($0)) }
    }

    // MARK: Conditions

    /// Why an authorization condition key is not an attribute Istio supports, or nil.
    public static func conditionKeyProblem(_ key: String) -> String? {
        switch conditionAttribute(key) {
        case .mapKey:
            return isBracketedKey(key) ? nil : "bad key \"\(key)\": should have the form name[key]"
        case .unknown:
            return "unknown attribute \"\(key)\"; see https://istio.io/latest/docs/reference/config/security/conditions/"
        case .unsupported(let message):
            return message
        default:
            return nil
        }
    }

    /// Why `value` is not a valid value for the condition attribute `key`, or nil.
    public static func conditionValueProblem(key: String, value: String) -> String? {
        switch conditionAttribute(key) {
        case .ip: return ipOrCIDRProblem(value)
        case .port: return authorizationPortProblem(value)
        case .serviceAccount: return serviceAccountProblem(value)
        case .wildcard: return wildcardValueProblem(value)
        default: return nil
        }
    }

    /// True when the condition attribute `key` may not be used with the CUSTOM action.
    public static func isConditionKeyUnsupportedWithCustom(_ key: String) -> Bool {
        ["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].contains(key)
            || key.hasPrefix("request.auth.")
    }

    private enum ConditionAttribute {
        case plain, mapKey, ip, port, serviceAccount, wildcard, unknown
        case unsupported(String)
    }

    private static func conditionAttribute(_ key: String) -> ConditionAttribute {
        switch key {
        case _ where key.hasPrefix("request.headers"): return .mapKey
        case "source.ip", "remote.ip", "destination.ip": return .ip
        case "source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences",
             "request.auth.presenter", "connection.sni":
            return .plain
        case "source.serviceAccount": return .serviceAccount
        case "source.trustDomain": return .wildcard
        case _ where key.hasPrefix("request.auth.claims"): return .mapKey
        case "destination.port": return .port
        case _ where key.hasPrefix("experimental.envoy.filters."): return .mapKey
        case "destination.namespace":
            return .unsupported("attribute \(key) is replaced by the policy's metadata.namespace")
        case _ where key.hasPrefix("destination.labels"):
            return .unsupported("attribute \(key) is replaced by the workload selector")
        case "destination.name", "destination.user":
            return .unsupported("deprecated attribute \(key): only supported in v1alpha1")
        default:
            return .unknown
        }
    }

    /// `a[b]`: a name, then a non-empty bracketed key at the end.
    private static func isBracketedKey(_ key: String) -> Bool {
        guard key.hasSuffix("]"), let open = key.firstIndex(of: "[") else { return false }
        let offset = key.distance(from: key.startIndex, to: open)
        return offset > 0 && offset < key.count - 2
    }

    // MARK: JWT

    /// Why `uri` is not a JWKS URL Istio can fetch (an absolute `http` or `https` URL), or nil.
    public static func jwksURIProblem(_ uri: String) -> String? {
        if uri.count > 2048 { return "jwksUri is too long (\(uri.count) characters; at most 2048)" }
        guard let components = URLComponents(string: uri) else {
            return "invalid URL \"\(uri)\""
        }
        let scheme = components.scheme?.lowercased() ?? ""
        guard scheme == "http" || scheme == "https" else {
            return "URI scheme \"\(components.scheme ?? "")\" is not supported; the URL must start with http:// or https://"
        }
        return nil
    }

    /// Parses an inline JSON Web Key Set (a `{"keys": [...]}` set or a single key).
    ///
    /// - Returns: the parse problem, or the indexes of keys holding private or symmetric key material.
    public static func parseJWKS(_ text: String) -> Result<[Int], JWKSProblem> {
        guard let data = text.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data) else {
            return .failure(JWKSProblem(message: "jwks is not valid JSON"))
        }
        guard let object = root as? [String: Any] else {
            return .failure(JWKSProblem(message: "jwks must be a JSON object: a key set {\"keys\": [...]} or a single key"))
        }
        let keys: [Any]
        if let set = object["keys"] {
            guard let list = set as? [Any] else {
                return .failure(JWKSProblem(message: "jwks \"keys\" must be a list of keys"))
            }
            keys = list
        } else {
            keys = [object]
        }
        var privateKeys: [Int] = []
        for (i, element) in keys.enumerated() {
            guard let key = element as? [String: Any] else {
                return .failure(JWKSProblem(message: "jwks key at index \(i) is not a JSON object"))
            }
            guard let kty = key["kty"] as? String else {
                return .failure(JWKSProblem(message: "jwks key at index \(i) has no \"kty\""))
            }
            let required: [String]
            switch kty {
            case "RSA": required = ["n", "e"]
            case "EC": required = ["crv", "x", "y"]
            case "OKP": required = ["crv", "x"]
            case "oct": required = ["k"]
            default:
                return .failure(JWKSProblem(message: "jwks key at index \(i) has unsupported key type \"\(kty)\" (expected RSA, EC, OKP or oct)"))
            }
            for field in required where !(key[field] is String) {
                return .failure(JWKSProblem(message: "jwks key at index \(i) (\(kty)) is missing required field \"\(field)\""))
            }
            if kty == "oct" || key["d"] != nil { privateKeys.append(i) }
        }
        return .success(privateKeys)
    }

    /// Why an inline JWKS could not be parsed.
    public struct JWKSProblem: Error, Sendable, Hashable {
        public var message: String
    }

    /// True for a header name Istio's strict check accepts: letters, digits, '-' and '_'.
    public static func isStrictHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
