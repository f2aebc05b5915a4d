extension WasmPlugin {
    /// Istio's `ValidateWasmPlugin` plus the CRD schema rules for WasmPlugin.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec: FieldPath = "spec"
        var result = Validators.meshPolicyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec)
        if let problem = Validators.wasmURLProblem(url ?? "") {
            result.error(spec / "url", problem)
        }
        if let sha256, !sha256.isEmpty {
            if sha256.count != 64 {
                result.error(spec / "sha256", "sha256 must be 64 characters long (lowercase hex), got \(sha256.count)")
            } else if !sha256.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) {
                result.error(spec / "sha256", "sha256 must match [a-f0-9]{64}")
            }
        }
        if let secret = imagePullSecret {
            if secret.isEmpty {
                result.error(spec / "imagePullSecret", "imagePullSecret must not be empty when set")
            } else if secret.count > 253 {
                result.error(spec / "imagePullSecret", "imagePullSecret must be at most 253 characters long")
            }
        }
        if let name = pluginName {
            if name.isEmpty {
                result.error(spec / "pluginName", "pluginName must not be empty when set")
            } else if name.count > 256 {
                result.error(spec / "pluginName", "pluginName must be at most 256 characters long")
            }
        }
        result.merge(validateVMConfig(at: spec / "vmConfig"))
        for (i, selector) in (match ?? []).enumerated() {
            let portsPath = (spec / "match")[i] / "ports"
            var seen: Set<UInt32> = []
            for (j, port) in (selector.ports ?? []).enumerated() {
                guard let number = port.number else {
                    result.error(portsPath[j] / "number", "port number is required")
                    continue
                }
                result.merge(Validators.port(number, at: portsPath[j] / "number"))
                if !seen.insert(number).inserted {
                    result.error(portsPath[j] / "number", "duplicate port \(number)")
                }
            }
        }
        return result
    }

    private func validateVMConfig(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let env = vmConfig?.env else { return result }
        if env.count > 256 {
            result.error(path / "env", "too many environment variables (\(env.count)); at most 256 are allowed")
        }
        var names: Set<String> = []
        for (i, variable) in env.enumerated() {
            let varPath = (path / "env")[i]
            let name = variable.name ?? ""
            if name.isEmpty {
                result.error(varPath / "name", "environment variable name is required")
            } else if name.count > 256 {
                result.error(varPath / "name", "environment variable name must be at most 256 characters long")
            } else if !names.insert(name).inserted {
                result.error(varPath / "name", "duplicate environment variable \"\(name)\"")
            }
            if (variable.valueFrom ?? .INLINE) == .HOST, variable.value != nil {
                result.error(varPath / "value", "value may only be set when valueFrom is INLINE")
            }
            if let value = variable.value, value.count > 2048 {
                result.error(varPath / "value", "value must be at most 2048 characters long")
            }
        }
        return result
    }
}
