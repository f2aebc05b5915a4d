import MeshCore

/// Istio's `loadBalancer` mapping to a cluster's `lb_policy` and its configuration.
///
/// `simple` picks the policy (LEAST_REQUEST when unset or UNSPECIFIED, LEAST_CONN being its old
/// name); PASSTHROUGH turns the cluster into ORIGINAL_DST. `consistentHash` overrides the policy with
/// RING_HASH (the default, with Envoy's 1024 minimum ring size unless one is given) or MAGLEV; the
/// hash key itself lives on the routes (``HashPolicyConverter``). `warmup` (or the deprecated
/// `warmupDurationSecs`) becomes the slow-start window of ROUND_ROBIN and LEAST_REQUEST.
enum LoadBalancerConverter {
    /// Runtime key of the slow-start aggression: not meant to be overridden at runtime.
    static let aggressionRuntimeKey = "istio.warmup.aggression"

    /// Sets `lb_policy` and its config on `cluster`. ORIGINAL_DST clusters always get CLUSTER_PROVIDED.
    static func apply(_ lb: DestinationRule.LoadBalancerSettings?, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        if cluster.type == .originalDst {
            cluster.lbPolicy = .clusterProvided
            return
        }
        switch lb?.simple {
        case .RANDOM?:
            cluster.lbPolicy = .random
        case .ROUND_ROBIN?:
            cluster.lbPolicy = .roundRobin
            if let slowStart = slowStart(lb) { cluster.roundRobinLbConfig = .with { $0.slowStartConfig = slowStart } }
        case .PASSTHROUGH?:
            cluster.type = .originalDst
            cluster.lbPolicy = .clusterProvided
            cluster.clearLoadAssignment()
            cluster.clearEdsClusterConfig()
        case .LEAST_REQUEST?, .LEAST_CONN?, .UNSPECIFIED?, nil:
            cluster.lbPolicy = .leastRequest
            if let slowStart = slowStart(lb) { cluster.leastRequestLbConfig = .with { $0.slowStartConfig = slowStart } }
        }
        if let hash = lb?.consistentHash { applyConsistentHash(hash, to: &cluster) }
    }

    private static func applyConsistentHash(
        _ hash: DestinationRule.LoadBalancerSettings.ConsistentHashLB, to cluster: inout Envoy_Config_Cluster_V3_Cluster
    ) {
        if let maglev = hash.maglev {
            cluster.lbPolicy = .maglev
            cluster.lbConfig = nil
            if let size = maglev.tableSize, size != 0 { cluster.maglevLbConfig = .with { $0.tableSize = .init(size) } }
        } else if let ring = hash.ringHash {
            cluster.lbPolicy = .ringHash
            cluster.lbConfig = nil
            if let size = ring.minimumRingSize, size != 0 { cluster.ringHashLbConfig = .with { $0.minimumRingSize = .init(size) } }
        } else {
            cluster.lbPolicy = .ringHash
            let size = hash.minimumRingSize.flatMap { $0 == 0 ? nil : $0 } ?? 1024
            cluster.ringHashLbConfig = .with { $0.minimumRingSize = .init(size) }
        }
    }

    /// Istio's `setWarmup`: linear ramp (aggression 1) from 10% unless configured.
    static func slowStart(_ lb: DestinationRule.LoadBalancerSettings?) -> Envoy_Config_Cluster_V3_Cluster.SlowStartConfig? {
        if let warmup = lb?.warmup {
            return .with {
                if let duration = warmup.duration { $0.slowStartWindow = Proto.duration(duration) }
                $0.aggression = .with {
                    $0.defaultValue = warmup.aggression ?? 1
                    $0.runtimeKey = aggressionRuntimeKey
                }
                $0.minWeightPercent = .with { $0.value = warmup.minimumPercent ?? 10 }
            }
        }
        if let window = lb?.warmupDurationSecs {
            return .with { $0.slowStartWindow = Proto.duration(window) }
        }
        return nil
    }
}
