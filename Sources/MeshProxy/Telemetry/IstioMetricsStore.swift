import MeshTelemetry
import Synchronization

/// One of Istio's standard metrics as the proxy records it.
enum IstioMetric: Int, CaseIterable, Sendable {
    case requestsTotal, requestDuration, requestBytes, responseBytes
    case tcpConnectionsOpened, tcpConnectionsClosed, tcpSentBytes, tcpReceivedBytes

    /// The definition (exported name, type, help) in MeshTelemetry.
    var standard: StandardMetric {
        switch self {
        case .requestsTotal: .requestsTotal
        case .requestDuration: .requestDuration
        case .requestBytes: .requestBytes
        case .responseBytes: .responseBytes
        case .tcpConnectionsOpened: .tcpConnectionsOpened
        case .tcpConnectionsClosed: .tcpConnectionsClosed
        case .tcpSentBytes: .tcpSentBytes
        case .tcpReceivedBytes: .tcpReceivedBytes
        }
    }

    /// The name Telemetry overrides and `stats.MetricConfig.name` use (`istio_` dropped).
    var shortName: String { String(standard.name.dropFirst("istio_".count)) }

    /// Histogram bucket bounds; nil for counters.
    var buckets: [Double]? {
        switch self {
        case .requestDuration: StandardMetric.durationBuckets
        case .requestBytes, .responseBytes: StandardMetric.sizeBuckets
        default: nil
        }
    }

    var bit: UInt8 { 1 << UInt8(rawValue) }
}

/// A histogram with fixed bucket bounds (counts per bucket, not cumulative).
struct IstioHistogram: Sendable {
    var counts: [Int]
    var sum: Double = 0
    var count = 0

    init(bounds: Int) { counts = Array(repeating: 0, count: bounds) }

    mutating func observe(_ value: Double, bounds: [Double]) {
        count += 1
        sum += value
        if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
    }
}

/// Istio's standard metrics the proxy has recorded, by label set, for `/stats/prometheus`.
///
/// The stats filters (HTTP and TCP) record here as streams and connections finish; the store
/// keeps one series per distinct label set, as Envoy's stats with Istio's filter do.
public final class IstioMetricsStore: Sendable {
    struct SeriesKey: Hashable, Sendable {
        var names: [String]
        var values: [String]
    }

    struct Series: Sendable {
        /// Which metrics this series reports (``IstioMetric/bit``).
        var metrics: UInt8 = 0
        var counters = [Int](repeating: 0, count: IstioMetric.allCases.count)
        var histograms: [IstioHistogram?] = [nil, nil, nil, nil]
    }

    private let series = Mutex<[SeriesKey: Series]>([:])

    /// An empty store.
    public init() {}

    /// Adds one finished request to the series `key` for the metrics in `metrics`.
    func recordRequest(_ key: SeriesKey, metrics: UInt8, durationMilliseconds: Double, requestBytes: Int, responseBytes: Int) {
        series.withLock { all in
            var entry = all[key] ?? Series()
            entry.metrics |= metrics
            if metrics & IstioMetric.requestsTotal.bit != 0 { entry.counters[IstioMetric.requestsTotal.rawValue] += 1 }
            Self.observe(&entry, .requestDuration, durationMilliseconds, metrics)
            Self.observe(&entry, .requestBytes, Double(requestBytes), metrics)
            Self.observe(&entry, .responseBytes, Double(responseBytes), metrics)
            all[key] = entry
        }
    }

    /// Adds TCP connection counts and bytes to the series `key`.
    func recordTCP(_ key: SeriesKey, metrics: UInt8, opened: Int, closed: Int, sent: Int, received: Int) {
        series.withLock { all in
            var entry = all[key] ?? Series()
            for (metric, amount) in [(IstioMetric.tcpConnectionsOpened, opened), (.tcpConnectionsClosed, closed), (.tcpSentBytes, sent), (.tcpReceivedBytes, received)]
            where metrics & metric.bit != 0 {
                entry.metrics |= metric.bit
                entry.counters[metric.rawValue] += amount
            }
            all[key] = entry
        }
    }

    private static func observe(_ entry: inout Series, _ metric: IstioMetric, _ value: Double, _ metrics: UInt8) {
        guard metrics & metric.bit != 0, let bounds = metric.buckets else { return }
        var histogram = entry.histograms[metric.rawValue] ?? IstioHistogram(bounds: bounds.count)
        histogram.observe(value, bounds: bounds)
        entry.histograms[metric.rawValue] = histogram
    }

    /// The value of a counter for the series whose labels include every pair in `labels`, summed
    /// (tests and `/stats`).
    func counterValue(_ metric: IstioMetric, matching labels: [String: String]) -> Int {
        series.withLock { all in
            all.filter { key, entry in
                entry.metrics & metric.bit != 0 && labels.allSatisfy { pair in
                    key.names.firstIndex(of: pair.key).map { key.values[$0] == pair.value } ?? false
                }
            }.reduce(0) { $0 + $1.value.counters[metric.rawValue] }
        }
    }

    /// The metrics in Prometheus' text format (0.0.4): HELP and TYPE once per metric, histograms
    /// as cumulative `_bucket` series with `le`, then `_sum` and `_count`.
    public func prometheusText() -> String {
        let snapshot = series.withLock { $0 }
        guard !snapshot.isEmpty else { return "" }
        var out = ""
        for metric in IstioMetric.allCases {
            let entries = snapshot.filter { $0.value.metrics & metric.bit != 0 }
            guard !entries.isEmpty else { continue }
            let name = metric.standard.name
            out += "# HELP \(name) \(PrometheusText.escapeHelp(metric.standard.help))\n"
            out += "# TYPE \(name) \(metric.standard.type.rawValue)\n"
            var lines: [String] = []
            for (key, entry) in entries {
                let labels = Array(zip(key.names, key.values))
                if let bounds = metric.buckets, let histogram = entry.histograms[metric.rawValue] {
                    var cumulative = 0
                    var block: [String] = []
                    for (bound, count) in zip(bounds, histogram.counts) {
                        cumulative += count
                        block.append(PrometheusText.sample("\(name)_bucket", labels: labels + [("le", Self.bound(bound))], value: Double(cumulative)))
                    }
                    block.append(PrometheusText.sample("\(name)_bucket", labels: labels + [("le", "+Inf")], value: Double(histogram.count)))
                    block.append(PrometheusText.sample("\(name)_sum", labels: labels, value: histogram.sum))
                    block.append(PrometheusText.sample("\(name)_count", labels: labels, value: Double(histogram.count)))
                    lines.append(block.joined(separator: "\n"))
                } else {
                    lines.append(PrometheusText.sample(name, labels: labels, value: Double(entry.counters[metric.rawValue])))
                }
            }
            for line in lines.sorted() { out += line + "\n" }
        }
        return out
    }

    /// A bucket bound as Prometheus writes it (`0.5`, `1`, `1e+06` style avoided: plain numbers).
    private static func bound(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}
