public import MeshCore

/// The route side of consistent hashing: Envoy hashes on the `RouteAction`, so Istio puts the
/// DestinationRule's `consistentHash` key on every route to the destination.
public enum HashPolicyConverter {
    public typealias HashPolicy = Envoy_Config_Route_V3_RouteAction.HashPolicy

    /// The hash policy for a key, or nil when `consistentHash` names none.
    public static func convert(_ hash: DestinationRule.LoadBalancerSettings.ConsistentHashLB?) -> HashPolicy? {
        guard let hash else { return nil }
        if let header = hash.httpHeaderName {
            return .with { $0.header = .with { $0.headerName = header } }
        }
        if let cookie = hash.httpCookie {
            return .with {
                $0.cookie = .with { c in
                    c.name = cookie.name ?? ""
                    if let ttl = cookie.ttl { c.ttl = Proto.duration(ttl) }
                    c.path = cookie.path ?? ""
                    c.attributes = (cookie.attributes ?? []).map { attribute in
                        HashPolicy.CookieAttribute.with { $0.name = attribute.name ?? ""; $0.value = attribute.value ?? "" }
                    }
                }
            }
        }
        if let sourceIP = hash.useSourceIp {
            return .with { $0.connectionProperties = .with { $0.sourceIp = sourceIP } }
        }
        if let parameter = hash.httpQueryParameterName {
            return .with { $0.queryParameter = .with { $0.name = parameter } }
        }
        return nil
    }

    /// Istio's `HashForHTTPDestination`: the subset's port-level hash, else the subset's, else the
    /// rule's port-level one, else the rule's. Port-level settings match only an explicit `port`.
    /// - Parameters:
    ///   - rule: the destination's DestinationRule, if any.
    ///   - subset: the route destination's subset.
    ///   - port: the route destination's explicit port number, if any.
    public static func forDestination(rule: DestinationRuleIndex.Merged?, subset: String?, port: UInt32?) -> HashPolicy? {
        guard let rule else { return nil }
        func portLevel(_ policy: DestinationRule.TrafficPolicy?) -> DestinationRule.LoadBalancerSettings.ConsistentHashLB? {
            guard let port else { return nil }
            return policy?.portLevelSettings?.first { $0.port?.number == port }?.loadBalancer?.consistentHash
        }
        var hash = rule.trafficPolicy?.loadBalancer?.consistentHash
        let subsetPolicy = rule.subsets.first { $0.name == (subset ?? "") }?.trafficPolicy
        if let h = portLevel(subsetPolicy) ?? subsetPolicy?.loadBalancer?.consistentHash ?? portLevel(rule.trafficPolicy) {
            hash = h
        }
        return convert(hash)
    }

    /// Istio's `hashForService`, for the default route of a service port without a VirtualService.
    public static func forService(rule: DestinationRuleIndex.Merged?, port: UInt32) -> HashPolicy? {
        var hash = rule?.trafficPolicy?.loadBalancer?.consistentHash
        if let level = rule?.trafficPolicy?.portLevelSettings?.first(where: { $0.port?.number == port }),
           let h = level.loadBalancer?.consistentHash {
            hash = h
        }
        return convert(hash)
    }
}
