import Foundation

/// Rules shared by Gateway, Sidecar and EnvoyFilter validation (Istio's validateServer*, validateSidecar*,
/// ValidateNamespaceSlashWildcardHostname, ValidateUnixAddress, protocol.Parse).
extension Validators {
    /// A port protocol as Istio's `protocol.Parse` reads it (case-insensitive).
    enum ListenerPortProtocol: Sendable, Hashable {
        case grpc, grpcWeb, http, httpProxy, http2, https, tcp, tls, udp, mongo, redis, mysql, unsupported

        init(parsing text: String) {
            switch text.lowercased() {
            case "tcp": self = .tcp
            case "udp": self = .udp
            case "grpc": self = .grpc
            case "grpc-web": self = .grpcWeb
            case "http": self = .http
            case "http_proxy": self = .httpProxy
            case "http2": self = .http2
            case "https": self = .https
            case "tls": self = .tls
            case "mongo": self = .mongo
            case "redis": self = .redis
            case "mysql": self = .mysql
            default: self = .unsupported
            }
        }

        /// HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB.
        var isHTTP: Bool { [.http, .http2, .httpProxy, .grpc, .grpcWeb].contains(self) }
        /// HTTPS and TLS.
        var isTLS: Bool { self == .https || self == .tls }

        static let supportedNames = "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, MONGO, REDIS, MYSQL, TCP, TLS, UDP"
    }

    /// Why `path` (after `unix://`) is not a usable Unix domain socket path, or nil.
    ///
    /// Abstract sockets (`@name`) are accepted; otherwise the path must be absolute and name a file.
    static func unixSocketPathProblem(_ path: String) -> String? {
        if path.isEmpty { return "unix address must not be empty" }
        if path.hasPrefix("@") { return nil }
        if !path.hasPrefix("/") || path.hasSuffix("/") { return "\(path) is not an absolute path to a file" }
        return nil
    }

    /// Istio's port-name rule: an RFC 1123 label (letters of either case, digits, '-').
    static func isIstioPortName(_ name: String) -> Bool { isDNS1123Label(name, allowUpper: true) }

    /// Istio's `validateSidecarOrGatewayHostnamePart`: FQDN or wildcard, no short names, no partial wildcards;
    /// gateways also accept IP addresses.
    static func listenerHostnameProblems(_ hostname: String, isGateway: Bool) -> [String] {
        var problems: [String] = []
        if hostname != "*", !hostname.contains(".") {
            problems.append("short names (non FQDN) are not allowed in \"\(hostname)\"")
        }
        if let problem = istioWildcardDomainProblem(hostname) {
            if !isGateway || !isIPAddress(hostname) { problems.append(problem) }
        }
        if hostname.contains("*"), hostname.count != 1, !hostname.hasPrefix("*.") {
            problems.append("partial wildcard \"\(hostname)\" not allowed")
        }
        return problems
    }

    /// Istio's `ValidateNamespaceSlashWildcardHostname` for Gateway server hosts and Sidecar egress hosts.
    ///
    /// Hosts are `namespace/dnsName`. The namespace is `*`, `.` or a DNS label; Sidecars also allow a
    /// `~` prefix to exclude a namespace. Gateways also accept a bare `dnsName` (old style).
    static func namespaceSlashHostProblems(_ host: String, isGateway: Bool) -> [String] {
        let parts = host.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else {
            if isGateway { return listenerHostnameProblems(host, isGateway: true) }
            return ["host \"\(host)\" must be of form namespace/dnsName"]
        }
        var problems: [String] = []
        if parts[0].isEmpty || parts[1].isEmpty {
            problems.append("config namespace and dnsName in host entry \"\(host)\" cannot be empty")
        }
        if !isGateway {
            let ns = parts[0].hasPrefix("~") ? String(parts[0].dropFirst()) : parts[0]
            if !ns.isEmpty, ns != "*", ns != ".", !isDNS1123Label(ns, allowUpper: true) {
                problems.append("invalid namespace value \"\(parts[0])\" in sidecar: expected '*', '.', or a namespace name, optionally prefixed with '~'")
            }
        } else if parts[0] != "*", parts[0] != ".", !isDNS1123Label(parts[0], allowUpper: true) {
            problems.append("invalid namespace value \"\(parts[0])\" in gateway: expected '*', '.', or a namespace name")
        }
        problems += listenerHostnameProblems(parts[1], isGateway: isGateway)
        return problems
    }

    /// Go's `net.SplitHostPort`: `host:port` or `[ipv6]:port`.
    static func splitHostPort(_ text: String) -> (host: String, port: String)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            return (host, String(rest.dropFirst()))
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        if host.contains(":") { return nil }
        return (host, String(text[text.index(after: colon)...]))
    }

    /// Istio's `ValidateAlphaWorkloadSelector` plus the CRD schema rules for the networking `WorkloadSelector`
    /// (`labels`): no empty keys, no wildcards, values at most 63 characters, at most 256 labels.
    ///
    /// A selector without labels is a warning: it applies to every workload in the namespace.
    static func networkingWorkloadSelector(_ selector: Sidecar.WorkloadSelector?, at path: FieldPath, kindName: String) -> ValidationResult {
        var result = ValidationResult()
        guard let selector else { return result }
        let labels = selector.labels ?? [:]
        let labelsPath = path / "labels"
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty {
                result.error(labelsPath, "empty key is not supported in selector: \"=\(value)\"")
            }
            if key.contains("*") || value.contains("*") {
                result.error(labelsPath.key(key), "wildcard is not supported in selector: \"\(key)=\(value)\"")
            }
            if value.count > 63 {
                result.error(labelsPath.key(key), "label value must be at most 63 characters")
            }
        }
        if labels.count > 256 {
            result.error(labelsPath, "too many labels in selector (at most 256)")
        }
        if labels.isEmpty {
            result.warning(path, "\(kindName): workload selector specified without labels, will be applied to all services in namespace")
        }
        return result
    }
}
