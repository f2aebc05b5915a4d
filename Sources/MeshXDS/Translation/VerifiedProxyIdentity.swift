/// A proxy's identity as its xDS connection proved it: the SPIFFE ID
/// (`spiffe://<trust domain>/ns/<namespace>/sa/<service account>`) of the client certificate it
/// presented, verified by the transport (Istio's `VerifiedIdentity`).
///
/// The server side that terminates TLS supplies it (see
/// ``IstioSnapshotProducer/verifiedCallbacks(identity:)``); translation reads it from
/// ``ProxyView/verifiedIdentity`` to decide which secrets a proxy may read.
public struct VerifiedProxyIdentity: Sendable, Hashable, CustomStringConvertible {
    public var trustDomain: String
    public var namespace: String
    public var serviceAccount: String

    /// - Parameters:
    ///   - trustDomain: the SPIFFE trust domain.
    ///   - namespace: the workload's namespace.
    ///   - serviceAccount: the workload's service account.
    public init(trustDomain: String, namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses `spiffe://TD/ns/NS/sa/SA`; nil for any other shape.
    public init?(spiffeURI: String) {
        guard spiffeURI.hasPrefix("spiffe://") else { return nil }
        let parts = spiffeURI.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa", !parts[0].isEmpty, !parts[2].isEmpty, !parts[4].isEmpty else { return nil }
        self.init(trustDomain: String(parts[0]), namespace: String(parts[2]), serviceAccount: String(parts[4]))
    }

    /// The SPIFFE URI.
    public var description: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
}
