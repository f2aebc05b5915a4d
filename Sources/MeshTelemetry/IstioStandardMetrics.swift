/// The kind of a Prometheus metric.
public enum MetricType: String, Sendable, Hashable {
    case counter, gauge, histogram
}

/// One of Istio's standard metrics, with the name Prometheus scrapes and its labels.
public struct StandardMetric: Sendable, Hashable {
    /// The exported name, e.g. `istio_requests_total`.
    public let name: String
    public let type: MetricType
    public let help: String
    /// True for HTTP/gRPC metrics, false for TCP metrics.
    public let isHTTP: Bool

    /// Labels every standard metric carries, in Istio's order.
    public static let commonLabels = [
        "reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
        "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
        "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
        "destination_version", "destination_service", "destination_canonical_service",
        "destination_canonical_revision", "destination_service_name", "destination_service_namespace",
        "destination_cluster", "request_protocol", "response_flags", "connection_security_policy",
    ]

    /// Labels only HTTP and gRPC metrics carry.
    public static let httpLabels = ["response_code", "grpc_response_status"]

    /// The labels of this metric.
    public var labels: [String] { isHTTP ? Self.commonLabels + Self.httpLabels : Self.commonLabels }

    public static let requestsTotal = StandardMetric(name: "istio_requests_total", type: .counter, help: "Requests handled by the proxy.", isHTTP: true)
    public static let requestDuration = StandardMetric(name: "istio_request_duration_milliseconds", type: .histogram, help: "Request duration in milliseconds.", isHTTP: true)
    public static let requestBytes = StandardMetric(name: "istio_request_bytes", type: .histogram, help: "Request body sizes in bytes.", isHTTP: true)
    public static let responseBytes = StandardMetric(name: "istio_response_bytes", type: .histogram, help: "Response body sizes in bytes.", isHTTP: true)
    public static let tcpSentBytes = StandardMetric(name: "istio_tcp_sent_bytes_total", type: .counter, help: "Bytes sent during responses on TCP connections.", isHTTP: false)
    public static let tcpReceivedBytes = StandardMetric(name: "istio_tcp_received_bytes_total", type: .counter, help: "Bytes received during requests on TCP connections.", isHTTP: false)
    public static let tcpConnectionsOpened = StandardMetric(name: "istio_tcp_connections_opened_total", type: .counter, help: "TCP connections opened.", isHTTP: false)
    public static let tcpConnectionsClosed = StandardMetric(name: "istio_tcp_connections_closed_total", type: .counter, help: "TCP connections closed.", isHTTP: false)
    public static let requestMessages = StandardMetric(name: "istio_request_messages_total", type: .counter, help: "gRPC messages sent by clients.", isHTTP: true)
    public static let responseMessages = StandardMetric(name: "istio_response_messages_total", type: .counter, help: "gRPC messages sent by servers.", isHTTP: true)

    /// Every standard metric.
    public static let all: [StandardMetric] = [
        .requestsTotal, .requestDuration, .requestBytes, .responseBytes,
        .tcpSentBytes, .tcpReceivedBytes, .tcpConnectionsOpened, .tcpConnectionsClosed,
        .requestMessages, .responseMessages,
    ]

    /// Istio's default bucket bounds for request duration histograms, in milliseconds.
    public static let durationBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]

    /// Istio's default bucket bounds for byte-size histograms.
    public static let sizeBuckets: [Double] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000]
}
