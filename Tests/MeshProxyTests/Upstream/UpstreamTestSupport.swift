import MeshProxy
import MeshXDS
import SwiftProtobuf
import Synchronization

/// A clock tests move by hand.
final class ManualUpstreamClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    func advance(by duration: Duration) { offset.withLock { $0 += duration } }

    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }

    var function: @Sendable () -> ContinuousClock.Instant { { [self] in now } }
}

/// SplitMix64: a deterministic random source for tests.
final class SeededRandom: Sendable {
    private let state: Mutex<UInt64>

    init(seed: UInt64 = 42) { state = Mutex(seed) }

    func next() -> UInt64 {
        state.withLock { s in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    var function: @Sendable () -> UInt64 { { [self] in next() } }
}

/// A random source that returns queued values, then zero.
final class ScriptedRandom: Sendable {
    private let values: Mutex<[UInt64]>

    init(_ values: [UInt64] = []) { self.values = Mutex(values) }

    func push(_ more: UInt64...) { values.withLock { $0 += more } }

    var function: @Sendable () -> UInt64 { { [self] in values.withLock { $0.isEmpty ? 0 : $0.removeFirst() } } }
}

enum Fixtures {
    static func endpoint(_ last: Int, port: Int = 8080, weight: UInt32 = 1, health: EndpointHealthStatus = .healthy) -> UpstreamEndpoint {
        UpstreamEndpoint(address: .socket(host: "10.0.0.\(last)", port: port), healthStatus: health, loadBalancingWeight: weight)
    }

    static func endpoints(_ lasts: ClosedRange<Int>, priority: UInt32 = 0, health: EndpointHealthStatus = .healthy) -> LocalityEndpoints {
        LocalityEndpoints(priority: priority, endpoints: lasts.map { endpoint($0, health: health) })
    }

    static func set(_ localities: LocalityEndpoints...) -> EndpointSet {
        EndpointSet(clusterName: "c", localities: localities)
    }

    static func cluster(_ json: String) throws -> Envoy_Config_Cluster_V3_Cluster {
        EnvoyAnyTypes.register()
        return try Envoy_Config_Cluster_V3_Cluster(jsonString: json)
    }

    static func assignment(_ json: String) throws -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        try Envoy_Config_Endpoint_V3_ClusterLoadAssignment(jsonString: json)
    }

    /// Counts picks per host address over `n` selections.
    static func distribution(_ cluster: UpstreamCluster, picks n: Int, context: HostSelectionContext = HostSelectionContext()) -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<n {
            if let host = cluster.chooseHost(context) { counts[host.address.description, default: 0] += 1 } else { counts["none", default: 0] += 1 }
        }
        return counts
    }
}
