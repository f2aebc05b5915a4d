import Synchronization

/// A monotonically increasing count, safe to bump from any event loop.
public final class StatCounter: Sendable {
    private let storage = Atomic<Int>(0)
    init() {}
    /// Adds `amount` (1 by default).
    public func increment(by amount: Int = 1) { storage.add(amount, ordering: .relaxed) }
    /// The current value.
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down (active requests, connections).
public final class StatGauge: Sendable {
    private let storage = Atomic<Int>(0)
    init() {}
    /// Adds `amount`.
    public func add(_ amount: Int) { storage.add(amount, ordering: .relaxed) }
    /// Subtracts `amount`.
    public func subtract(_ amount: Int) { storage.subtract(amount, ordering: .relaxed) }
    /// Sets the value.
    public func set(_ value: Int) { storage.store(value, ordering: .relaxed) }
    /// The current value.
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// The proxy's stats, by Envoy's dotted names (`cluster.<name>.upstream_rq_total`), with the
/// Prometheus name and labels Envoy's `/stats/prometheus` uses for each.
///
/// Counters are created once (when a listener or cluster is built) and then bumped lock-free.
public final class StatsStore: Sendable {
    /// How one stat appears in Prometheus' text format.
    public struct PrometheusName: Sendable, Hashable {
        /// The metric name, e.g. `envoy_cluster_upstream_rq_total`.
        public var name: String
        /// Labels, e.g. `[("envoy_cluster_name", "outbound|80||a")]`.
        public var labels: [Label]
        /// One label.
        public struct Label: Sendable, Hashable {
            public var name: String
            public var value: String
        }
    }

    private enum Stat: Sendable {
        case counter(StatCounter)
        case gauge(StatGauge)
    }

    private struct Entry: Sendable {
        var stat: Stat
        var prometheus: PrometheusName
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Istio's standard metrics, which carry many labels per series (appended to the Prometheus output).
    public let istio = IstioMetricsStore()

    /// An empty store.
    public init() {}

    /// The counter with this name, created on first use.
    /// - Parameters:
    ///   - name: Envoy's dotted name.
    ///   - prometheus: The Prometheus name and labels.
    public func counter(_ name: String, prometheus: PrometheusName) -> StatCounter {
        entries.withLock { entries in
            if case .counter(let existing)? = entries[name]?.stat { return existing }
            let counter = StatCounter()
            entries[name] = Entry(stat: .counter(counter), prometheus: prometheus)
            return counter
        }
    }

    /// The gauge with this name, created on first use.
    public func gauge(_ name: String, prometheus: PrometheusName) -> StatGauge {
        entries.withLock { entries in
            if case .gauge(let existing)? = entries[name]?.stat { return existing }
            let gauge = StatGauge()
            entries[name] = Entry(stat: .gauge(gauge), prometheus: prometheus)
            return gauge
        }
    }

    /// Removes every stat whose name starts with `prefix` (a removed cluster or listener).
    public func remove(prefix: String) {
        entries.withLock { entries in entries = entries.filter { !$0.key.hasPrefix(prefix) } }
    }

    /// Every stat as `name: value`, sorted by name (Envoy's `/stats`).
    public func text() -> String {
        let snapshot = entries.withLock { $0 }
        var out = ""
        for (name, entry) in snapshot.sorted(by: { $0.key < $1.key }) {
            out += "\(name): \(Self.value(entry.stat))\n"
        }
        return out
    }

    /// The value of one stat, if it exists.
    public func value(_ name: String) -> Int? {
        entries.withLock { $0[name] }.map { Self.value($0.stat) }
    }

    /// Prometheus text exposition (version 0.0.4), one `# TYPE` per metric name.
    public func prometheusText() -> String {
        let snapshot = entries.withLock { $0 }
        var byName: [String: (type: String, lines: [String])] = [:]
        for entry in snapshot.values {
            let type: String
            switch entry.stat {
            case .counter: type = "counter"
            case .gauge: type = "gauge"
            }
            let labels = entry.prometheus.labels.map { "\($0.name)=\"\(Self.escape($0.value))\"" }.joined(separator: ",")
            let line = labels.isEmpty ? "\(entry.prometheus.name) \(Self.value(entry.stat))" : "\(entry.prometheus.name){\(labels)} \(Self.value(entry.stat))"
            byName[entry.prometheus.name, default: (type, [])].lines.append(line)
        }
        var out = ""
        for (name, metric) in byName.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) \(metric.type)\n"
            for line in metric.lines.sorted() { out += line + "\n" }
        }
        return out + istio.prometheusText()
    }

    private static func value(_ stat: Stat) -> Int {
        switch stat {
        case .counter(let c): c.value
        case .gauge(let g): g.value
        }
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
