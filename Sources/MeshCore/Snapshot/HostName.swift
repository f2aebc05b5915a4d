/// Istio's host-name rules: short-name resolution and wildcard matching.
public enum HostName {
    /// Resolves a short name such as `reviews` to `reviews.<namespace>.svc.<domainSuffix>`.
    ///
    /// Names that contain a dot, wildcards and IP addresses are returned unchanged, as Istio does.
    public static func resolve(_ host: String, namespace: String, domainSuffix: String = "cluster.local") -> String {
        if host.isEmpty || host.utf8.contains(UInt8(ascii: ".")) || host.hasPrefix("*") || host.utf8.contains(UInt8(ascii: ":")) {
            return host
        }
        return "\(host).\(namespace).svc.\(domainSuffix)"
    }

    /// True when `host` is a wildcard (`*` or `*.suffix`).
    public static func isWildcard(_ host: String) -> Bool { host.hasPrefix("*") }

    /// True when the two host patterns can name a common host.
    public static func overlaps(_ a: String, _ b: String) -> Bool {
        matches(a, b) || matches(b, a)
    }

    /// True when every host that `host` names is also named by `pattern`.
    ///
    /// `*` covers everything; `*.example.com` covers `a.example.com` and `*.a.example.com`;
    /// otherwise names must be equal (ignoring case).
    public static func matches(_ host: String, _ pattern: String) -> Bool {
        let h = host.lowercased(), p = pattern.lowercased()
        if p == "*" { return true }
        if p.hasPrefix("*") {
            let suffix = p.dropFirst()
            if h.hasPrefix("*") { return h.dropFirst().hasSuffix(suffix) }
            return h.count > suffix.count && h.hasSuffix(suffix)
        }
        return h == p
    }

    /// Splits a `namespace/host` reference (Gateway server hosts, Sidecar egress hosts); a bare host has namespace `*`.
    public static func splitNamespace(_ reference: String) -> (namespace: String, host: String) {
        guard let slash = reference.firstIndex(of: "/") else { return ("*", reference) }
        return (String(reference[..<slash]), String(reference[reference.index(after: slash)...]))
    }
}
