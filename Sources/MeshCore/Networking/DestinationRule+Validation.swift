extension DestinationRule {
    /// Istio's `ValidateDestinationRule`: host, traffic policies, subsets, exportTo and workload selector.
    public func validate(in context: ValidationContext) -> ValidationResult {
        let spec: FieldPath = "spec"
        let namespace = context.meta.namespace
        var result = ValidationResult()

        if let problem = Validators.istioWildcardDomainProblem(host ?? "") {
            result.error(spec / "host", host == nil ? "host is required" : problem)
        }
        if let trafficPolicy {
            result.merge(trafficPolicy.validate(at: spec / "trafficPolicy", namespace: namespace))
        }

        var names = Set<String>()
        for (i, subset) in (subsets ?? []).enumerated() {
            let path = (spec / "subsets")[i]
            let name = subset.name ?? ""
            if !names.insert(name).inserted {
                result.error(path / "name", "duplicate subset names: \(name)")
            }
            result.merge(subset.validate(at: path, namespace: namespace))
        }

        result.merge(Validators.exportTo(
            exportTo, configNamespace: namespace, isServiceEntry: false,
            isDestinationRuleWithSelector: workloadSelector != nil, at: spec / "exportTo"))

        if let workloadSelector {
            result.merge(Validators.workloadSelector(workloadSelector, at: spec / "workloadSelector"))
            if (workloadSelector.matchLabels ?? [:]).isEmpty {
                result.warning(spec / "workloadSelector", "workload selector specified without labels")
            }
        }
        return result
    }
}

extension DestinationRule.Subset {
    /// Istio's `validateSubset`: a DNS-label name, valid labels and a valid traffic policy.
    public func validate(at path: FieldPath, namespace: String) -> ValidationResult {
        var result = ValidationResult()
        let name = name ?? ""
        if name.isEmpty {
            result.error(path / "name", "subset name cannot be empty")
        } else if !Validators.isIstioDNSLabel(name) {
            result.error(path / "name", "subset name is invalid: \(name) (must be a DNS-1123 label)")
        }
        result.merge(Validators.labels(labels ?? [:], at: path / "labels"))
        if let trafficPolicy {
            result.merge(trafficPolicy.validate(at: path / "trafficPolicy", namespace: namespace))
        }
        return result
    }
}

extension DestinationRule.TrafficPolicy {
    /// Istio's `validateTrafficPolicy`.
    /// - Parameters:
    ///   - path: where the policy sits, e.g. `spec.trafficPolicy`.
    ///   - namespace: the DestinationRule's namespace (for `configmap://` TLS credentials).
    public func validate(at path: FieldPath, namespace: String) -> ValidationResult {
        var result = ValidationResult()
        if loadBalancer == nil && connectionPool == nil && outlierDetection == nil && tls == nil
            && portLevelSettings == nil && tunnel == nil && proxyProtocol == nil && retryBudget == nil {
            result.error(path, "traffic policy must have at least one field")
            return result
        }
        if tunnel != nil && proxyProtocol != nil {
            result.error(path, "tunnel and proxyProtocol must not be set together")
            return result
        }

        if let outlierDetection {
            result.merge(outlierDetection.validate(at: path / "outlierDetection"))
        }
        if let connectionPool {
            result.merge(connectionPool.validate(at: path / "connectionPool"))
        }
        if let loadBalancer {
            result.merge(loadBalancer.validate(at: path / "loadBalancer", hasOutlierDetection: outlierDetection != nil))
        }
        if let tls {
            result.merge(tls.validate(at: path / "tls", namespace: namespace))
        }

        if let portLevelSettings {
            let listPath = path / "portLevelSettings"
            if portLevelSettings.count > 4096 {
                result.error(listPath, "too many port level settings (at most 4096)")
            }
            for (i, setting) in portLevelSettings.enumerated() {
                result.merge(setting.validate(at: listPath[i], namespace: namespace))
            }
        }

        if let tunnel {
            let p = path / "tunnel"
            if let proto = tunnel.protocol, !proto.isEmpty, proto != "CONNECT", proto != "POST" {
                result.error(p / "protocol", "tunnel protocol must be \"CONNECT\" or \"POST\"")
            }
            let targetHost = tunnel.targetHost ?? ""
            if let fqdnProblem = Validators.istioFQDNProblem(targetHost), IPAddress(targetHost) == nil {
                result.error(p / "targetHost", "tunnel target host must be a valid FQDN or IP address: \(fqdnProblem)")
            }
            let port = tunnel.targetPort ?? 0
            if !(1...65535).contains(port) {
                result.error(p / "targetPort", "tunnel target port is invalid: port number \(port) must be in the range 1..65535")
            }
        }

        if let retryBudget, let percent = retryBudget.percent, !(0...100).contains(percent) {
            result.error(path / "retryBudget" / "percent", "retry budget percent \(percent) must be between 0 and 100")
        }
        return result
    }
}

extension DestinationRule.TrafficPolicy.PortTrafficPolicy {
    /// Istio's `validatePortTrafficPolicies` for one entry: a port and at least one policy.
    public func validate(at path: FieldPath, namespace: String) -> ValidationResult {
        var result = ValidationResult()
        if port == nil {
            result.error(path / "port", "portTrafficPolicy must have valid port")
        }
        if outlierDetection == nil && connectionPool == nil && loadBalancer == nil && tls == nil {
            result.error(path, "port traffic policy must have at least one field")
            return result
        }
        if let outlierDetection {
            result.merge(outlierDetection.validate(at: path / "outlierDetection"))
        }
        if let connectionPool {
            result.merge(connectionPool.validate(at: path / "connectionPool"))
        }
        if let loadBalancer {
            result.merge(loadBalancer.validate(at: path / "loadBalancer", hasOutlierDetection: outlierDetection != nil))
        }
        if let tls {
            result.merge(tls.validate(at: path / "tls", namespace: namespace))
        }
        return result
    }
}

extension DestinationRule.OutlierDetection {
    /// Istio's `validateOutlierDetection`.
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        result.merge(Validators.istioDuration(baseEjectionTime, at: path / "baseEjectionTime"))
        if let consecutiveErrors, consecutiveErrors != 0 {
            result.warning(path / "consecutiveErrors", "outlier detection consecutiveErrors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead")
        }
        if splitExternalLocalOriginErrors != true, let failures = consecutiveLocalOriginFailures, failures > 0 {
            result.error(path / "consecutiveLocalOriginFailures", "outlier detection consecutiveLocalOriginFailures is specified, but splitExternalLocalOriginErrors is not set to true")
        }
        result.merge(Validators.istioDuration(interval, at: path / "interval"))
        for (field, value) in [("maxEjectionPercent", maxEjectionPercent), ("minHealthPercent", minHealthPercent)] {
            if let value, !(0...100).contains(value) {
                result.error(path / field, "percentage \(value) is not in range 0..100")
            }
        }
        for (i, code) in (outlierDetectionHttpErrorCodes ?? []).enumerated() where !(100...599).contains(code) {
            result.error((path / "outlierDetectionHttpErrorCodes")[i], "HTTP status code \(code) must be in the range 100..599")
        }
        return result
    }
}

extension DestinationRule.LoadBalancerSettings {
    /// Istio's `validateLoadBalancer` plus the CRD's oneof rules.
    /// - Parameters:
    ///   - path: where the settings sit, e.g. `spec.trafficPolicy.loadBalancer`.
    ///   - hasOutlierDetection: whether the same policy sets outlier detection (failover needs it).
    public func validate(at path: FieldPath, hasOutlierDetection: Bool) -> ValidationResult {
        var result = ValidationResult()
        if simple != nil && consistentHash != nil {
            result.error(path, "only one of simple or consistentHash may be set")
        }
        if let consistentHash {
            result.merge(consistentHash.validate(at: path / "consistentHash"))
        }

        if localityLbSetting != nil && zoneAwareLbSetting != nil {
            result.error(path, "only one of localityLbSetting and zoneAwareLbSetting can be set")
        }
        if let localityLbSetting {
            result.merge(localityLbSetting.validate(at: path / "localityLbSetting", hasOutlierDetection: hasOutlierDetection))
        }
        if let zoneAwareLbSetting {
            result.merge(zoneAwareLbSetting.validate(at: path / "zoneAwareLbSetting", hasOutlierDetection: hasOutlierDetection))
        }

        result.merge(Validators.duration(warmupDurationSecs, at: path / "warmupDurationSecs"))
        if let warmup {
            let p = path / "warmup"
            if warmup.duration == nil {
                result.error(p / "duration", "duration is required")
            } else {
                result.merge(Validators.istioDuration(warmup.duration, at: p / "duration"))
            }
            if let minimum = warmup.minimumPercent, !(0...100).contains(minimum) {
                result.error(p / "minimumPercent", "minimumPercent value should be between 0 and 100")
            }
            if let aggression = warmup.aggression, aggression <= 0 {
                result.error(p / "aggression", "aggression should be greater than 0")
            }
        }
        return result
    }
}

extension DestinationRule.LoadBalancerSettings.ConsistentHashLB {
    /// Hash key and algorithm oneofs, cookie rules, ring size deprecation and Maglev table size.
    public func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let keys = [httpHeaderName != nil, httpCookie != nil, useSourceIp != nil, httpQueryParameterName != nil].filter { $0 }.count
        if keys > 1 {
            result.error(path, "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set")
        }
        if ringHash != nil && maglev != nil {
            result.error(path, "only one of ringHash or maglev may be set")
        }
        if let httpCookie {
            let p = path / "httpCookie"
            if (httpCookie.name ?? "").isEmpty {
                result.error(p / "name", "name required for httpCookie")
            }
            var attributeNames = Set<String>()
            for (i, attribute) in (httpCookie.attributes ?? []).enumerated() {
                let name = attribute.name ?? ""
                if name.isEmpty {
                    result.error((p / "attributes")[i] / "name", "cookie attribute name cannot be empty")
                } else if !attributeNames.insert(name).inserted {
                    result.error((p / "attributes")[i] / "name", "duplicate cookie attribute name: \(name)")
                }
            }
        }
        if let minimumRingSize, minimumRingSize != 0 {
            result.warning(path / "minimumRingSize", "consistent hash minimumRingSize is deprecated, use ringHash.minimumRingSize instead")
            if ringHash != nil || maglev != nil {
                result.error(path / "minimumRingSize", "only one of minimumRingSize or maglev/ringHash can be specified")
            }
        }
        if let maglev {
            let p = path / "maglev" / "tableSize"
            let size = maglev.tableSize ?? 0
            if size == 0 {
                result.error(p, "tableSize must be set for maglev")
            }
            if size >= 5_000_011 {
                result.error(p, "tableSize must be less than 5000011 for maglev")
            }
            if !Validators.isPrime(size) {
                result.error(p, "tableSize must be a prime number for maglev")
            }
        }
        return result
    }
}

extension DestinationRule.ZoneAwareLoadBalancerSetting {
    /// Istio's `ValidateZoneAwareLbSetting`: failover by region only, no topology labels in failoverPriority.
    public func validate(at path: FieldPath, hasOutlierDetection: Bool) -> ValidationResult {
        var result = ValidationResult()
        for (i, label) in (failoverPriority ?? []).enumerated() where LocalityLoadBalancerSetting.topologyLabels.contains(label) {
            result.error((path / "failoverPriority")[i], "'failoverPriority' for zone aware lb must not use topology label '\(label)'; region- and zone-level routing are handled automatically")
        }
        let failover = failover ?? []
        if (!failover.isEmpty || !(failoverPriority ?? []).isEmpty) && !hasOutlierDetection {
            result.warning(path, "outlier detection policy must be provided for failover")
        }
        for (i, entry) in failover.enumerated() {
            let entryPath = (path / "failover")[i]
            let from = entry.from ?? "", to = entry.to ?? ""
            if from == to {
                result.error(entryPath, "zone aware lb failover settings must specify different regions")
            }
            if from.contains("/") || to.contains("/") {
                result.error(entryPath, "zone aware lb failover only specifies region; zone and subzone failover are handled automatically")
            }
            if from.contains("*") || to.contains("*") {
                result.error(entryPath, "zone aware lb failover region should not contain '*' wildcard")
            }
        }
        if let minClusterSize, minClusterSize < 1 {
            result.error(path / "minClusterSize", "minClusterSize must be at least 1")
        }
        return result
    }
}
