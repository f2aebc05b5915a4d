import MeshCore

/// Istio's `outlierDetection` mapping.
///
/// Only consecutive-error ejection is used: success-rate ejection is switched off explicitly, a
/// non-zero error count is enforced at 100%, and local-origin failures count separately only with
/// `splitExternalLocalOriginErrors`. Istio also sets the cluster's panic threshold from
/// `minHealthPercent` (0 when unset), since a few pods per service would otherwise keep the load
/// balancer in panic mode and defeat ejection.
enum OutlierDetectionConverter {
    /// Envoy's outlier detection for `outlier`.
    static func convert(_ outlier: DestinationRule.OutlierDetection) -> Envoy_Config_Cluster_V3_OutlierDetection {
        var out = Envoy_Config_Cluster_V3_OutlierDetection()
        out.enforcingSuccessRate = .init(0)
        if let count = outlier.consecutive5xxErrors {
            out.consecutive5Xx = .init(count)
            out.enforcingConsecutive5Xx = .init(count > 0 ? 100 : 0)
        }
        if let count = outlier.consecutiveGatewayErrors {
            out.consecutiveGatewayFailure = .init(count)
            out.enforcingConsecutiveGatewayFailure = .init(count > 0 ? 100 : 0)
        }
        // The deprecated `consecutiveErrors` is ignored, as Istio ignores it.
        if let interval = outlier.interval { out.interval = Proto.duration(interval) }
        if let base = outlier.baseEjectionTime { out.baseEjectionTime = Proto.duration(base) }
        if let percent = outlier.maxEjectionPercent, percent > 0 { out.maxEjectionPercent = .init(UInt32(percent)) }
        if outlier.splitExternalLocalOriginErrors == true {
            out.splitExternalLocalOriginErrors = true
            if let count = outlier.consecutiveLocalOriginFailures, count > 0 {
                out.consecutiveLocalOriginFailure = .init(count)
                out.enforcingConsecutiveLocalOriginFailure = .init(100)
            }
            out.enforcingLocalOriginSuccessRate = .init(0)
        }
        return out
    }

    /// The cluster's `healthy_panic_threshold` percentage Istio derives from `minHealthPercent`.
    static func panicThreshold(_ outlier: DestinationRule.OutlierDetection) -> Double? {
        let percent = outlier.minHealthPercent ?? 0
        return percent >= 0 ? Double(percent) : nil
    }
}
