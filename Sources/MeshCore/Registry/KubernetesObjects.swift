/// A workload found in Kubernetes documents (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job).
public struct KubernetesWorkload: Sendable, Hashable {
    public var kind: String
    public var name: String
    public var namespace: String
    /// The pod labels (the pod template's for controllers).
    public var labels: [String: String]
    public var serviceAccount: String

    public init(kind: String, name: String, namespace: String, labels: [String: String], serviceAccount: String = "default") {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.serviceAccount = serviceAccount
    }
}

/// Services and workloads read from the Kubernetes documents that travel with Istio config.
///
/// These documents are not validated (they are not Istio's); they are read leniently so that
/// analysis and the registry know the Services and pods an Istio config refers to.
public struct PlatformObjects: Sendable, Hashable {
    public var services: [MeshService] = []
    public var workloads: [KubernetesWorkload] = []
    /// Names of the Kubernetes Namespaces declared (`kind: Namespace`).
    public var namespaces: [String] = []

    public init(services: [MeshService] = [], workloads: [KubernetesWorkload] = [], namespaces: [String] = []) {
        self.services = services
        self.workloads = workloads
        self.namespaces = namespaces
    }

    public mutating func merge(_ other: PlatformObjects) {
        services += other.services
        workloads += other.workloads
        namespaces += other.namespaces
    }

    private static let workloadKinds: Set<String> = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]

    /// Reads one non-Istio document; anything that is not a Namespace, Service or workload is ignored.
    mutating func read(document node: ConfigNode, apiVersion: String, kind: String, domainSuffix: String = "cluster.local") {
        guard let root = node.mapping else { return }
        let meta = root["metadata"]?.mapping
        guard let name = meta?["name"]?.string else { return }
        let namespace = meta?["namespace"]?.string ?? "default"
        func labels(_ n: ConfigNode?) -> [String: String] {
            var out: [String: String] = [:]
            for entry in n?.mapping?.entries ?? [] {
                if case .scalar(let s) = entry.value { out[entry.key] = s.text }
            }
            return out
        }
        if kind == "Namespace", apiVersion == "v1" {
            namespaces.append(name)
        } else if kind == "Service", apiVersion == "v1" {
            let spec = root["spec"]?.mapping
            var ports: [ServicePortInfo] = []
            if case .sequence(let list)? = spec?["ports"] {
                for item in list.items {
                    guard let port = item.mapping, case .scalar(let number)? = port["port"], let value = UInt32(number.text) else { continue }
                    let portName = port["name"]?.string
                    var proto = ServiceProtocol.infer(portName: portName, appProtocol: port["appProtocol"]?.string)
                    if port["protocol"]?.string == "UDP" { proto = .udp }
                    var target: UInt32?
                    if case .scalar(let t)? = port["targetPort"], t.kind == .integer { target = UInt32(t.text) }
                    ports.append(ServicePortInfo(name: portName ?? "", port: value, protocol: proto, targetPort: target))
                }
            }
            let external = spec?["type"]?.string == "ExternalName"
            var addresses: [String] = []
            if let ip = spec?["clusterIP"]?.string, ip != "None", !ip.isEmpty { addresses.append(ip) }
            services.append(MeshService(
                hostname: "\(name).\(namespace).svc.\(domainSuffix)", namespace: namespace, ports: ports,
                resolution: external ? .dnsLB : (spec?["clusterIP"]?.string == "None" ? .passthrough : .clientSideLB),
                location: external ? .meshExternal : .meshInternal, addresses: addresses, labels: labels(meta?["labels"]),
                selector: spec?["selector"] == nil ? nil : labels(spec?["selector"])))
        } else if Self.workloadKinds.contains(kind) {
            let spec = root["spec"]?.mapping
            let podSpec: ConfigNode.Mapping?
            let podLabels: [String: String]
            if kind == "Pod" {
                podSpec = spec
                podLabels = labels(meta?["labels"])
            } else {
                let template = spec?["template"]?.mapping
                podSpec = template?["spec"]?.mapping
                podLabels = labels(template?["metadata"]?.mapping?["labels"])
            }
            let sa = podSpec?["serviceAccountName"]?.string ?? podSpec?["serviceAccount"]?.string ?? "default"
            workloads.append(KubernetesWorkload(kind: kind, name: name, namespace: namespace, labels: podLabels, serviceAccount: sa))
        }
    }
}
