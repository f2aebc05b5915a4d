/// The role of a proxy, from the first field of Istio's node id.
public enum ProxyType: String, Sendable, Hashable, Codable {
    /// A workload sidecar.
    case sidecar
    /// A gateway (ingress or egress).
    case router
}

/// Who a connecting proxy is, parsed from Istio's xDS node id `TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN`.
public struct ProxyIdentity: Sendable, Hashable, Codable {
    public var type: ProxyType
    /// The proxy's addresses (Istio separates several with `,`... in metadata; the id carries one).
    public var ipAddress: String
    /// The pod or workload name.
    public var workloadName: String
    public var namespace: String
    /// The DNS domain, e.g. `default.svc.cluster.local`.
    public var dnsDomain: String

    public init(type: ProxyType, ipAddress: String, workloadName: String, namespace: String, dnsDomain: String) {
        self.type = type
        self.ipAddress = ipAddress
        self.workloadName = workloadName
        self.namespace = namespace
        self.dnsDomain = dnsDomain
    }

    /// Why a node id could not be parsed.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var nodeID: String
        public var reason: String
        public var description: String { "invalid node id \"\(nodeID)\": \(reason)" }
    }

    /// Parses Istio's node id format.
    public init(nodeID: String) throws(ParseError) {
        let parts = nodeID.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else {
            throw ParseError(nodeID: nodeID, reason: "expected 4 fields separated by '~' (type~ip~name.namespace~domain), found \(parts.count)")
        }
        guard let type = ProxyType(rawValue: parts[0]) else {
            throw ParseError(nodeID: nodeID, reason: "unknown proxy type \"\(parts[0])\" (expected sidecar or router)")
        }
        guard !parts[1].isEmpty else { throw ParseError(nodeID: nodeID, reason: "the IP address field is empty") }
        let id = parts[2]
        guard let dot = id.lastIndex(of: "."), dot != id.startIndex, id.index(after: dot) != id.endIndex else {
            throw ParseError(nodeID: nodeID, reason: "the third field must be NAME.NAMESPACE, found \"\(id)\"")
        }
        self.type = type
        self.ipAddress = parts[1]
        self.workloadName = String(id[..<dot])
        self.namespace = String(id[id.index(after: dot)...])
        self.dnsDomain = parts[3]
    }

    /// The node id string for this identity.
    public var nodeID: String { "\(type.rawValue)~\(ipAddress)~\(workloadName).\(namespace)~\(dnsDomain)" }
}
