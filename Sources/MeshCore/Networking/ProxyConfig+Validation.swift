extension ProxyConfig {
    /// Applies Istio's `ValidateProxyConfig` and the ProxyConfig CRD schema.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = Validators.workloadSelector(selector, at: spec / "selector")
        if let selector {
            // Key syntax (which excludes '*') and value wildcards are checked by the shared rule above.
            if (selector.matchLabels ?? [:]).isEmpty {
                result.warning(spec / "selector", "workload selector specified without labels")
            }
        }
        if let concurrency, concurrency < 0 {
            result.error(spec / "concurrency", "concurrency must be greater than or equal to 0, found \(concurrency)")
        }
        for (name, value) in (environmentVariables ?? [:]).sorted(by: { $0.key < $1.key }) where value.count > 2048 {
            result.error((spec / "environmentVariables").key(name), "environment variable value must be at most 2048 characters, found \(value.count)")
        }
        return result
    }
}
