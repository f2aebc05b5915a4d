import MeshCore

/// The mutual TLS mode a workload's inbound traffic gets, composed from PeerAuthentication the
/// way Istio composes it: the mesh policy (root namespace, no selector), overridden by the
/// namespace policy, overridden by the workload policy (a selector matching the workload), whose
/// `portLevelMtls` overrides it per port. `UNSET` inherits from the level above; with nothing set
/// the mode is PERMISSIVE. When several policies compete at one level the oldest wins (creation
/// time, then name).
struct PeerAuthenticationPolicy: Sendable, Hashable {
    enum Mode: String, Sendable, Hashable {
        case strict = "STRICT"
        case permissive = "PERMISSIVE"
        case disable = "DISABLE"
    }

    /// The workload-wide mode.
    var mode: Mode
    /// Modes of ports the workload policy sets explicitly.
    var portModes: [UInt32: Mode]

    /// The mode for traffic to `port` (nil: the workload-wide mode).
    func mode(port: UInt32?) -> Mode {
        port.flatMap { portModes[$0] } ?? mode
    }

    init(mode: Mode = .permissive, portModes: [UInt32: Mode] = [:]) {
        self.mode = mode
        self.portModes = portModes
    }

    /// - Parameters:
    ///   - policies: PeerAuthentications that apply to the workload (its namespace and the root namespace).
    ///   - workload: the workload.
    ///   - rootNamespace: the mesh root namespace.
    init(policies: [Resource<PeerAuthentication>], workload: WorkloadContext, rootNamespace: String) {
        func oldest(_ candidates: [Resource<PeerAuthentication>]) -> Resource<PeerAuthentication>? {
            candidates.min { ($0.meta.creationTimestamp ?? "", $0.meta.name) < ($1.meta.creationTimestamp ?? "", $1.meta.name) }
        }
        func hasSelector(_ p: Resource<PeerAuthentication>) -> Bool { !(p.spec.selector?.matchLabels ?? [:]).isEmpty }
        let mesh = oldest(policies.filter { $0.meta.namespace == rootNamespace && !hasSelector($0) })
        let namespace = workload.namespace == rootNamespace
            ? nil : oldest(policies.filter { $0.meta.namespace == workload.namespace && !hasSelector($0) })
        let specific = oldest(policies.filter { $0.meta.namespace == workload.namespace && hasSelector($0) })

        var mode = Mode.permissive
        for level in [mesh, namespace, specific] {
            if let set = Self.mode(level?.spec.mtls?.mode) { mode = set }
        }
        var ports: [UInt32: Mode] = [:]
        for (key, setting) in specific?.spec.portLevelMtls ?? [:] {
            guard let port = UInt32(key) else { continue }
            ports[port] = Self.mode(setting.mode) ?? mode
        }
        self.init(mode: mode, portModes: ports)
    }

    private static func mode(_ mode: PeerAuthentication.MutualTLS.Mode?) -> Mode? {
        switch mode {
        case .STRICT?: .strict
        case .PERMISSIVE?: .permissive
        case .DISABLE?: .disable
        case .UNSET?, nil: nil
        }
    }
}
