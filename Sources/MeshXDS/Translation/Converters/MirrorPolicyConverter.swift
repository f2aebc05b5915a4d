public import MeshCore

/// Istio's mirror translation: `mirror` (with `mirrorPercentage` or the deprecated
/// `mirrorPercent`) and `mirrors` to Envoy `request_mirror_policies`.
public enum MirrorPolicyConverter {
    /// The mirror policies of a route, `mirror` first, then `mirrors` in order.
    ///
    /// A percentage of 0 turns a mirror off; no percentage mirrors every request.
    /// - Parameters:
    ///   - route: the HTTP route.
    ///   - cluster: the cluster name for a mirror destination.
    public static func convert(
        _ route: VirtualService.HTTPRoute, cluster: (Destination) -> String
    ) -> [Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy] {
        var out: [Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy] = []
        if let mirror = route.mirror, let fraction = fraction(percentage: route.mirrorPercentage, percent: route.mirrorPercent) {
            out.append(policy(cluster: cluster(mirror), fraction: fraction))
        }
        for mirror in route.mirrors ?? [] {
            guard let destination = mirror.destination, let fraction = fraction(percentage: mirror.percentage, percent: nil) else { continue }
            out.append(policy(cluster: cluster(destination), fraction: fraction))
        }
        return out
    }

    static func fraction(percentage: Percent?, percent: UInt32?) -> Envoy_Type_V3_FractionalPercent? {
        if let percentage {
            return (percentage.value ?? 0) > 0 ? PercentConverter.fractional(percentage) : nil
        }
        if let percent {
            return percent > 0 ? PercentConverter.fractional(integer: Int32(clamping: percent)) : nil
        }
        return PercentConverter.fractional(integer: 100)
    }

    static func policy(cluster: String, fraction: Envoy_Type_V3_FractionalPercent) -> Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy {
        .with {
            $0.cluster = cluster
            $0.runtimeFraction = .with { $0.defaultValue = fraction }
            $0.traceSampled = .init(false)
        }
    }
}
