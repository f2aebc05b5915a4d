/// A port of a service.
public struct ServicePortInfo: Sendable, Hashable, Codable {
    public var name: String
    public var port: UInt32
    public var `protocol`: ServiceProtocol
    /// The port endpoints listen on when it differs from `port` (ServiceEntry `targetPort`).
    public var targetPort: UInt32?

    public init(name: String, port: UInt32, protocol: ServiceProtocol, targetPort: UInt32? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.targetPort = targetPort
    }
}

/// How clients find a service's endpoints (Istio's `Resolution`).
public enum ServiceResolution: String, Sendable, Hashable, Codable {
    /// Endpoints are known (STATIC, Kubernetes): the proxy load balances over them.
    case clientSideLB
    /// Resolve the hostname(s) by DNS and load balance (DNS).
    case dnsLB
    /// Resolve by DNS and use one address at a time (DNS_ROUND_ROBIN).
    case dnsRoundRobin
    /// Forward to the original destination (NONE).
    case passthrough
    /// Resolve the requested host name dynamically (DYNAMIC_DNS).
    case dynamicDNS
}

/// Namespaces a service (or other config) is visible to.
public enum Visibility: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `*`: every namespace.
    case `public`
    /// `.`: only its own namespace.
    case `private`
    /// `~`: no namespace.
    case none
    /// A named namespace.
    case namespace(String)

    /// Parses an `exportTo` entry.
    public init(_ text: String) {
        switch text {
        case "*": self = .public
        case ".": self = .private
        case "~": self = .none
        default: self = .namespace(text)
        }
    }

    public var description: String {
        switch self {
        case .public: "*"
        case .private: "."
        case .none: "~"
        case .namespace(let ns): ns
        }
    }
}

/// A set of `exportTo` values and the question it answers.
public struct ExportScope: Sendable, Hashable, Codable {
    public var entries: Set<Visibility>

    public init(_ entries: Set<Visibility>) { self.entries = entries }

    /// Parses `exportTo`; an empty list means `defaults` (the mesh default, `*` unless configured).
    public init(exportTo: [String]?, defaults: [String]? = nil) {
        let values = (exportTo?.isEmpty == false ? exportTo : defaults) ?? ["*"]
        self.entries = Set((values.isEmpty ? ["*"] : values).map(Visibility.init))
    }

    /// Everything is visible everywhere.
    public static let everywhere = ExportScope([.public])

    /// True when config owned by `owner` is visible from `namespace`.
    public func isVisible(from namespace: String, owner: String) -> Bool {
        if entries.contains(.none) && entries.count == 1 { return false }
        for entry in entries {
            switch entry {
            case .public: return true
            case .private: if namespace == owner { return true }
            case .namespace(let ns): if ns == namespace { return true }
            case .none: continue
            }
        }
        return false
    }
}

/// Whether a service is part of the mesh.
public enum ServiceLocation: String, Sendable, Hashable, Codable {
    case meshInternal = "MESH_INTERNAL"
    case meshExternal = "MESH_EXTERNAL"
}

/// A service the mesh can route to: a host with ports, a resolution and visibility.
public struct MeshService: Sendable, Hashable, Codable {
    /// The fully qualified host name, or a wildcard for ServiceEntry wildcard hosts.
    public var hostname: String
    /// The namespace of the config that defined it.
    public var namespace: String
    public var ports: [ServicePortInfo]
    public var resolution: ServiceResolution
    public var location: ServiceLocation
    public var exportTo: ExportScope
    /// Virtual IPs or CIDRs (ServiceEntry `addresses`, Kubernetes ClusterIP).
    public var addresses: [String]
    /// SPIFFE identities its workloads run as (ServiceEntry `subjectAltNames`).
    public var subjectAltNames: [String]
    /// Labels of the service itself (for Kubernetes services; empty for ServiceEntry).
    public var labels: [String: String]
    /// Where it came from, e.g. `ServiceEntry default/external-svc`.
    public var origin: ResourceKey?
    /// Labels of the pods that back it (a Kubernetes Service's `spec.selector`); nil when not known.
    public var selector: [String: String]?

    public init(
        hostname: String, namespace: String, ports: [ServicePortInfo], resolution: ServiceResolution = .clientSideLB,
        location: ServiceLocation = .meshInternal, exportTo: ExportScope = .everywhere, addresses: [String] = [],
        subjectAltNames: [String] = [], labels: [String: String] = [:], origin: ResourceKey? = nil,
        selector: [String: String]? = nil
    ) {
        self.hostname = hostname
        self.namespace = namespace
        self.ports = ports
        self.resolution = resolution
        self.location = location
        self.exportTo = exportTo
        self.addresses = addresses
        self.subjectAltNames = subjectAltNames
        self.labels = labels
        self.origin = origin
        self.selector = selector
    }

    /// The port with `number`, if the service declares it.
    public func port(_ number: UInt32) -> ServicePortInfo? { ports.first { $0.port == number } }

    /// The port called `name`, if the service declares it.
    public func port(named name: String) -> ServicePortInfo? { ports.first { $0.name == name } }

    /// True when the service is visible from `namespace`.
    public func isVisible(from namespace: String) -> Bool {
        exportTo.isVisible(from: namespace, owner: self.namespace)
    }
}

/// One endpoint of a service: a workload's address and the ports it serves.
public struct WorkloadInstance: Sendable, Hashable, Codable {
    /// The service host this instance belongs to.
    public var serviceHostname: String
    /// The namespace of the service.
    public var serviceNamespace: String
    /// The workload's name (WorkloadEntry name, or a generated one for inline endpoints).
    public var name: String
    /// The workload's own namespace.
    public var namespace: String
    /// An IP address, a DNS name (for DNS resolution) or `unix://` path.
    public var address: String
    /// Endpoint port per service port number.
    public var endpointPorts: [UInt32: UInt32]
    public var labels: [String: String]
    public var serviceAccount: String
    /// `region/zone/subzone`.
    public var locality: String
    public var weight: UInt32
    public var network: String

    public init(
        serviceHostname: String, serviceNamespace: String, name: String, namespace: String, address: String,
        endpointPorts: [UInt32: UInt32], labels: [String: String] = [:], serviceAccount: String = "default",
        locality: String = "", weight: UInt32 = 1, network: String = ""
    ) {
        self.serviceHostname = serviceHostname
        self.serviceNamespace = serviceNamespace
        self.name = name
        self.namespace = namespace
        self.address = address
        self.endpointPorts = endpointPorts
        self.labels = labels
        self.serviceAccount = serviceAccount
        self.locality = locality
        self.weight = weight
        self.network = network
    }
}
