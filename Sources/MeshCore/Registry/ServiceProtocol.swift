/// The application protocol of a service port, as Istio names it.
public enum ServiceProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    case http = "HTTP"
    case http2 = "HTTP2"
    case https = "HTTPS"
    case grpc = "GRPC"
    case grpcWeb = "GRPC-Web"
    case tcp = "TCP"
    case tls = "TLS"
    case mongo = "Mongo"
    case redis = "Redis"
    case mysql = "MySQL"
    case udp = "UDP"
    /// Not declared: Istio detects the protocol on the connection.
    case unsupported = "UnsupportedProtocol"

    /// Parses a protocol name case-insensitively (`http`, `HTTP2`, `grpc-web`, ...).
    public init(name: String) {
        switch name.lowercased() {
        case "http": self = .http
        case "http2": self = .http2
        case "https": self = .https
        case "grpc": self = .grpc
        case "grpc-web": self = .grpcWeb
        case "tcp": self = .tcp
        case "tls": self = .tls
        case "mongo": self = .mongo
        case "redis": self = .redis
        case "mysql": self = .mysql
        case "udp": self = .udp
        default: self = .unsupported
        }
    }

    /// Istio's inference for a Kubernetes-style port: `appProtocol` first (including the
    /// `kubernetes.io/h2c`, `ws` and `wss` values), then the port name's prefix before the first `-`.
    public static func infer(portName: String?, appProtocol: String? = nil) -> ServiceProtocol {
        if let appProtocol, !appProtocol.isEmpty {
            switch appProtocol.lowercased() {
            case "kubernetes.io/h2c": return .http2
            case "kubernetes.io/ws": return .http
            case "kubernetes.io/wss": return .https
            default:
                let parsed = ServiceProtocol(name: appProtocol)
                if parsed != .unsupported { return parsed }
            }
        }
        guard let portName, !portName.isEmpty else { return .unsupported }
        let lower = portName.lowercased()
        if lower == "grpc-web" || lower.hasPrefix("grpc-web-") { return .grpcWeb }
        let prefix = lower.split(separator: "-", maxSplits: 1).first.map(String.init) ?? lower
        return ServiceProtocol(name: prefix)
    }

    /// True for protocols Envoy proxies at layer 7 (HTTP family).
    public var isHTTP: Bool { [.http, .http2, .grpc, .grpcWeb].contains(self) }

    /// True for protocols carried over TLS end to end.
    public var isTLS: Bool { [.https, .tls].contains(self) }
}
