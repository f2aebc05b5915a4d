import Foundation

/// Istio's shared validation rules (hosts, labels, ports, durations, CIDRs, regexes, selectors).
///
/// Each rule is a pure function; kind validators compose them.
public enum Validators {
    // MARK: Names

    private static func isLabelCharacter(_ c: Character, upper: Bool) -> Bool {
        guard c.isASCII else { return false }
        return c.isNumber || (c >= "a" && c <= "z") || (upper && c >= "A" && c <= "Z")
    }

    /// RFC 1123 label: lowercase alphanumerics and '-', at most 63, alphanumeric at both ends.
    public static func isDNS1123Label(_ s: String, allowUpper: Bool = false) -> Bool {
        guard !s.isEmpty, s.count <= 63 else { return false }
        guard let first = s.first, let last = s.last,
              isLabelCharacter(first, upper: allowUpper), isLabelCharacter(last, upper: allowUpper) else { return false }
        return s.allSatisfy { $0 == "-" || isLabelCharacter($0, upper: allowUpper) }
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
    public static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    /// True when `s` is a Kubernetes qualified name (label or annotation key): `[prefix/]name`.
    public static func isQualifiedName(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        if parts.count == 2 && !isDNS1123Subdomain(String(parts[0])) { return false }
        let name = parts.last!
        guard !name.isEmpty, name.count <= 63 else { return false }
        return isLabelValue(String(name))
    }

    /// True when `s` is a valid label value: empty, or up to 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
    public static func isLabelValue(_ s: String) -> Bool {
        if s.isEmpty { return true }
        guard s.count <= 63, let first = s.first, let last = s.last,
              isLabelCharacter(first, upper: true), isLabelCharacter(last, upper: true) else { return false }
        return s.allSatisfy { $0 == "-" || $0 == "_" || $0 == "." || isLabelCharacter($0, upper: true) }
    }

    /// Validates a label map's keys and values.
    public static func labels(_ labels: [String: String], at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if !isQualifiedName(key) {
                result.error(path.key(key), "invalid label key \"\(key)\": must be [prefix/]name, name at most 63 alphanumerics, '-', '_' or '.'")
            }
            if !isLabelValue(value) {
                result.error(path.key(key), "invalid label value \"\(value)\": at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric")
            }
        }
        return result
    }

    /// Validates a workload selector: labels valid, and (Istio) no empty key or wildcard value.
    public static func workloadSelector(_ selector: WorkloadSelector?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let selector else { return result }
        let labels = selector.matchLabels ?? [:]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty { result.error(path / "matchLabels", "label key must not be empty") }
            if value.contains("*") { result.error((path / "matchLabels").key(key), "wildcard is not supported in selector values") }
        }
        result.merge(Validators.labels(labels, at: path / "matchLabels"))
        if labels.count > 4096 { result.error(path / "matchLabels", "too many labels (at most 4096)") }
        return result
    }

    /// Validates `selector` against `targetRef`/`targetRefs` (they are mutually exclusive).
    public static func policyAttachment(
        selector: WorkloadSelector?, targetRef: PolicyTargetReference?, targetRefs: [PolicyTargetReference]?,
        at spec: FieldPath, allowedKinds: Set<String> = ["Gateway", "Service", "ServiceEntry", "GatewayClass"]
    ) -> ValidationResult {
        var result = workloadSelector(selector, at: spec / "selector")
        let refs = (targetRef.map { [($0, spec / "targetRef")] } ?? []) + (targetRefs ?? []).enumerated().map { ($0.element, (spec / "targetRefs")[$0.offset]) }
        let attachments = [selector != nil, targetRef != nil, !(targetRefs ?? []).isEmpty].filter { $0 }.count
        if attachments > 1 {
            result.error(spec, "only one of selector, targetRef or targetRefs may be set")
        }
        for (ref, path) in refs {
            if (ref.name ?? "").isEmpty { result.error(path / "name", "name is required") }
            guard let kind = ref.kind, !kind.isEmpty else {
                result.error(path / "kind", "kind is required")
                continue
            }
            if !allowedKinds.contains(kind) {
                result.error(path / "kind", "unsupported targetRef kind \"\(kind)\"; expected one of: \(allowedKinds.sorted().joined(separator: ", "))")
            }
            let group = ref.group ?? ""
            let expectedGroup: String = switch kind {
            case "Service": ""
            case "ServiceEntry": "networking.istio.io"
            default: "gateway.networking.k8s.io"
            }
            if group != expectedGroup && !(kind == "Service" && group == "core") {
                result.error(path / "group", "group \"\(group)\" does not match kind \(kind) (expected \"\(expectedGroup)\")")
            }
            if let ns = ref.namespace, !ns.isEmpty {
                result.error(path / "namespace", "cross-namespace targetRef is not supported; namespace must be empty or the policy's own")
            }
        }
        return result
    }

    // MARK: Numbers and durations

    /// Errors unless `port` is within 1...65535.
    public static func port<I: BinaryInteger>(_ port: I?, at path: FieldPath, required: Bool = false) -> ValidationResult {
        var result = ValidationResult()
        guard let port else {
            if required { result.error(path, "port number is required") }
            return result
        }
        if !(1...65535).contains(Int(port)) {
            result.error(path, "port number \(port) must be in the range 1..65535")
        }
        return result
    }

    /// Errors unless `duration` is at least `minimum` (Istio requires at least 1ms for most durations).
    public static func duration(_ duration: ConfigDuration?, at path: FieldPath, minimum: ConfigDuration = ConfigDuration(milliseconds: 1)) -> ValidationResult {
        var result = ValidationResult()
        guard let duration else { return result }
        if duration < minimum {
            result.error(path, "duration must be greater than or equal to \(minimum.humanDescription)")
        }
        return result
    }

    // MARK: Addresses

    /// True for an IPv4 or IPv6 address.
    public static func isIPAddress(_ s: String) -> Bool { IPAddress(s) != nil }


    // MARK: Regex

    /// Why `pattern` is not an RE2 expression Envoy will accept, or nil when it is fine.
    public static func regexProblem(_ pattern: String) -> String? {
        for construct in ["(?=", "(?!", "(?<=", "(?<!"] where pattern.contains(construct) {
            return "invalid regex \"\(pattern)\": RE2 does not support lookaround (\(construct))"
        }
        var previous: Character = " "
        for c in pattern {
            if previous == "\\", c.isNumber, c != "0" {
                return "invalid regex \"\(pattern)\": RE2 does not support backreferences (\\\(c))"
            }
            previous = previous == "\\" ? " " : c
        }
        do {
            _ = try NSRegularExpression(pattern: pattern)
        } catch {
            return "invalid regex \"\(pattern)\": does not compile"
        }
        return nil
    }

    // MARK: HTTP

    /// True for an HTTP header name: a non-empty RFC 7230 token (Istio also accepts `:authority`-style pseudo headers where noted).
    public static func isHeaderName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        let token = Set("!#$%&'*+-.^_`|~")
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || token.contains($0)) }
    }
}

extension ConfigDuration {
    /// A short form such as `1ms` or `1s` for messages.
    var humanDescription: String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return description
    }
}
