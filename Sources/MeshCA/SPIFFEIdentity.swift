/// A workload identity in Istio's SPIFFE form: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
public struct SPIFFEIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var trustDomain: String
    public var namespace: String
    public var serviceAccount: String

    public init(trustDomain: String = "cluster.local", namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Why a URI is not an Istio SPIFFE identity.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var uri: String
        public var reason: String
        public var description: String { "invalid SPIFFE identity \"\(uri)\": \(reason)" }
    }

    /// Parses `spiffe://TD/ns/NS/sa/SA`.
    public init(uri: String) throws(ParseError) {
        let scheme = "spiffe://"
        guard uri.hasPrefix(scheme) else { throw ParseError(uri: uri, reason: "must start with spiffe://") }
        let parts = uri.dropFirst(scheme.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else {
            throw ParseError(uri: uri, reason: "expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")
        }
        guard Self.isValidTrustDomain(parts[0]) else {
            throw ParseError(uri: uri, reason: "trust domain \"\(parts[0])\" must be lowercase letters, digits, '.', '-' or '_'")
        }
        guard !parts[2].isEmpty, !parts[4].isEmpty else {
            throw ParseError(uri: uri, reason: "namespace and service account must not be empty")
        }
        self.init(trustDomain: parts[0], namespace: parts[2], serviceAccount: parts[4])
    }

    /// The SPIFFE trust domain rules: non-empty, lowercase letters, digits, `.`, `-`, `_`.
    public static func isValidTrustDomain(_ td: String) -> Bool {
        !td.isEmpty && td.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-" || $0 == "_" }
    }

    /// The URI form, used as the certificate's URI SAN and as the RBAC principal (without the scheme).
    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    /// The principal form Istio's authorization uses: `<trust-domain>/ns/<ns>/sa/<sa>`.
    public var principal: String { "\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    public var description: String { uri }
}
