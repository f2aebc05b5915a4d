import MeshTelemetry
import Synchronization

/// One of Istio's standard metrics as the proxy records it.
enum IstioMetric: Int, CaseIterable, Sendable {
    case requestsTotal, requestDuration, requestBytes, responseBytes
    case tcpConnectionsOpened, tcpConnectionsClosed, tcpSentBytes, tcpReceivedBytes
    /// gRPC only: reported for series that have seen a gRPC request.
    case requestMessages, responseMessages

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
        case .requestMessages: .requestMessages
        case .responseMessages: .responseMessages
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

    var bit: UInt16 { 1 << UInt16(rawValue) }

    /// Whether only gRPC requests report it.
    var isGRPCOnly: Bool { self == .requestMessages || self == .responseMessages }
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

/// One label set's values, recorded under the series' own lock (updated in place).
struct IstioSeriesValues: Sendable {
    var counters = [Int](repeating: 0, count: IstioMetric.allCases.count)
    var histograms: [IstioHistogram?] = [nil, nil, nil, nil]
    /// A gRPC request was recorded (the message counters are reported from then on).
    var sawGRPC = false

    mutating func observe(_ metric: IstioMetric, _ value: Double, metrics: UInt16) {
        guard metrics & metric.bit != 0, let bounds = metric.buckets else { return }
        if histograms[metric.rawValue] == nil { histograms[metric.rawValue] = IstioHistogram(bounds: bounds.count) }
        histograms[metric.rawValue]!.observe(value, bounds: bounds)
    }
}

/// One series: a label set and the metrics recorded under it. Streams keep a reference (through
/// the per-thread cache) and record without looking the labels up again.
final class IstioSeries: Sendable {
    let names: [String]
    let values: [String]
    /// Which metrics this series reports (``IstioMetric/bit``).
    let metrics: UInt16
    private let state = Mutex(IstioSeriesValues())

    init(names: [String], values: [String], metrics: UInt16) {
        self.names = names
        self.values = values
        self.metrics = metrics
    }

    /// Records a finished request; `messages` are a gRPC request's message counts.
    func recordRequest(durationMilliseconds: Double, requestBytes: Int, responseBytes: Int, messages: (request: Int, response: Int)? = nil) {
        let metrics = self.metrics
        state.withLock { values in
            if metrics & IstioMetric.requestsTotal.bit != 0 { values.counters[IstioMetric.requestsTotal.rawValue] += 1 }
            values.observe(.requestDuration, durationMilliseconds, metrics: metrics)
            values.observe(.requestBytes, Double(requestBytes), metrics: metrics)
            values.observe(.responseBytes, Double(responseBytes), metrics: metrics)
            if let messages {
                values.sawGRPC = true
                if metrics & IstioMetric.requestMessages.bit != 0 { values.counters[IstioMetric.requestMessages.rawValue] += messages.request }
                if metrics & IstioMetric.responseMessages.bit != 0 { values.counters[IstioMetric.responseMessages.rawValue] += messages.response }
            }
        }
    }

    func recordTCP(opened: Int, closed: Int, sent: Int, received: Int) {
        let metrics = self.metrics
        state.withLock { values in
            for (metric, amount) in [(IstioMetric.tcpConnectionsOpened, opened), (.tcpConnectionsClosed, closed), (.tcpSentBytes, sent), (.tcpReceivedBytes, received)]
            where metrics & metric.bit != 0 {
                values.counters[metric.rawValue] += amount
            }
        }
    }

    var snapshot: IstioSeriesValues { state.withLock { $0 } }
}

/// Istio's standard metrics the proxy has recorded, by label set, for `/stats/prometheus`.
///
/// The stats filters (HTTP and TCP) record here as streams and connections finish; the store
/// keeps one series per distinct label set, as Envoy's stats with Istio's filter do, up to
/// ``maxSeries``: label values partly come from clients (exchange headers, the Host header), so
/// beyond that new label sets are not recorded and `istio_stats_series_overflow` counts them.
public final class IstioMetricsStore: Sendable {
    struct SeriesKey: Hashable, Sendable {
        var names: [String]
        var values: [String]
    }

    /// The most series kept.
    let maxSeries: Int
    private let series = Mutex<[SeriesKey: IstioSeries]>([:])
    private let overflow = Atomic<Int>(0)

    /// An empty store.
    public init() { maxSeries = 10_000 }

    init(maxSeries: Int) { self.maxSeries = maxSeries }

    /// The series for `key` with `metrics`, created on first use; nil once the store is full.
    func series(_ key: SeriesKey, metrics: UInt16) -> IstioSeries? {
        let found: IstioSeries? = series.withLock { all in
            if let existing = all[key] { return existing }
            guard all.count < maxSeries else { return nil }
            let created = IstioSeries(names: key.names, values: key.values, metrics: metrics)
            all[key] = created
            return created
        }
        if found == nil { overflow.add(1, ordering: .relaxed) }
        return found
    }

    /// Label sets not recorded because the store was full.
    var overflowCount: Int { overflow.load(ordering: .relaxed) }

    /// The value of a counter for the series whose labels include every pair in `labels`, summed
    /// (tests and `/stats`).
    func counterValue(_ metric: IstioMetric, matching labels: [String: String]) -> Int {
        let all = series.withLock { Array($0.values) }
        return all.filter { entry in
            entry.metrics & metric.bit != 0 && labels.allSatisfy { pair in
                entry.names.firstIndex(of: pair.key).map { entry.values[$0] == pair.value } ?? false
            }
        }.reduce(0) { $0 + $1.snapshot.counters[metric.rawValue] }
    }

    /// The metrics in Prometheus' text format (0.0.4): HELP and TYPE once per metric, histograms
    /// as cumulative `_bucket` series with `le`, then `_sum` and `_count`.
    public func prometheusText() -> String {
        let all = series.withLock { Array($0.values) }
        let overflowed = overflowCount
        guard !all.isEmpty || overflowed > 0 else { return "" }
        let snapshots = all.map { ($0, $0.snapshot) }
        var out = ""
        for metric in IstioMetric.allCases {
            let entries = snapshots.filter { $0.0.metrics & metric.bit != 0 && (!metric.isGRPCOnly || $0.1.sawGRPC) }
            guard !entries.isEmpty else { continue }
            let name = metric.standard.name
            out += "# HELP \(name) \(PrometheusText.escapeHelp(metric.standard.help))\n"
            out += "# TYPE \(name) \(metric.standard.type.rawValue)\n"
            var lines: [String] = []
            for (entry, values) in entries {
                let labels = Array(zip(entry.names, entry.values))
                if let bounds = metric.buckets {
                    let histogram = values.histograms[metric.rawValue] ?? IstioHistogram(bounds: bounds.count)
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
                    lines.append(PrometheusText.sample(name, labels: labels, value: Double(values.counters[metric.rawValue])))
                }
            }
            for line in lines.sorted() { out += line + "\n" }
        }
        if overflowed > 0 {
            out += "# HELP istio_stats_series_overflow_total Label sets not recorded because the series limit was reached.\n"
            out += "# TYPE istio_stats_series_overflow_total counter\nistio_stats_series_overflow_total \(overflowed)\n"
        }
        return out
    }

    /// A bucket bound as Prometheus writes it (`0.5`, `1`, `1000000`).
    private static func bound(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}
