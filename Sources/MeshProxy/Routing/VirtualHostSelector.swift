/// Picks the virtual host for a request's authority with Envoy's precedence rules.
///
/// Envoy matches, in order: an exact domain, the longest suffix wildcard (`*.example.com`,
/// `*-bar.example.com`), the longest prefix wildcard (`foo.*`), then `*`. Matching ignores
/// case, and a domain with a port (`example.com:8080`) matches only that authority.
public struct VirtualHostSelector<Value: Sendable>: Sendable {
    private var exact: [String: Value] = [:]
    private var suffixes: [(suffix: String, value: Value)] = []
    private var prefixes: [(prefix: String, value: Value)] = []
    private var fallback: Value?

    /// Why a set of domains cannot be served (Envoy rejects the route configuration).
    public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter domains: each virtual host's domains and the value it selects.
    /// - Throws: ``ConfigurationError`` when a domain appears twice or has a wildcard in the middle.
    public init(_ domains: [(domains: [String], value: Value)]) throws(ConfigurationError) {
        var seen: Set<String> = []
        for (list, value) in domains {
            for raw in list {
                let domain = ASCII.lowercased(raw)
                guard seen.insert(domain).inserted else {
                    throw ConfigurationError(description: "domain \"\(raw)\" appears in more than one virtual host")
                }
                if domain == "*" {
                    fallback = value
                } else if domain.hasPrefix("*") {
                    suffixes.append((String(domain.dropFirst()), value))
                } else if domain.hasSuffix("*") {
                    prefixes.append((String(domain.dropLast()), value))
                } else if domain.contains("*") {
                    throw ConfigurationError(description: "domain \"\(raw)\" has a wildcard that is neither leading nor trailing")
                } else {
                    exact[domain] = value
                }
            }
        }
        suffixes.sort { $0.suffix.utf8.count > $1.suffix.utf8.count }
        prefixes.sort { $0.prefix.utf8.count > $1.prefix.utf8.count }
    }

    /// The value for `authority`, or nil when nothing matches. Allocates only when the authority
    /// has upper-case letters.
    public func select(authority: String) -> Value? {
        let host = authority.utf8.contains(where: { $0 &- 65 < 26 }) ? ASCII.lowercased(authority) : authority
        if let v = exact[host] { return v }
        let hostView = host[...]
        let count = host.utf8.count
        // Wildcards must match at least one character.
        for entry in suffixes where count > entry.suffix.utf8.count && ASCII.hasSuffix(hostView, entry.suffix, ignoringCase: false) {
            return entry.value
        }
        for entry in prefixes where count > entry.prefix.utf8.count && ASCII.hasPrefix(hostView, entry.prefix, ignoringCase: false) {
            return entry.value
        }
        return fallback
    }
}
