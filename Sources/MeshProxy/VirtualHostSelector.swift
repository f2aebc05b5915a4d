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
                let domain = raw.lowercased()
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
        suffixes.sort { $0.suffix.count > $1.suffix.count }
        prefixes.sort { $0.prefix.count > $1.prefix.count }
    }

    /// The value for `authority`, or nil when nothing matches.
    public func select(authority: String) -> Value? {
        let host = authority.lowercased()
        if let v = exact[host] { return v }
        // Wildcards must match at least one character.
        for entry in suffixes where host.count > entry.suffix.count && host.hasSuffix(entry.suffix) { return entry.value }
        for entry in prefixes where host.count > entry.prefix.count && host.hasPrefix(entry.prefix) { return entry.value }
        return fallback
    }
}
