/// Istio's historical `auth.MTLSAnalyzer`, over PeerAuthentication: a DestinationRule whose TLS
/// mode disagrees with the mTLS mode the destination's workloads accept (IST0113).
///
/// For every port of every mesh-internal service (UDP ports, `kube-system`, `kube-public` and
/// control-plane services excepted) and every namespace a client may run in, the analyzer finds:
///
/// - the DestinationRule in force (Istio's precedence: client namespace, service namespace, root
///   namespace), its TLS mode for the port (port-level settings first) and, separately, each
///   subset's;
/// - the PeerAuthentication in force for the service's workloads: mesh-wide (root namespace, no
///   selector), then namespace-wide, then one whose selector matches the workloads, then that
///   one's `portLevelMtls` for the workload port; `UNSET` inherits. Without a PeerAuthentication
///   the mode is permissive. When the known workloads disagree, the port is skipped; when none are
///   known, selector policies are not considered.
///
/// `STRICT` conflicts with a rule that does not use `ISTIO_MUTUAL`; `DISABLE` conflicts with one
/// that does. With auto mTLS on (the default), a rule without TLS settings, or with SIMPLE or
/// MUTUAL, leaves the choice to the proxy and is not checked; with it off, only `ISTIO_MUTUAL`
/// counts as mTLS, as in Istio's analyzer.
///
/// The message is reported on the PeerAuthentication and on the DestinationRule (either may be
/// `(none)`). A mesh-wide conflict for `*.<domain>` is reported once, and per-service conflicts
/// that merely repeat it are left out.
public struct MTLSPolicyConflictAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "auth.MTLSAnalyzer" }

    public var reports: [AnalysisMessageType] { [.mtlsPolicyConflict] }

    /// Istio's analyzer modes, named as its messages print them.
    enum Mode: String {
        case plaintext = "Plaintext"
        case permissive = "Permissive"
        case strict = "Strict"

        init?(_ mtls: PeerAuthentication.MutualTLS?) {
            switch mtls?.mode {
            case .STRICT?: self = .strict
            case .PERMISSIVE?: self = .permissive
            case .DISABLE?: self = .plaintext
            case .UNSET?, nil: return nil
            }
        }
    }

    /// The mode in force and the PeerAuthentication that set it.
    struct PolicyMode {
        var mode: Mode = .permissive
        var policy: Resource<PeerAuthentication>?
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var run = Run(context: context)
        return run.messages()
    }

    private struct Run {
        let context: AnalysisContext
        let autoMTLS: Bool
        let root: String
        let peerAuthentications: [String: [Resource<PeerAuthentication>]]
        let rules: [ResourceKey: Resource<DestinationRule>]
        var output: [AnalysisMessage] = []
        var seen: Set<String> = []

        init(context: AnalysisContext) {
            self.context = context
            autoMTLS = context.mesh.enableAutoMtls ?? true
            root = context.rootNamespace
            peerAuthentications = Dictionary(grouping: context.resources(PeerAuthentication.self).sorted { $0.key < $1.key }, by: \.meta.namespace)
            rules = Dictionary(context.resources(DestinationRule.self).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        }

        private static func hasSelector(_ pa: Resource<PeerAuthentication>) -> Bool {
            !(pa.spec.selector?.matchLabels ?? [:]).isEmpty
        }

        /// The mode for a workload with `labels` (nil: unknown) in `namespace`, on `port`.
        func policyMode(namespace: String, labels: [String: String]?, port: UInt32?) -> PolicyMode {
            var result = PolicyMode()
            if let mesh = peerAuthentications[root]?.first(where: { !Self.hasSelector($0) }), let mode = Mode(mesh.spec.mtls) {
                result = PolicyMode(mode: mode, policy: mesh)
            }
            let local = peerAuthentications[namespace] ?? []
            if namespace != root, let wide = local.first(where: { !Self.hasSelector($0) }), let mode = Mode(wide.spec.mtls) {
                result = PolicyMode(mode: mode, policy: wide)
            }
            if let labels, let selected = local.first(where: {
                Self.hasSelector($0) && PolicyAnalysisSupport.matches($0.spec.selector?.matchLabels ?? [:], labels)
            }) {
                if let mode = Mode(selected.spec.mtls) { result = PolicyMode(mode: mode, policy: selected) }
                if let port, let mode = Mode(selected.spec.portLevelMtls?[String(port)]) { result = PolicyMode(mode: mode, policy: selected) }
            }
            return result
        }

        /// Whether a client with `tls` uses mTLS; nil when the analyzer should not judge it.
        func usesMTLS(_ tls: ClientTLSSettings?) -> Bool? {
            guard let tls else { return autoMTLS ? nil : false }
            switch tls.mode ?? .DISABLE {
            case .ISTIO_MUTUAL: return true
            case .DISABLE: return false
            case .SIMPLE, .MUTUAL: return autoMTLS ? nil : false
            }
        }

        /// The TLS settings `policy` gives `port`: a matching port-level setting's, else its own.
        func tls(_ policy: DestinationRule.TrafficPolicy?, port: UInt32?) -> ClientTLSSettings? {
            if let port, let level = policy?.portLevelSettings?.first(where: { $0.port?.number == port }), let tls = level.tls {
                return tls
            }
            return policy?.tls
        }

        /// The source rule of a merged DestinationRule that supplied its traffic policy (or `subset`).
        func source(of merged: DestinationRuleIndex.Merged, subset: String? = nil) -> Resource<DestinationRule>? {
            let candidates = merged.sources.compactMap { rules[$0] }
            if let subset { return candidates.first { ($0.spec.subsets ?? []).contains { $0.name == subset } } }
            return candidates.first { $0.spec.trafficPolicy != nil } ?? candidates.first
        }

        mutating func report(on resource: ResourceKey, location: SourceLocation?, host: String, ruleName: String, used: Bool, policyName: String, mode: Mode) {
            let text = "A DestinationRule and Policy are in conflict with regards to mTLS for host \(host). The DestinationRule \(PolicyAnalysisSupport.quoted(ruleName)) specifies that mTLS must be \(used) but the Policy object \(PolicyAnalysisSupport.quoted(policyName)) specifies \(mode.rawValue)."
            guard seen.insert("\(resource)|\(text)").inserted else { return }
            output.append(AnalysisMessage(.mtlsPolicyConflict, resource: resource, location: location, message: text))
        }

        /// Reports a conflict between `used` (by `rule`) and `policy`, if there is one.
        mutating func check(host: String, rule: Resource<DestinationRule>?, used: Bool, policy: PolicyMode) {
            guard (policy.mode == .strict && !used) || (policy.mode == .plaintext && used) else { return }
            let ruleName = rule.map { "\($0.meta.namespace)/\($0.meta.name)" } ?? "(none)"
            let policyName = policy.policy.map { "\($0.meta.namespace)/\($0.meta.name)" } ?? "(none)"
            if let pa = policy.policy {
                report(on: pa.key, location: pa.source, host: host, ruleName: ruleName, used: used, policyName: policyName, mode: policy.mode)
            }
            if let rule {
                report(on: rule.key, location: rule.source, host: host, ruleName: ruleName, used: used, policyName: policyName, mode: policy.mode)
            }
        }

        /// Workloads backing `service`: pods its selector matches, or its ServiceEntry endpoints' labels.
        func workloadLabels(of service: MeshService, port: ServicePortInfo) -> [(labels: [String: String], port: UInt32)] {
            if let selector = service.selector {
                guard !selector.isEmpty else { return [] }
                return context.platform.workloads
                    .filter { $0.namespace == service.namespace && PolicyAnalysisSupport.matches(selector, $0.labels) }
                    .map { ($0.labels, port.targetPort ?? port.port) }
            }
            return context.snapshot.services.instances(of: service)
                .filter { !$0.labels.isEmpty }
                .map { ($0.labels, $0.endpointPorts[port.port] ?? port.targetPort ?? port.port) }
        }

        /// The one mode the workloads (restricted to `subset` labels) agree on; nil if they disagree or none match.
        func agreedMode(namespace: String, workloads: [(labels: [String: String], port: UInt32)], subset: [String: String]?) -> PolicyMode? {
            if workloads.isEmpty { return policyMode(namespace: namespace, labels: nil, port: nil) }
            let selected = workloads.filter { PolicyAnalysisSupport.matches(subset ?? [:], $0.labels) }
            let modes = selected.map { policyMode(namespace: namespace, labels: $0.labels, port: $0.port) }
            guard let first = modes.first, modes.allSatisfy({ $0.mode == first.mode && $0.policy?.key == first.policy?.key }) else { return nil }
            return first
        }

        mutating func messages() -> [AnalysisMessage] {
            let snapshot = context.snapshot
            let meshPolicy = policyMode(namespace: root, labels: nil, port: nil)

            // The mesh-wide case: the root namespace's rule for every service in the domain.
            let anyHost = "*.\(snapshot.domainSuffix)"
            var globalMisconfigured = false
            let globalMerged = snapshot.destinationRules.rule(for: anyHost, serviceNamespace: root, from: WorkloadContext(namespace: root))
            let globalRule = globalMerged.flatMap { source(of: $0) }
            if let used = usesMTLS(globalMerged?.trafficPolicy?.tls) {
                let before = output.count
                check(host: anyHost, rule: globalRule, used: used, policy: meshPolicy)
                globalMisconfigured = output.count > before
            }

            var namespaces = PolicyAnalysisSupport.knownNamespaces(context)
            namespaces.insert(root)
            for service in snapshot.services.all {
                guard service.location == .meshInternal, !HostName.isWildcard(service.hostname),
                      service.namespace != "kube-system", service.namespace != "kube-public",
                      service.labels["istio"] == nil, service.labels["release"] != "istio" else { continue }
                for port in service.ports where port.protocol != .udp {
                    let host = "\(service.hostname):\(port.port)"
                    let workloads = workloadLabels(of: service, port: port)
                    let servicePolicy = agreedMode(namespace: service.namespace, workloads: workloads, subset: nil)
                    for client in namespaces.sorted() {
                        guard let merged = snapshot.destinationRules.rule(
                            for: service.hostname, serviceNamespace: service.namespace, from: WorkloadContext(namespace: client))
                        else {
                            // No rule: a judgement only with auto mTLS off, and not when the mesh-wide case covers it.
                            if !globalMisconfigured, let servicePolicy, let used = usesMTLS(nil) {
                                check(host: host, rule: nil, used: used, policy: servicePolicy)
                            }
                            continue
                        }
                        let rule = source(of: merged)
                        if let servicePolicy, let used = usesMTLS(tls(merged.trafficPolicy, port: port.port)) {
                            let redundant = globalMisconfigured
                                && (servicePolicy.policy == nil || rule == nil
                                    || (servicePolicy.policy?.key == meshPolicy.policy?.key && rule?.key == globalRule?.key))
                            if !redundant { check(host: host, rule: rule, used: used, policy: servicePolicy) }
                        }
                        for subset in merged.subsets {
                            guard let subsetTLS = tls(subset.trafficPolicy, port: port.port),
                                  let used = usesMTLS(subsetTLS),
                                  let policy = agreedMode(namespace: service.namespace, workloads: workloads, subset: subset.labels)
                            else { continue }
                            check(host: host, rule: source(of: merged, subset: subset.name), used: used, policy: policy)
                        }
                    }
                }
            }
            return output
        }
    }
}
