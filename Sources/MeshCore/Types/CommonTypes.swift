/// Istio's `StringMatch`: exactly one of `exact`, `prefix` or `regex` (RE2 syntax).
public struct StringMatch: Sendable, Hashable, Codable {
    public var exact: String?
    public var prefix: String?
    public var regex: String?

    public init(exact: String? = nil, prefix: String? = nil, regex: String? = nil) {
        self.exact = exact
        self.prefix = prefix
        self.regex = regex
    }

    /// Validates the oneof and the regex syntax.
    public func validate(at path: FieldPath, allowEmpty: Bool = false) -> ValidationResult {
        var result = ValidationResult()
        let set = [exact != nil, prefix != nil, regex != nil].filter { $0 }.count
        if set > 1 {
            result.error(path, "only one of exact, prefix or regex may be set")
        } else if set == 0, !allowEmpty {
            result.error(path, "one of exact, prefix or regex must be set")
        }
        if let regex {
            if let problem = Validators.regexProblem(regex) {
                result.error(path / "regex", problem)
            }
        }
        return result
    }
}

/// Istio's `Percent`: a double between 0 and 100.
public struct Percent: Sendable, Hashable, Codable {
    public var value: Double?

    public init(value: Double) { self.value = value }

    /// Errors unless the value is within 0...100.
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if let value, !(0...100).contains(value) {
            result.error(path / "value", "percentage \(value) must be between 0 and 100")
        }
        return result
    }
}

/// Istio's `PortSelector`: a port by number.
public struct PortSelector: Sendable, Hashable, Codable {
    public var number: UInt32?

    public init(number: UInt32) { self.number = number }
}

/// Istio's `WorkloadSelector`: workloads whose labels include all of `matchLabels`.
public struct WorkloadSelector: Sendable, Hashable, Codable {
    public var matchLabels: [String: String]?

    public init(matchLabels: [String: String]) { self.matchLabels = matchLabels }

    /// True when `labels` include every selector label (an empty selector matches all).
    public func matches(_ labels: [String: String]) -> Bool {
        (matchLabels ?? [:]).allSatisfy { labels[$0.key] == $0.value }
    }
}

/// Istio's `PolicyTargetReference`: a Kubernetes object a policy attaches to.
public struct PolicyTargetReference: Sendable, Hashable, Codable {
    public var group: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?

    public init(group: String? = nil, kind: String, name: String, namespace: String? = nil) {
        self.group = group
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }
}
