extension AuthorizationPolicy {
    /// Istio's `ValidateAuthorizationPolicy` plus the CRD schema rules.
    ///
    /// - Attachment: at most one of `selector`, `targetRef`, `targetRefs`.
    /// - Action: `CUSTOM` needs rules and `provider.name` and supports only some source fields and
    ///   conditions; `provider` only with `CUSTOM`; `DENY` without rules is rejected; a `DENY` rule using
    ///   only HTTP attributes is a warning (it also denies TCP traffic).
    /// - Rules: `from`/`to` lists not empty, each with a non-empty `source`/`operation`; no empty values;
    ///   IP blocks, ports, service accounts, trust domains and path templates well formed;
    ///   `serviceAccounts` not with `principals` or `namespaces`; conditions name a supported attribute,
    ///   set `values` or `notValues`, and use values valid for the attribute.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec = FieldPath("spec")
        var result = Validators.dryRunAnnotation(context.meta, action: action)
        result.merge(Validators.securityPolicyAttachment(selector: selector, targetRef: targetRef, targetRefs: targetRefs, at: spec))

        let effectiveAction = action ?? .ALLOW
        let hasRules = !(rules ?? []).isEmpty
        switch effectiveAction {
        case .CUSTOM:
            if !hasRules {
                result.error(spec / "rules", "CUSTOM action without rules is meaningless as it will never be triggered; add an empty rule `{}` to trigger it for every request")
            } else if provider == nil {
                result.error(spec / "provider", "provider is required with the CUSTOM action")
            } else if (provider?.name ?? "").isEmpty {
                result.error(spec / "provider" / "name", "provider.name must not be empty")
            }
        case .DENY:
            if provider != nil {
                result.error(spec / "provider", "provider may only be set with the CUSTOM action, found \(effectiveAction.rawValue)")
            }
            if !hasRules {
                result.error(spec / "rules", "DENY action without rules is meaningless as it will never be triggered; add an empty rule `{}` to trigger it for every request")
            }
        case .ALLOW, .AUDIT:
            if provider != nil {
                result.error(spec / "provider", "provider may only be set with the CUSTOM action, found \(effectiveAction.rawValue)")
            }
        }

        if let rules, rules.count > 512 {
            result.error(spec / "rules", "too many rules (\(rules.count)); at most 512 are allowed")
        }
        for (i, rule) in (rules ?? []).enumerated() {
            result.merge(rule.validate(at: (spec / "rules")[i], action: effectiveAction))
        }
        return result
    }
}

extension AuthorizationPolicy.Rule {
    /// Validates one rule at `path` (`spec.rules[i]`) for a policy with `action`.
    public func validate(at path: FieldPath, action: AuthorizationPolicy.Action) -> ValidationResult {
        var result = ValidationResult()
        var fromExists = false, toExists = false, tcpInFrom = false, tcpInTo = false

        if let from {
            if from.isEmpty { result.error(path / "from", "from must not be empty; omit it to match any source") }
            if from.count > 512 { result.error(path / "from", "too many sources (\(from.count)); at most 512 are allowed") }
        }
        for (j, item) in (from ?? []).enumerated() {
            let sourcePath = (path / "from")[j] / "source"
            guard let source = item.source else {
                result.error(sourcePath, "source is required")
                continue
            }
            fromExists = true
            tcpInFrom = tcpInFrom || source.hasTCPAttributes
            result.merge(source.validate(at: sourcePath))
            if action == .CUSTOM {
                for (field, values) in source.fieldsUnsupportedWithCustom where !(values ?? []).isEmpty {
                    result.error(sourcePath / field, "\(field) is currently not supported with the CUSTOM action")
                }
            }
        }

        if let to, to.isEmpty { result.error(path / "to", "to must not be empty; omit it to match any operation") }
        for (j, item) in (to ?? []).enumerated() {
            let operationPath = (path / "to")[j] / "operation"
            guard let operation = item.operation else {
                result.error(operationPath, "operation is required")
                continue
            }
            toExists = true
            tcpInTo = tcpInTo || operation.ports != nil || operation.notPorts != nil
            result.merge(operation.validate(at: operationPath))
        }

        for (j, condition) in (when ?? []).enumerated() {
            let conditionPath = (path / "when")[j]
            result.merge(condition.validate(at: conditionPath))
            if action == .CUSTOM, let key = condition.key, Validators.isConditionKeyUnsupportedWithCustom(key) {
                result.error(conditionPath / "key", "\(key) is currently not supported with the CUSTOM action")
            }
        }

        if action == .DENY, (fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo) {
            result.warning(path, "this DENY rule uses only HTTP attributes, so it will deny all traffic to TCP ports under the policy's scope; it is recommended to specify the port explicitly")
        }
        return result
    }
}

extension AuthorizationPolicy.Source {
    /// Every field with its YAML name.
    var namedFields: [(String, [String]?)] {
        [
            ("principals", principals), ("notPrincipals", notPrincipals),
            ("requestPrincipals", requestPrincipals), ("notRequestPrincipals", notRequestPrincipals),
            ("namespaces", namespaces), ("notNamespaces", notNamespaces),
            ("serviceAccounts", serviceAccounts), ("notServiceAccounts", notServiceAccounts),
            ("ipBlocks", ipBlocks), ("notIpBlocks", notIpBlocks),
            ("remoteIpBlocks", remoteIpBlocks), ("notRemoteIpBlocks", notRemoteIpBlocks),
            ("trustDomains", trustDomains), ("notTrustDomains", notTrustDomains),
        ]
    }

    /// Source fields the CUSTOM action does not support (identity fields).
    var fieldsUnsupportedWithCustom: [(String, [String]?)] {
        namedFields.filter { !$0.0.lowercased().hasSuffix("ipblocks") }
    }

    /// True when the source uses attributes that also apply to TCP traffic (everything but request principals and trust domains).
    var hasTCPAttributes: Bool {
        principals != nil || notPrincipals != nil || ipBlocks != nil || notIpBlocks != nil
            || namespaces != nil || notNamespaces != nil || remoteIpBlocks != nil || notRemoteIpBlocks != nil
            || serviceAccounts != nil || notServiceAccounts != nil
    }

    /// Validates the source at `path` (`spec.rules[i].from[j].source`).
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if namedFields.allSatisfy({ ($0.1 ?? []).isEmpty }) {
            result.error(path, "source must not be empty; set at least one field")
        }
        if serviceAccounts != nil || notServiceAccounts != nil,
           principals != nil || notPrincipals != nil || namespaces != nil || notNamespaces != nil {
            result.error(path, "cannot set serviceAccounts with namespaces or principals")
        }
        for field in ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces"] {
            let values = namedFields.first { $0.0 == field }?.1
            result.merge(Validators.nonEmptyValues(values, at: path / field))
        }
        result.merge(Validators.serviceAccounts(serviceAccounts, at: path / "serviceAccounts"))
        result.merge(Validators.serviceAccounts(notServiceAccounts, at: path / "notServiceAccounts"))
        for (field, values) in [("ipBlocks", ipBlocks), ("notIpBlocks", notIpBlocks), ("remoteIpBlocks", remoteIpBlocks), ("notRemoteIpBlocks", notRemoteIpBlocks)] {
            result.merge(Validators.eachValue(values, at: path / field, Validators.ipOrCIDRProblem))
        }
        result.merge(Validators.eachValue(trustDomains, at: path / "trustDomains", Validators.trustDomainMatchProblem))
        result.merge(Validators.eachValue(notTrustDomains, at: path / "notTrustDomains", Validators.trustDomainMatchProblem))
        return result
    }
}

extension AuthorizationPolicy.Operation {
    /// Validates the operation at `path` (`spec.rules[i].to[j].operation`).
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let fields: [(String, [String]?)] = [
            ("hosts", hosts), ("notHosts", notHosts), ("ports", ports), ("notPorts", notPorts),
            ("methods", methods), ("notMethods", notMethods), ("paths", paths), ("notPaths", notPaths),
        ]
        if fields.allSatisfy({ ($0.1 ?? []).isEmpty }) {
            result.error(path, "operation must not be empty; set at least one field")
        }
        for (field, values) in fields {
            switch field {
            case "ports", "notPorts":
                result.merge(Validators.eachValue(values, at: path / field, Validators.authorizationPortProblem))
            case "paths", "notPaths":
                result.merge(Validators.eachValue(values, at: path / field, Validators.pathTemplateProblem))
            default:
                result.merge(Validators.nonEmptyValues(values, at: path / field))
            }
        }
        return result
    }
}

extension AuthorizationPolicy.Condition {
    /// Validates the condition at `path` (`spec.rules[i].when[k]`).
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let key else {
            result.error(path / "key", "key is required")
            return result
        }
        if key.isEmpty {
            result.error(path / "key", "key must not be empty")
            return result
        }
        if (values ?? []).isEmpty, (notValues ?? []).isEmpty {
            result.error(path, "at least one of values or notValues must be set for key \(key)")
            return result
        }
        if let problem = Validators.conditionKeyProblem(key) {
            result.error(path / "key", problem)
            return result
        }
        for (field, list) in [("values", values), ("notValues", notValues)] {
            if key == "source.serviceAccount" {
                result.merge(Validators.serviceAccounts(list, at: path / field))
            } else {
                result.merge(Validators.eachValue(list, at: path / field) { Validators.conditionValueProblem(key: key, value: $0) })
            }
        }
        return result
    }
}
