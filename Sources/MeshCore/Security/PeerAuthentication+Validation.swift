extension PeerAuthentication {
    /// Istio's `ValidatePeerAuthentication` plus the CRD schema rules.
    ///
    /// - `portLevelMtls` needs a selector with labels (mesh- and namespace-wide policies cannot set it),
    ///   must not be empty when present, and its keys are port numbers 1...65535.
    /// - The selector has no empty keys or wildcards; a selector without labels is a warning.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = Validators.workloadSelector(selector, at: spec / "selector")
        result.merge(Validators.selectorLabelsWarning(selector, at: spec / "selector"))

        if let portLevelMtls {
            let path = spec / "portLevelMtls"
            if (selector?.matchLabels ?? [:]).isEmpty, !portLevelMtls.isEmpty {
                result.error(path, "portLevelMtls requires a selector with matchLabels; mesh- and namespace-wide PeerAuthentication cannot have port-level mTLS")
            }
            if portLevelMtls.isEmpty {
                result.error(path, "portLevelMtls, if set, must have at least one port")
            }
            for key in portLevelMtls.keys.sorted() {
                if let port = Int(key), key.first != "+" {
                    if !(1...65535).contains(port) {
                        result.error(path.key(key), "port must be between 1 and 65535, found \(port)")
                    }
                } else {
                    result.error(path.key(key), "port \"\(key)\" is not a number; keys of portLevelMtls are port numbers 1..65535")
                }
            }
        }
        return result
    }
}
