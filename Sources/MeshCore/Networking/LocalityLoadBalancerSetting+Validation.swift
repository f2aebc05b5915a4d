extension LocalityLoadBalancerSetting {
    /// Topology labels that `failoverPriority` may not use together with `failover`.
    static let topologyLabels: Set<String> = [
        "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone",
    ]

    /// Istio's `ValidateLocalityLbSetting`.
    ///
    /// `distribute` and `failover` are exclusive; each `distribute` entry's weights are 1-100 and sum to 100;
    /// localities are well-formed and do not overlap; failover names two different regions without
    /// wildcards; failover warns without outlier detection.
    /// - Parameters:
    ///   - path: where the setting sits, e.g. `spec.trafficPolicy.loadBalancer.localityLbSetting`.
    ///   - hasOutlierDetection: whether the enclosing policy configures outlier detection.
    public func validate(at path: FieldPath, hasOutlierDetection: Bool) -> ValidationResult {
        var result = ValidationResult()
        let distribute = distribute ?? []
        let failover = failover ?? []
        let failoverPriority = failoverPriority ?? []

        if !distribute.isEmpty && !failover.isEmpty {
            result.error(path, "can not simultaneously specify 'distribute' and 'failover'")
            return result
        }
        if !failover.isEmpty {
            for (i, label) in failoverPriority.enumerated() where Self.topologyLabels.contains(label) {
                result.error((path / "failoverPriority")[i], "can not simultaneously set 'failover' and topology label '\(label)' in 'failoverPriority'")
                return result
            }
        }

        for (i, entry) in distribute.enumerated() {
            let entryPath = (path / "distribute")[i]
            var total: UInt64 = 0
            let to = (entry.to ?? [:]).sorted { $0.key < $1.key }
            for (locality, weight) in to {
                if weight == 0 || weight > 100 {
                    result.error((entryPath / "to").key(locality), "locality weight must be in range [1, 100]")
                    return result
                }
                total += UInt64(weight)
            }
            if total != 100 {
                result.error(entryPath / "to", "total locality weight \(total) != 100")
                return result
            }
            if let problem = Validators.localitiesProblem(to.map(\.key)) {
                result.error(entryPath / "to", problem)
            }
        }
        if let problem = Validators.localitiesProblem(distribute.map { $0.from ?? "" }) {
            result.error(path / "distribute", problem)
        }

        if (!failover.isEmpty || !failoverPriority.isEmpty) && !hasOutlierDetection {
            result.warning(path, "outlier detection policy must be provided for failover")
        }

        for (i, entry) in failover.enumerated() {
            let entryPath = (path / "failover")[i]
            let from = entry.from ?? "", to = entry.to ?? ""
            if from == to {
                result.error(entryPath, "locality lb failover settings must specify different regions")
            }
            if from.contains("/") || to.contains("/") {
                result.error(entryPath, "locality lb failover only specify region")
            }
            if from.contains("*") || to.contains("*") {
                result.error(entryPath, "locality lb failover region should not contain '*' wildcard")
            }
        }
        return result
    }
}
