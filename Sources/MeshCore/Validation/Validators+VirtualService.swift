import Foundation

/// Istio's networking rules used by VirtualService validation and reusable by other networking kinds:
/// host names as Istio checks them, gateway references, `exportTo`, header names and values,
/// string matches, retries, durations and percentages.
extension Validators {
    // MARK: Host names (Istio's agent.ValidateWildcardDomain / ValidateFQDN)

    /// Istio's DNS label check, which (unlike Kubernetes) accepts upper-case letters.
    public static func isIstioDNSLabel(_ s: String) -> Bool { isDNS1123Label(s, allowUpper: true) }

    /// A first label that may carry a wildcard: `*`, `*foo`, `*-foo` or a plain label.
    static func isWildcardDNSLabel(_ s: String) -> Bool {
        guard s.count <= 63 else { return false }
        if s == "*" { return true }
        var rest = Substring(s)
        if rest.hasPrefix("*-") { rest = rest.dropFirst(2) } else if rest.hasPrefix("*") { rest = rest.dropFirst() }
        return isIstioDNSLabel(String(rest))
    }

    private static func domainPreconditionProblem(_ name: String) -> String? {
        if name.utf8.count > 255 { return "domain name \"\(name)\" too long (max 255)" }
        if name.isEmpty { return "empty domain name not allowed" }
        return nil
    }

    /// Dot-separated DNS labels; the last may be empty (`istio.io.`) and the top-level one not all-numeric.
    private static func dnsLabelsProblem(_ domain: String, reportedAs full: String) -> String? {
        let parts = domain.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let tld = parts.last, Int(tld) != nil {
            return "domain name \"\(full)\" invalid (top level domain \"\(tld)\" cannot be all-numeric)"
        }
        for (i, label) in parts.enumerated() {
            if i == parts.count - 1, label.isEmpty { return nil }
            if !isIstioDNSLabel(label) { return "domain name \"\(full)\" invalid (label \"\(label)\" invalid)" }
        }
        return nil
    }

    /// Why `domain` is not a host Istio accepts where wildcards are allowed (`*`, `*.example.com`,
    /// `*foo.example.com`, `reviews`), or nil. Mirrors Istio's `ValidateWildcardDomain`.
    public static func istioWildcardDomainProblem(_ domain: String) -> String? {
        if let problem = domainPreconditionProblem(domain) { return problem }
        let parts = domain.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if !isWildcardDNSLabel(parts[0]) {
            return "domain name \"\(domain)\" invalid (label \"\(parts[0])\" invalid)"
        }
        if parts.count > 1 { return dnsLabelsProblem(parts[1], reportedAs: domain) }
        return nil
    }

    /// Why `name` is not a fully qualified domain name Istio accepts (no wildcard), or nil.
    public static func istioFQDNProblem(_ name: String) -> String? {
        if let problem = domainPreconditionProblem(name) { return problem }
        return dnsLabelsProblem(name, reportedAs: name)
    }

    /// Like ``istioWildcardDomainProblem(_:)``, but for SNI hosts of gateway-bound virtual services also
    /// accepts the auto-generated `outbound_.<PORT>_._.<HOSTNAME>` form used with AUTO_PASSTHROUGH.
    public static func gatewayBoundDomainProblem(_ domain: String, sni: Bool) -> String? {
        if let problem = domainPreconditionProblem(domain) { return problem }
        if sni, domain.hasPrefix("outbound_") {
            let format = "outbound_.<PORT>_._.<HOSTNAME>"
            let parts = domain.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4 else { return "domain name \"\(domain)\" invalid, should follow '\(format)' format" }
            let port = parts[1].trimmingCharacters(in: ["."])
            let host = parts[3].trimmingCharacters(in: ["."])
            if parts[0] != "outbound" { return "domain name \"\(domain)\" invalid (label \"\(parts[0])\" invalid)" }
            if !port.contains(where: \.isNumber) {
                return "domain name \"\(domain)\" invalid (label \"\(port)\" invalid). should follow \(format) format"
            }
            if !host.contains(where: { $0.isASCII && $0.isLetter }) {
                return "domain name \"\(domain)\" invalid (label \"\(host)\" invalid). should follow \(format) format"
            }
            return nil
        }
        return istioWildcardDomainProblem(domain)
    }

    /// Istio's `host.Name.Matches`: the two hosts (either may be a wildcard) overlap.
    public static func hostsOverlap(_ a: String, _ b: String) -> Bool {
        let aWild = a.hasPrefix("*"), bWild = b.hasPrefix("*")
        switch (aWild, bWild) {
        case (true, true):
            return a.count < b.count ? b.dropFirst().hasSuffix(a.dropFirst()) : a.dropFirst().hasSuffix(b.dropFirst())
        case (true, false): return b.hasSuffix(a.dropFirst())
        case (false, true): return a.hasSuffix(b.dropFirst())
        case (false, false): return a == b
        }
    }

    /// Istio's `host.Name.SubsetOf`: every name `host` matches is also matched by `of`.
    public static func host(_ host: String, isSubsetOf of: String) -> Bool {
        let aWild = host.hasPrefix("*"), bWild = of.hasPrefix("*")
        switch (aWild, bWild) {
        case (true, true): return host.count >= of.count && host.dropFirst().hasSuffix(of.dropFirst())
        case (true, false): return false
        case (false, true): return host.hasSuffix(of.dropFirst())
        case (false, false): return host == of
        }
    }

    /// Why `subnet` is not an IP address or CIDR block, or nil (Istio's `ValidateIPSubnet`).
    public static func ipSubnetProblem(_ subnet: String) -> String? {
        if subnet.filter({ $0 == "/" }).count == 1 {
            return CIDRRange(subnet) == nil ? "\(subnet) is not a valid CIDR block" : nil
        }
        return IPAddress(subnet) == nil ? "\(subnet) is not a valid IP" : nil
    }

    // MARK: Gateways and visibility

    /// Validates gateway references: `mesh`, `namespace/name`, or a legacy FQDN name (warned).
    ///
    /// With gateway semantics (config converted from the Gateway API) the name part is not checked.
    public static func gatewayNames(_ names: [String]?, at path: FieldPath, gatewaySemantics: Bool = false) -> ValidationResult {
        var result = ValidationResult()
        for (i, name) in (names ?? []).enumerated() {
            let at = path[i]
            let parts = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if parts.count != 2 {
                if name.contains(".") {
                    let pieces = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                    let recommended = "\(pieces.count > 1 ? pieces[1] : "")/\(pieces[0])"
                    result.warning(at, "using legacy gatewayName format \"\(name)\"; prefer the <namespace>/<name> format: \"\(recommended)\"")
                }
                if let problem = istioFQDNProblem(name) { result.error(at, "invalid gateway name: \(problem)") }
                continue
            }
            if parts[0].isEmpty || parts[1].isEmpty {
                result.error(at, "config namespace and gateway name cannot be empty")
            }
            if !isIstioDNSLabel(parts[0]) {
                result.error(at, "invalid value for namespace: \"\(parts[0])\" (expected a DNS-1123 label)")
            }
            if !gatewaySemantics, !isIstioDNSLabel(parts[1]) {
                result.error(at, "invalid value for gateway name: \"\(parts[1])\" (expected a DNS-1123 label)")
            }
        }
        return result
    }

    /// Validates an `exportTo` list (Istio's `validateExportTo`): `.`, `*` or namespace names, no
    /// duplicates, `*` alone; `~` only for ServiceEntry, and then alone.
    public static func exportTo(_ exportTo: [String]?, namespace: String, isServiceEntry: Bool = false, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let entries = exportTo ?? []
        guard !entries.isEmpty else { return result }
        var seen: Set<String> = []
        for (i, entry) in entries.enumerated() {
            let key = entry == "." ? namespace : entry
            if seen.contains(key) {
                if key != entry {
                    result.error(path[i], "duplicate entries in exportTo: . and current namespace \(namespace)")
                } else {
                    result.error(path[i], "duplicate entries in exportTo for entry \(entry)")
                }
                continue
            }
            if isServiceEntry, entry == "~" {
                seen.insert(key)
                continue
            }
            switch key {
            case "*":
                seen.insert(key)
            case "~":
                result.error(path[i], "exportTo ~ (none) is not allowed for Istio configuration objects")
            default:
                if isIstioDNSLabel(key) {
                    seen.insert(key)
                } else {
                    result.error(path[i], "invalid exportTo entry \"\(entry)\": only ., *, or a valid DNS 1123 label is allowed")
                }
            }
        }
        if seen.contains("*"), entries.count > 1 {
            result.error(path, "cannot have both public (*) and non-public exportTo values for a resource")
        }
        if seen.contains("~"), entries.count > 1 {
            result.error(path, "cannot export service entry to no one (~) and someone")
        }
        return result
    }

    // MARK: Headers

    private static let pseudoHeaders: Set<String> = [":method", ":scheme", ":authority", ":path", ":status"]

    /// True for `@request.auth.claims.<name>` or `@request.auth.claims[<name>]`, Istio's JWT claim routing keys.
    public static func isJWTClaimRoutingKey(_ name: String) -> Bool { jwtClaimPath(name) != nil }

    /// The claim path of a JWT claim routing key, as Istio reads it: `@request.auth.claims.a.b`
    /// (prefix in any case) is `["a", "b"]`, `@request.auth.claims[a][b]` is `["a", "b"]`; nil for
    /// other names and for keys with an empty claim name (`@request.auth.claims.a..b`).
    public static func jwtClaimPath(_ name: String) -> [String]? {
        let marker = "@request.auth.claims"
        guard name.hasPrefix("@"), name.lowercased().hasPrefix(marker) else { return nil }
        let rest = name.dropFirst(marker.count)
        let path: [String]
        if rest.hasPrefix("."), rest.count > 1 {
            path = rest.dropFirst().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        } else if rest.hasPrefix("["), rest.hasSuffix("]"), rest.count > 2 {
            path = rest.dropFirst().dropLast().components(separatedBy: "][")
        } else {
            return nil
        }
        return path.contains(where: \.isEmpty) ? nil : path
    }

    /// Why `name` cannot be matched on as a header (RFC 7230 token, pseudo header or JWT claim key), or nil.
    public static func headerMatchNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        if isJWTClaimRoutingKey(name) || pseudoHeaders.contains(name) { return nil }
        return isHeaderName(name) ? nil : "header name \(name) is not a valid header name"
    }

    /// Why `name` cannot be a CORS allow/expose header (`*` or an RFC 7230 token), or nil.
    public static func corsHeaderNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        if name == "*" { return nil }
        return isHeaderName(name) ? nil : "header name \(name) is not a valid header name"
    }

    private static func isInternalHeader(_ name: String) -> Bool {
        name.hasPrefix(":") || name.lowercased() == "host"
    }

    /// True for `:authority` and `Host`, in any case.
    public static func isAuthorityHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == ":authority" || lower == "host"
    }

    /// Why `name` cannot be added/set on a request (no pseudo headers except `:authority`/`Host`), or nil.
    public static func requestHeaderSetNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        if isInternalHeader(name), !isAuthorityHeader(name) {
            return "invalid header \"\(name)\": header cannot have \":\" prefix"
        }
        return nil
    }

    /// Why `name` cannot be removed from a request or changed on a response (no `Host`, no pseudo headers), or nil.
    public static func headerOperationNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        if name.lowercased() == "host" { return "invalid header \"\(name)\": cannot set Host header" }
        if isInternalHeader(name) { return "invalid header \"\(name)\": header cannot have \":\" prefix" }
        return nil
    }

    /// Why `value` is not a header value Envoy accepts (no control characters; `%VAR%` expressions
    /// well formed, a literal `%` written `%%`), or nil.
    public static func headerValueProblem(_ value: String) -> String? {
        for scalar in value.unicodeScalars {
            let v = scalar.value
            if v <= 0x08 || (0x0A...0x1F).contains(v) || v == 0x7F {
                return "header value configuration \(value) is invalid: control characters are not allowed"
            }
        }
        enum State { case literal, variableName, expectArray, expectString, string, expectDelimiterOrEnd, expectArgsEnd, expectVariableEnd }
        let bytes = Array(value.utf8)
        var state = State.literal
        var pos = 0
        let prefix = "header value configuration: invalid header configuration."
        while pos < bytes.count {
            let ch = bytes[pos]
            let hasNext = pos + 1 < bytes.count
            switch state {
            case .literal:
                if ch == UInt8(ascii: "%") {
                    guard hasNext else { return "\(prefix) Un-escaped %" }
                    if bytes[pos + 1] == UInt8(ascii: "%") { pos += 1 } else { state = .variableName }
                }
            case .variableName:
                if ch == UInt8(ascii: "%") { state = .literal } else if ch == UInt8(ascii: "(") { state = .expectArray }
            case .expectArray:
                if ch == UInt8(ascii: "[") { state = .expectString } else if ch != UInt8(ascii: " ") { state = .string }
            case .expectDelimiterOrEnd:
                if ch == UInt8(ascii: ",") {
                    state = .expectString
                } else if ch == UInt8(ascii: "]") {
                    state = .expectArgsEnd
                } else if ch != UInt8(ascii: " ") {
                    return "\(prefix) Expecting ',', ']', or whitespace"
                }
            case .expectString:
                if ch == UInt8(ascii: "\"") { state = .string } else if ch != UInt8(ascii: " ") { return "\(prefix) Expecting '\"'" }
            case .string:
                if ch == UInt8(ascii: "\\") {
                    guard hasNext else { return "\(prefix) Un-terminated backslash in JSON string" }
                    pos += 1
                } else if ch == UInt8(ascii: ")") {
                    state = .expectVariableEnd
                } else if ch == UInt8(ascii: "\"") {
                    state = .expectDelimiterOrEnd
                }
            case .expectArgsEnd:
                if ch == UInt8(ascii: ")") { state = .expectVariableEnd } else if ch != UInt8(ascii: " ") { return "\(prefix) Expecting ')' or whitespace" }
            case .expectVariableEnd:
                if ch == UInt8(ascii: "%") { state = .literal } else if ch != UInt8(ascii: " ") { return "\(prefix) Expecting '%' or whitespace" }
            }
            pos += 1
        }
        if state != .literal { return "\(prefix) Un-terminated variable expression '\(value)'" }
        return nil
    }

    // MARK: String matches and regexes

    /// Why `pattern` is not usable as an Istio (RE2) regex: at most 1024 characters and compilable.
    public static func istioRegexProblem(_ pattern: String) -> String? {
        if pattern.utf8.count > 1024 { return "regex is too large, max length allowed is 1024" }
        return regexProblem(pattern).map { "\($0); Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)" }
    }

    /// Validates a `StringMatch` as Istio does for HTTP matches: at most one of exact/prefix/regex,
    /// regexes non-empty and valid, prefixes non-empty unless `allowEmptyPrefix` (URI matches).
    public static func httpStringMatch(_ match: StringMatch?, at path: FieldPath, allowEmptyPrefix: Bool = false) -> ValidationResult {
        var result = ValidationResult()
        guard let match else { return result }
        if [match.exact, match.prefix, match.regex].compactMap({ $0 }).count > 1 {
            result.error(path, "only one of exact, prefix or regex may be set")
        }
        if let prefix = match.prefix, prefix.isEmpty, !allowEmptyPrefix {
            result.error(path / "prefix", "prefix string match should not be empty")
        }
        if let regex = match.regex {
            if regex.isEmpty {
                result.error(path / "regex", "regex string match should not be empty")
            } else if let problem = istioRegexProblem(regex) {
                result.error(path / "regex", problem)
            }
        }
        return result
    }

    // MARK: Durations, percentages, retries

    /// Istio's `ValidateDuration`: at least 1ms and a whole number of milliseconds.
    public static func istioDuration(_ duration: ConfigDuration?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let duration else { return result }
        if duration.nanoseconds < 1_000_000 {
            result.error(path, "duration must be greater than or equal to 1ms (got \(duration))")
        } else if duration.nanoseconds % 1_000_000 != 0 {
            result.error(path, "only durations to ms precision are supported (got \(duration))")
        }
        return result
    }

    /// Istio's `validatePercentage`: 0, or within [0.0001, 100].
    public static func fractionalPercent(_ percent: Percent?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let value = percent?.value else { return result }
        if value < 0 || value > 100 || (value > 0 && value < 0.0001) || value.isNaN {
            result.error(path / "value", "percentage \(value) is neither 0.0, nor in range [0.0001, 100.0]")
        }
        return result
    }

    /// Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on` conditions Istio accepts in `retryOn`.
    public static let retryOnPolicies: Set<String> = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
        "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
        "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ]

    /// HTTP status codes with a registered meaning (those Go's `http.StatusText` knows), accepted in `retryOn`.
    public static let knownHTTPStatusCodes: Set<Int> = Set(
        [100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308]
            + Array(400...418) + [421, 422, 423, 424, 425, 426, 428, 429, 431, 451]
            + Array(500...508) + [510, 511])

    /// Istio's `ValidateHTTPRetry`: non-negative attempts, nothing else configured when attempts is 0,
    /// durations of at least 1ms, `retryOn` made of known conditions or HTTP status codes.
    public static func httpRetry(_ retries: HTTPRetry?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let retries else { return result }
        let attempts = retries.attempts ?? 0
        if attempts < 0 {
            result.error(path / "attempts", "attempts cannot be negative")
        }
        let retryOn = retries.retryOn ?? ""
        if attempts == 0, retries.perTryTimeout != nil || !retryOn.isEmpty || retries.retryRemoteLocalities != nil {
            result.error(path / "attempts", "http retry policy configured when attempts are set to 0 (disabled); set attempts to a positive number")
        }
        result.merge(istioDuration(retries.perTryTimeout, at: path / "perTryTimeout"))
        if !retryOn.isEmpty {
            for policy in retryOn.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                let isStatus = Int(policy).map { knownHTTPStatusCodes.contains($0) } ?? false
                if !isStatus, !retryOnPolicies.contains(policy) {
                    result.error(path / "retryOn", "\"\(policy)\" is not a valid retryOn policy; expected HTTP status codes or one of: \(retryOnPolicies.sorted().joined(separator: ", "))")
                }
            }
        }
        result.merge(istioDuration(retries.backoff, at: path / "backoff"))
        return result
    }

    // MARK: Destinations

    /// Istio's `validateDestination`: a valid (wildcard) host other than `*`, a DNS-label subset, a valid port.
    public static func destination(_ destination: Destination?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let destination else { return result }
        let host = destination.host ?? ""
        if host.isEmpty {
            result.error(path / "host", "destination host is required")
        } else if host == "*" {
            result.error(path / "host", "invalid destination host *: a destination must name a service")
        } else if let problem = istioWildcardDomainProblem(host) {
            result.error(path / "host", problem)
        }
        if let subset = destination.subset, !subset.isEmpty, !isIstioDNSLabel(subset) {
            result.error(path / "subset", "subset name is invalid: \(subset) (expected a DNS-1123 label)")
        }
        if let port = destination.port {
            result.merge(Validators.port(port.number ?? 0, at: path / "port" / "number"))
        }
        return result
    }

    /// gRPC status names Istio accepts for fault aborts.
    public static let grpcStatusNames: Set<String> = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
}
