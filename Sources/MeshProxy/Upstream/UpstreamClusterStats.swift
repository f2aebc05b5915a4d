import Synchronization

/// A cluster's statistics under Envoy's names (`cluster.<name>.<stat>`), with atomic counters the
/// engine increments and gauges the cluster maintains.
///
/// ``entries()`` lists them for `/stats`; ``prometheusSamples()`` names them as Envoy's Prometheus
/// output does: `envoy_cluster_<stat with dots as underscores>{envoy_cluster_name="<name>"}`, with
/// `upstream_rq_<code>` as `envoy_cluster_upstream_rq{envoy_response_code="<code>",...}` and
/// `upstream_rq_<n>xx` as `envoy_cluster_upstream_rq_xx{envoy_response_code_class="<n>",...}`.
public final class UpstreamClusterStats: Sendable {
    /// The counters and gauges, with their Envoy names as raw values.
    public enum Stat: String, CaseIterable, Sendable {
        case upstreamCxTotal = "upstream_cx_total"
        case upstreamCxActive = "upstream_cx_active"
        case upstreamCxHTTP1Total = "upstream_cx_http1_total"
        case upstreamCxHTTP2Total = "upstream_cx_http2_total"
        case upstreamCxConnectFail = "upstream_cx_connect_fail"
        case upstreamCxConnectTimeout = "upstream_cx_connect_timeout"
        case upstreamCxOverflow = "upstream_cx_overflow"
        case upstreamCxPoolOverflow = "upstream_cx_pool_overflow"
        case upstreamCxNoneHealthy = "upstream_cx_none_healthy"
        case upstreamCxDestroy = "upstream_cx_destroy"
        case upstreamCxDestroyLocal = "upstream_cx_destroy_local"
        case upstreamCxDestroyRemote = "upstream_cx_destroy_remote"
        case upstreamCxIdleTimeout = "upstream_cx_idle_timeout"
        case upstreamCxMaxRequests = "upstream_cx_max_requests"
        case upstreamCxMaxDurationReached = "upstream_cx_max_duration_reached"
        case upstreamCxRxBytesTotal = "upstream_cx_rx_bytes_total"
        case upstreamCxTxBytesTotal = "upstream_cx_tx_bytes_total"
        case upstreamRqTotal = "upstream_rq_total"
        case upstreamRqActive = "upstream_rq_active"
        case upstreamRqCompleted = "upstream_rq_completed"
        case upstreamRqPendingTotal = "upstream_rq_pending_total"
        case upstreamRqPendingActive = "upstream_rq_pending_active"
        case upstreamRqPendingOverflow = "upstream_rq_pending_overflow"
        case upstreamRqPendingFailureEject = "upstream_rq_pending_failure_eject"
        case upstreamRqCancelled = "upstream_rq_cancelled"
        case upstreamRqTimeout = "upstream_rq_timeout"
        case upstreamRqPerTryTimeout = "upstream_rq_per_try_timeout"
        case upstreamRqRxReset = "upstream_rq_rx_reset"
        case upstreamRqTxReset = "upstream_rq_tx_reset"
        case upstreamRqRetry = "upstream_rq_retry"
        case upstreamRqRetrySuccess = "upstream_rq_retry_success"
        case upstreamRqRetryOverflow = "upstream_rq_retry_overflow"
        case upstreamRqRetryLimitExceeded = "upstream_rq_retry_limit_exceeded"
        case upstreamRqDropOverload = "upstream_rq_drop_overload"
        case lbHealthyPanic = "lb_healthy_panic"
        case membershipHealthy = "membership_healthy"
        case membershipDegraded = "membership_degraded"
        case membershipExcluded = "membership_excluded"
        case membershipTotal = "membership_total"
        case membershipChange = "membership_change"
        case updateAttempt = "update_attempt"
        case updateSuccess = "update_success"
        case updateEmpty = "update_empty"
        case outlierEjectionsActive = "outlier_detection.ejections_active"
        case outlierEjectionsOverflow = "outlier_detection.ejections_overflow"
        case outlierEjectionsTotal = "outlier_detection.ejections_total"
        case outlierEjectionsEnforcedTotal = "outlier_detection.ejections_enforced_total"
        case outlierEjectionsConsecutive5xx = "outlier_detection.ejections_consecutive_5xx"
        case outlierEjectionsEnforcedConsecutive5xx = "outlier_detection.ejections_enforced_consecutive_5xx"
        case outlierEjectionsDetectedConsecutive5xx = "outlier_detection.ejections_detected_consecutive_5xx"
        case outlierEjectionsEnforcedConsecutiveGatewayFailure = "outlier_detection.ejections_enforced_consecutive_gateway_failure"
        case outlierEjectionsDetectedConsecutiveGatewayFailure = "outlier_detection.ejections_detected_consecutive_gateway_failure"
        case outlierEjectionsEnforcedConsecutiveLocalOriginFailure = "outlier_detection.ejections_enforced_consecutive_local_origin_failure"
        case outlierEjectionsDetectedConsecutiveLocalOriginFailure = "outlier_detection.ejections_detected_consecutive_local_origin_failure"
        case sslHandshake = "ssl.handshake"
        case sslConnectionError = "ssl.connection_error"

        /// Whether Envoy reports the stat as a gauge (the rest are counters).
        public var isGauge: Bool {
            switch self {
            case .upstreamCxActive, .upstreamRqActive, .upstreamRqPendingActive, .membershipHealthy,
                 .membershipDegraded, .membershipExcluded, .membershipTotal, .outlierEjectionsActive:
                true
            default:
                false
            }
        }
    }

    /// A stat's kind, for Prometheus `# TYPE` lines.
    public enum Kind: String, Sendable {
        /// Monotonic.
        case counter
        /// Goes up and down.
        case gauge
    }

    /// One line of `/stats`.
    public struct Entry: Sendable, Equatable {
        /// The full Envoy name, `cluster.<name>.<stat>`.
        public var name: String
        /// The value.
        public var value: UInt64
        /// Counter or gauge.
        public var kind: Kind
    }

    /// One Prometheus sample.
    public struct PrometheusSample: Sendable, Equatable {
        /// The metric name, such as `envoy_cluster_upstream_rq_total`.
        public var name: String
        /// The labels in output order.
        public var labels: [(name: String, value: String)]
        /// The value.
        public var value: UInt64
        /// Counter or gauge.
        public var kind: Kind

        /// `name{label="value",...} value`, with label values escaped.
        public var line: String {
            let rendered = labels.map { "\($0.name)=\"\(Self.escape($0.value))\"" }.joined(separator: ",")
            return "\(name){\(rendered)} \(value)"
        }

        static func escape(_ value: String) -> String {
            var result = ""
            for character in value {
                switch character {
                case "\\": result += "\\\\"
                case "\"": result += "\\\""
                case "\n": result += "\\n"
                default: result.append(character)
                }
            }
            return result
        }

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.name == rhs.name && lhs.value == rhs.value && lhs.kind == rhs.kind
                && lhs.labels.map(\.name) == rhs.labels.map(\.name) && lhs.labels.map(\.value) == rhs.labels.map(\.value)
        }
    }

    private final class Cell: Sendable {
        let value = Atomic<Int64>(0)
    }

    /// The name stats are reported under (`alt_stat_name` or the cluster name).
    public let clusterName: String
    private let cells: [Stat: Cell]
    private let responseCodes = Mutex<[Int: UInt64]>([:])
    private let circuitBreakers: CircuitBreakerCounters?

    /// - Parameters:
    ///   - clusterName: The stat name of the cluster.
    ///   - circuitBreakers: Counters whose gauges are reported under `circuit_breakers.default.*`.
    public init(clusterName: String, circuitBreakers: CircuitBreakerCounters? = nil) {
        self.clusterName = clusterName
        self.cells = Dictionary(uniqueKeysWithValues: Stat.allCases.map { ($0, Cell()) })
        self.circuitBreakers = circuitBreakers
    }

    private func cell(_ stat: Stat) -> Cell { cells[stat]! }

    /// Adds `amount` to a stat.
    /// - Parameters:
    ///   - stat: The stat.
    ///   - amount: The increment (1 by default).
    public func increment(_ stat: Stat, by amount: Int = 1) {
        cell(stat).value.add(Int64(amount), ordering: .relaxed)
    }

    /// Subtracts `amount` from a gauge.
    /// - Parameters:
    ///   - stat: The gauge.
    ///   - amount: The decrement (1 by default).
    public func decrement(_ stat: Stat, by amount: Int = 1) {
        cell(stat).value.subtract(Int64(amount), ordering: .relaxed)
    }

    /// Sets a gauge.
    /// - Parameters:
    ///   - stat: The gauge.
    ///   - value: Its value.
    public func set(_ stat: Stat, to value: Int) {
        cell(stat).value.store(Int64(value), ordering: .relaxed)
    }

    /// A stat's current value (negative gauges read as 0).
    /// - Parameter stat: The stat.
    public func value(_ stat: Stat) -> UInt64 {
        UInt64(max(0, cell(stat).value.load(ordering: .relaxed)))
    }

    /// Records an upstream response code: `upstream_rq_<code>`, `upstream_rq_<n>xx` and
    /// `upstream_rq_completed`.
    /// - Parameter code: The HTTP status code.
    public func recordResponse(code: Int) {
        guard (100...599).contains(code) else { return }
        responseCodes.withLock { $0[code, default: 0] += 1 }
        increment(.upstreamRqCompleted)
    }

    /// The count of one response code.
    /// - Parameter code: The HTTP status.
    public func responseCount(code: Int) -> UInt64 { responseCodes.withLock { $0[code] ?? 0 } }

    /// The count of a response class (`2` for 2xx).
    /// - Parameter codeClass: 1 through 5.
    public func responseCount(codeClass: Int) -> UInt64 {
        responseCodes.withLock { codes in codes.filter { $0.key / 100 == codeClass }.values.reduce(0, +) }
    }

    private func statValues() -> [(stat: String, value: UInt64, kind: Kind)] {
        var result: [(String, UInt64, Kind)] = Stat.allCases.map { ($0.rawValue, value($0), $0.isGauge ? .gauge : .counter) }
        let codes = responseCodes.withLock { $0 }
        var classes: [Int: UInt64] = [:]
        for (code, count) in codes { classes[code / 100, default: 0] += count }
        for codeClass in classes.keys.sorted() { result.append(("upstream_rq_\(codeClass)xx", classes[codeClass]!, .counter)) }
        for code in codes.keys.sorted() { result.append(("upstream_rq_\(code)", codes[code]!, .counter)) }
        if let breakers = circuitBreakers {
            for (name, value) in breakers.gauges() { result.append(("circuit_breakers.default.\(name)", value, .gauge)) }
        }
        return result
    }

    /// Every stat as Envoy's `/stats` prints it, `cluster.<name>.<stat>`, sorted by name.
    public func entries() -> [Entry] {
        statValues().map { Entry(name: "cluster.\(clusterName).\($0.stat)", value: $0.value, kind: $0.kind) }
            .sorted { $0.name < $1.name }
    }

    /// Every stat as Envoy's `/stats/prometheus` names it, sorted by metric name.
    public func prometheusSamples() -> [PrometheusSample] {
        let clusterLabel = (name: "envoy_cluster_name", value: clusterName)
        return statValues().map { stat -> PrometheusSample in
            let name = stat.stat
            if name.hasPrefix("upstream_rq_"), let suffix = Optional(name.dropFirst("upstream_rq_".count)) {
                if suffix.count == 3, suffix.allSatisfy(\.isNumber) {
                    return PrometheusSample(name: "envoy_cluster_upstream_rq", labels: [("envoy_response_code", String(suffix)), clusterLabel], value: stat.value, kind: stat.kind)
                }
                if suffix.count == 3, suffix.hasSuffix("xx"), suffix.first!.isNumber {
                    return PrometheusSample(name: "envoy_cluster_upstream_rq_xx", labels: [("envoy_response_code_class", String(suffix.first!)), clusterLabel], value: stat.value, kind: stat.kind)
                }
            }
            let metric = "envoy_cluster_" + String(name.map { $0 == "." ? "_" : $0 })
            return PrometheusSample(name: metric, labels: [clusterLabel], value: stat.value, kind: stat.kind)
        }
        .sorted { $0.name < $1.name }
    }
}
