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

/// The metadata of a Kubernetes object read with the config: a Namespace, Service or workload.
///
/// Kept so analysis can check Istio annotations on them, as `istioctl analyze` does.
public struct KubernetesObjectMeta: Sendable, Hashable {
    public var kind: String
    public var name: String
    /// Empty for a Namespace (cluster-scoped).
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// For controllers (Deployment, StatefulSet, ...): the pod template's labels; nil for other kinds.
    public var podTemplateLabels: [String: String]?
    /// For controllers: the pod template's annotations; nil for other kinds.
    public var podTemplateAnnotations: [String: String]?
    /// For a Pod or a controller: the names of the pod's init containers (`istio-init` marks a pod
    /// injected without Istio's CNI plugin).
    public var initContainerNames: [String] = []
    /// The line the document starts on (the file is not recorded).
    public var line: Int

    public init(kind: String, name: String, namespace: String, labels: [String: String] = [:], annotations: [String: String] = [:],
                podTemplateLabels: [String: String]? = nil, podTemplateAnnotations: [String: String]? = nil, line: Int = 1) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.podTemplateLabels = podTemplateLabels
        self.podTemplateAnnotations = podTemplateAnnotations
        self.line = line
    }

    /// The key analysis messages name this object by.
    public var key: ResourceKey { ResourceKey(kind: .kubernetes(kind), namespace: namespace, name: name) }
}

/// Services and workloads read from the Kubernetes documents that travel with Istio config.
///
/// These documents are not validated (they are not Istio's); they are read leniently so that
/// analysis and the registry know the Services and pods an Istio config refers to.
public struct PlatformObjects: Sendable, Hashable {
    public var services: [MeshService] = []
    public var workloads: [KubernetesWorkload] = []
    /// Metadata of every Namespace, Service and workload read, in file order.
    public var objects: [KubernetesObjectMeta] = []
    /// Names of the Kubernetes Namespaces declared (`kind: Namespace`).
    public var namespaces: [String] = []

    public init(
        services: [MeshService] = [], workloads: [KubernetesWorkload] = [], objects: [KubernetesObjectMeta] = [],
        namespaces: [String] = []
    ) {
        self.services = services
        self.workloads = workloads
        self.objects = objects
        self.namespaces = namespaces
    }

    public mutating func merge(_ other: PlatformObjects) {
        services += other.services
        workloads += other.workloads
        objects += other.objects
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
            objects.append(KubernetesObjectMeta(kind: kind, name: name, namespace: "", labels: labels(meta?["labels"]),
                                                annotations: labels(meta?["annotations"]), line: root.line))
            return
        }
        if (kind == "Service" && apiVersion == "v1") || Self.workloadKinds.contains(kind) {
            var object = KubernetesObjectMeta(kind: kind, name: name, namespace: namespace, labels: labels(meta?["labels"]),
                                              annotations: labels(meta?["annotations"]), line: root.line)
            var podSpec = root["spec"]?.mapping
            if kind != "Pod", kind != "Service" {
                let template = root["spec"]?.mapping?["template"]?.mapping
                object.podTemplateLabels = labels(template?["metadata"]?.mapping?["labels"])
                object.podTemplateAnnotations = labels(template?["metadata"]?.mapping?["annotations"])
                podSpec = template?["spec"]?.mapping
            }
            if kind != "Service", case .sequence(let containers)? = podSpec?["initContainers"] {
                object.initContainerNames = containers.items.compactMap { $0.mapping?["name"]?.string }
            }
            objects.append(object)
        }
        if kind == "Service", apiVersion == "v1" {
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
            // Istio's `networking.istio.io/exportTo` annotation: a comma-separated exportTo list.
            var exportTo = ExportScope.everywhere
            if let annotation = labels(meta?["annotations"])["networking.istio.io/exportTo"] {
                let entries = annotation.split(separator: ",").map { $0.filter { !$0.isWhitespace } }.filter { !$0.isEmpty }
                if !entries.isEmpty { exportTo = ExportScope(exportTo: entries) }
            }
            services.append(MeshService(
                hostname: "\(name).\(namespace).svc.\(domainSuffix)", namespace: namespace, ports: ports,
                resolution: external ? .dnsLB : (spec?["clusterIP"]?.string == "None" ? .passthrough : .clientSideLB),
                location: external ? .meshExternal : .meshInternal, exportTo: exportTo, addresses: addresses,
                labels: labels(meta?["labels"]), selector: spec?["selector"] == nil ? nil : labels(spec?["selector"])))
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

/// Stand-in spec type behind the Kubernetes kinds analysis reports on; nothing of this type is
/// decoded or stored.
public struct KubernetesObjectSpec: ResourceSpec {
    public static var kind: ResourceKind { .kubernetes("Pod") }

    public init() {}

    public func validate(in context: ValidationContext) -> ValidationResult { ValidationResult() }
}

extension ResourceKind {
    /// A Kubernetes kind (`Service`, `Pod`, `Deployment`, `Namespace`, ...) for naming the platform
    /// objects analysis reports on. These kinds are not Istio config and are not in ``all``.
    public static func kubernetes(_ kind: String) -> ResourceKind {
        let group = switch kind {
        case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet": "apps"
        case "Job": "batch"
        default: ""
        }
        return ResourceKind(group: group, kind: kind, versions: ["v1"], specType: KubernetesObjectSpec.self)
    }
}
