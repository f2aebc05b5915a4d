extension Telemetry {
    /// Istio's `ValidateTelemetry` plus the CRD schema rules for Telemetry.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec: FieldPath = "spec"
        var result = Validators.meshPolicyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec)
        for (i, metrics) in (metrics ?? []).enumerated() {
            result.merge(metrics.validate(at: (spec / "metrics")[i]))
        }
        if let tracing, tracing.count > 1 {
            result.warning(spec / "tracing", "multiple tracing is not currently supported; only the first entry is used")
        }
        for (i, tracing) in (tracing ?? []).enumerated() {
            result.merge(tracing.validate(at: (spec / "tracing")[i]))
        }
        for (i, logging) in (accessLogging ?? []).enumerated() {
            result.merge(logging.validate(at: (spec / "accessLogging")[i]))
        }
        return result
    }

    static func validateProviders(_ providers: [ProviderRef]?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (i, provider) in (providers ?? []).enumerated() where (provider.name ?? "").isEmpty {
            result.error(path[i] / "name", "providers.name may not be empty")
        }
        return result
    }
}

extension Telemetry.Tracing {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = Telemetry.validateProviders(providers, at: path / "providers")
        if let providers, providers.count > 1 {
            result.warning(path / "providers", "multiple providers is not currently supported; only the first is used")
        }
        if let percentage = randomSamplingPercentage, !(0...100).contains(percentage) {
            result.error(path / "randomSamplingPercentage", "randomSamplingPercentage must be in range [0.0, 100.0], got \(percentage)")
        }
        for (name, tag) in (customTags ?? [:]).sorted(by: { $0.key < $1.key }) {
            let tagPath = (path / "customTags").key(name)
            if name.isEmpty { result.error(tagPath, "tag name may not be empty") }
            let set = [tag.literal != nil, tag.environment != nil, tag.header != nil, tag.formatter != nil].filter { $0 }.count
            if set > 1 {
                result.error(tagPath, "only one of literal, environment, header or formatter may be set")
            }
            if let literal = tag.literal, (literal.value ?? "").isEmpty {
                result.error(tagPath / "literal" / "value", "literal tag value may not be empty")
            }
            if let environment = tag.environment, (environment.name ?? "").isEmpty {
                result.error(tagPath / "environment" / "name", "environment tag name may not be empty")
            }
            if let header = tag.header, (header.name ?? "").isEmpty {
                result.error(tagPath / "header" / "name", "header tag name may not be empty")
            }
            if let formatter = tag.formatter, (formatter.value ?? "").isEmpty {
                result.error(tagPath / "formatter" / "value", "formatter tag value may not be empty")
            }
        }
        return result
    }
}

extension Telemetry.Metrics {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = Telemetry.validateProviders(providers, at: path / "providers")
        if let interval = reportingInterval, interval < ConfigDuration(milliseconds: 1) {
            result.error(path / "reportingInterval", "must be a valid duration greater than or equal to 1ms")
        }
        for (i, override) in (overrides ?? []).enumerated() {
            let overridePath = (path / "overrides")[i]
            for (name, tag) in (override.tagOverrides ?? [:]).sorted(by: { $0.key < $1.key }) {
                let tagPath = (overridePath / "tagOverrides").key(name)
                if name.isEmpty { result.warning(tagPath, "tagOverrides name may not be empty") }
                switch tag.operation ?? .UPSERT {
                case .UPSERT:
                    // The tag becomes a Prometheus label on every series of the metric.
                    if !name.isEmpty, !Self.isLabelName(name) {
                        result.error(tagPath, "tag name \"\(name)\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not le, quantile or __*)")
                    }
                    if (tag.value ?? "").isEmpty {
                        result.error(tagPath / "value", "value must be set when operation is UPSERT (the default)")
                    }
                case .REMOVE:
                    if tag.value != nil {
                        result.error(tagPath / "value", "value must not be set when operation is REMOVE")
                    }
                }
            }
            if let match = override.match {
                if match.metric != nil, match.customMetric != nil {
                    result.error(overridePath / "match", "only one of metric or customMetric may be set")
                }
                if let custom = match.customMetric, custom.isEmpty {
                    result.error(overridePath / "match" / "customMetric", "customMetric may not be empty")
                }
            }
        }
        return result
    }
}

extension Telemetry.AccessLogging {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = Telemetry.validateProviders(providers, at: path / "providers")
        if let filter {
            if let problem = CELSyntax.problem(in: filter.expression ?? "") {
                result.error(path / "filter" / "expression", "must be a valid CEL expression: \(problem)")
            }
        }
        return result
    }
}

extension Telemetry.Metrics {
    /// True for a name Prometheus accepts as a label that histograms and summaries do not reserve.
    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.hasPrefix("__"), !["le", "quantile"].contains(name) else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return letter(first) && name.unicodeScalars.dropFirst().allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
    }
}
