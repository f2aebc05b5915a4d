/// Istio's virtual host domains for a service: its host name, the short forms a client in the
/// proxy's namespace may use, and its IP addresses.
public enum VirtualHostDomains {
    /// The domains of a virtual host for `host`.
    ///
    /// For `reviews.bookinfo.svc.cluster.local` seen from `bookinfo.svc.cluster.local`:
    /// `reviews.bookinfo.svc.cluster.local`, `reviews`, `reviews.bookinfo.svc`, `reviews.bookinfo`;
    /// from another namespace the bare `reviews` is left out. With a `port` each domain is
    /// followed by its `:port` form (HTTP_PROXY listeners, which match on the port too); without
    /// one the route configuration ignores ports in host matching.
    /// - Parameters:
    ///   - host: the service host name.
    ///   - port: the port to append, or nil.
    ///   - proxyDomain: the proxy's DNS domain from its node id.
    ///   - addresses: the service's IP addresses (CIDRs are skipped).
    public static func domains(host: String, port: UInt32?, proxyDomain: String, addresses: [String] = []) -> [String] {
        var domains: [String] = []
        func append(_ name: String) {
            domains.append(name)
            if let port { domains.append("\(name):\(port)") }
        }
        append(host)
        for alt in altHosts(host, proxyDomain: proxyDomain) { append(alt) }
        for address in addresses where !address.contains("/") && address != "0.0.0.0" {
            append(address.contains(":") ? "[\(address)]" : address)
        }
        return domains
    }

    /// Istio's `GenerateAltVirtualHosts` (without ports).
    static func altHosts(_ host: String, proxyDomain: String) -> [String] {
        if let svc = proxyDomain.range(of: ".svc.") {
            // Kubernetes-style proxy domain: only expand <name>.<ns>.svc.<suffix> names.
            let suffix = String(proxyDomain[svc.upperBound...])
            guard host.hasSuffix(suffix), let hostSvc = host.range(of: ".svc."), let firstDot = host.firstIndex(of: ".") else { return [] }
            let nameAndNamespace = String(host[..<hostSvc.lowerBound])
            let namespaceStart = host.index(after: firstDot)
            guard namespaceStart < hostSvc.lowerBound else { return [] }
            let namespace = host[namespaceStart..<hostSvc.lowerBound]
            let proxyNamespace = proxyDomain[..<svc.lowerBound]
            if namespace == proxyNamespace {
                return [String(host[..<firstDot]), nameAndNamespace + ".svc", nameAndNamespace]
            }
            return [nameAndNamespace, nameAndNamespace + ".svc"]
        }
        // Other domains: the unique part of the name, plus one shared label when it has two parts.
        let hostParts = host.split(separator: ".").map(String.init)
        let domainParts = proxyDomain.split(separator: ".").map(String.init)
        var shared = 0
        while shared < min(hostParts.count, domainParts.count),
              hostParts[hostParts.count - 1 - shared] == domainParts[domainParts.count - 1 - shared] {
            shared += 1
        }
        guard shared > 0 else { return [] }
        let unique = hostParts.dropLast(shared)
        guard !unique.isEmpty else { return [] }
        var result = [unique.joined(separator: ".")]
        if unique.count == 2 { result.append(result[0] + "." + hostParts[hostParts.count - shared]) }
        return result
    }
}
