import MeshXDS

/// Who the proxy is, from the agent's flags: everything the bootstrap's `node` is made of.
struct ProxyNode: Sendable, Hashable {
    /// `sidecar` or `router` (a gateway).
    var type: ProxyType
    /// The workload's address; the proxy's admin endpoint listens on it too.
    var ip: String
    var namespace: String
    var labels: [String: String] = [:]
    /// The Kubernetes-style service account; Istio's default is `default`.
    var serviceAccount: String = "default"
    /// The workload instance (pod) name; see ``defaultName(ip:labels:serviceAccount:)``.
    var name: String
    var clusterDomain: String = "cluster.local"
    /// Istio's `CLUSTER_ID`; a single-cluster install is called `Kubernetes`.
    var clusterID: String = "Kubernetes"
    /// Istio's `MESH_ID`: the trust domain unless configured otherwise.
    var meshID: String?
    /// Istio's `INTERCEPTION_MODE`: `NONE` (explicit listeners) or `REDIRECT` (iptables capture).
    var interceptionMode = "NONE"
    /// Node metadata from `ISTIO_META_*` environment variables, as Istio's agent reads them
    /// (`ISTIO_META_HTTP10=1` becomes `HTTP10: "1"`); the keys the agent sets itself take
    /// precedence (`CLUSTER_ID` and `MESH_ID` are taken from the environment into those fields).
    var environmentMetadata: [String: String] = [:]

    /// The `ISTIO_META_` entries of `environment`, without the prefix.
    static func metadata(fromEnvironment environment: [String: String]) -> [String: String] {
        let prefix = "ISTIO_META_"
        var metadata: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix(prefix) && name.count > prefix.count {
            let key = String(name.dropFirst(prefix.count))
            // `LABELS` is a map, never a string (istiod refuses a string there): labels come from --labels.
            if key != "LABELS" { metadata[key] = value }
        }
        return metadata
    }

    /// The Istio release whose agent behaviour this agent reproduces, sent as `ISTIO_VERSION`.
    static let istioVersion = "1.28.0"

    /// Istio's node id: `TYPE~IP~NAME.NAMESPACE~NAMESPACE.svc.DOMAIN`.
    var identity: ProxyIdentity {
        ProxyIdentity(type: type, ipAddress: ip, workloadName: name, namespace: namespace, dnsDomain: "\(namespace).svc.\(clusterDomain)")
    }

    /// The workload name: the `app` label (or `service.istio.io/canonical-name`) or the instance name.
    var workloadName: String {
        labels["app"] ?? labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? name
    }

    /// Envoy's `node.cluster`, Istio's service cluster: `<app label or name>.<namespace>`.
    var serviceCluster: String { "\(workloadName).\(namespace)" }

    /// A name for a workload that was given none: `<service account or app label>-<ip with - for . and :>`.
    static func defaultName(ip: String, labels: [String: String], serviceAccount: String?) -> String {
        let base = serviceAccount ?? labels["app"] ?? "workload"
        let address = String(ip.map { $0 == "." || $0 == ":" ? "-" : $0 })
        return "\(base)-\(address)"
    }

    /// Parses `k=v,k2=v2`; the failure names the first malformed pair.
    static func parseLabels(_ text: String) -> Result<[String: String], AgentError> {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let trimmed = pair.trimmingCharacters(in: " ")
            guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else {
                return .failure(AgentError(.invalidOption, "--labels: expected key=value, got \"\(trimmed)\""))
            }
            labels[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        return .success(labels)
    }

    /// The node metadata Istio's agent sends (pkg/model `NodeMetadata` / `BootstrapNodeMetadata` keys).
    var metadata: JSONValue {
        var fields: [String: JSONValue] = [
            "NAME": .string(name),
            "NAMESPACE": .string(namespace),
            "LABELS": .object(labels.mapValues { .string($0) }),
            "SERVICE_ACCOUNT": .string(serviceAccount),
            "WORKLOAD_NAME": .string(workloadName),
            "INTERCEPTION_MODE": .string(interceptionMode),
            "INSTANCE_IPS": .string(ip),
            "CLUSTER_ID": .string(clusterID),
            "MESH_ID": .string(meshID ?? clusterDomain),
            "ISTIO_VERSION": .string(Self.istioVersion),
        ]
        if labels.isEmpty { fields["LABELS"] = nil }
        for (key, value) in environmentMetadata where fields[key] == nil { fields[key] = .string(value) }
        return .object(fields)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> Substring {
        var result = self
        while result.first == character { result = result.dropFirst() }
        while result.last == character { result = result.dropLast() }
        return result
    }
}
