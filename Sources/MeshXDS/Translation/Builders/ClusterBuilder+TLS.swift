public import MeshCore

extension ClusterBuilder {
    /// The outbound clusters of one service port with their upstream TLS applied.
    ///
    /// The DestinationRule's `tls` (a subset's replacing the rule's, a matching
    /// `portLevelSettings` entry replacing both) decides: DISABLE is plaintext; SIMPLE and MUTUAL
    /// use the given files (or, for `credentialName`, an SDS secret); ISTIO_MUTUAL uses the
    /// workload certificate and `ROOTCA` from SDS, ALPN `istio`, SNI
    /// `outbound_.PORT_.SUBSET_.HOST` and checks the server's SPIFFE identity against the
    /// service accounts of the destination. Without `tls`, Istio's auto mutual TLS applies to
    /// mesh-internal services: endpoints labelled `security.istio.io/tlsMode: istio` get
    /// ISTIO_MUTUAL through `transport_socket_matches`, the others plaintext.
    /// - Parameters:
    ///   - clusters: clusters from ``outboundClusters(service:port:instances:rule:)``.
    ///   - service: the service.
    ///   - port: the service port.
    ///   - instances: the service's instances.
    ///   - rule: the DestinationRule that applies, if any.
    ///   - mesh: the mesh config (trust domain and aliases, `enableAutoMtls`).
    ///   - proxyType: the proxy's role; at a gateway (`router`) a `credentialName` is fetched
    ///     from istiod over ADS (`kubernetes://NAME`, `kubernetes://NAME-cacert`), as Istio does.
    public func withUpstreamTLS(
        _ clusters: [Envoy_Config_Cluster_V3_Cluster], service: MeshService, port: ServicePortInfo,
        instances: [WorkloadInstance], rule: DestinationRuleIndex.Merged?, mesh: MeshConfig, proxyType: ProxyType = .sidecar
    ) -> [Envoy_Config_Cluster_V3_Cluster] {
        var tls = UpstreamTLSBuilder(mesh: mesh)
        tls.credentialsFromIstiod = proxyType == .router
        return clusters.map { tls.secure($0, service: service, port: port, instances: instances, rule: rule).cluster }
    }
}

/// Upstream TLS for outbound clusters (see ``ClusterBuilder/withUpstreamTLS(_:service:port:instances:rule:mesh:)``).
struct UpstreamTLSBuilder {
    typealias Cluster = Envoy_Config_Cluster_V3_Cluster

    var trustDomain: String
    var trustDomainAliases: [String]
    var autoMutualTLS: Bool
    /// Whether `credentialName` secrets come from istiod over ADS (gateways) rather than the agent.
    var credentialsFromIstiod = false
    /// When set, a gateway's `credentialName` that it cannot read is reported.
    var gatewaySecrets: GatewaySecrets?

    init(mesh: MeshConfig) {
        trustDomain = mesh.trustDomain ?? "cluster.local"
        trustDomainAliases = mesh.trustDomainAliases ?? []
        autoMutualTLS = mesh.enableAutoMtls ?? true
    }

    /// `outbound|PORT|SUBSET|HOST` → SUBSET (nil when empty).
    static func subset(ofCluster name: String) -> String? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, !parts[2].isEmpty else { return nil }
        return String(parts[2])
    }

    /// The `tls` that applies to traffic to `port` of `subset`.
    static func settings(_ rule: DestinationRuleIndex.Merged?, subset: String?, port: UInt32) -> ClientTLSSettings? {
        var policy = rule?.trafficPolicy
        if let subset, let entry = rule?.subsets.first(where: { $0.name == subset }) {
            policy = ClusterBuilder.merge(policy, entry.trafficPolicy)
        }
        var tls = policy?.tls
        if let level = policy?.portLevelSettings?.first(where: { $0.port?.number == port }), let portTLS = level.tls {
            tls = portTLS
        }
        return tls
    }

    func secure(
        _ cluster: Cluster, service: MeshService, port: ServicePortInfo, instances: [WorkloadInstance],
        rule: DestinationRuleIndex.Merged?
    ) -> (cluster: Cluster, diagnostics: [SecurityDiagnostic]) {
        var c = cluster
        let subset = Self.subset(ofCluster: cluster.name)
        let subsetLabels = subset.flatMap { name in rule?.subsets.first { $0.name == name }?.labels } ?? [:]
        let members = instances.filter { instance in subsetLabels.allSatisfy { instance.labels[$0.key] == $0.value } }
        var diagnostics: [SecurityDiagnostic] = []
        func problem(_ field: String, _ message: String) {
            let source = rule?.sources.first.map { "DestinationRule/\($0.namespace)/\($0.name)" } ?? "DestinationRule"
            diagnostics.append(SecurityDiagnostic(resource: source, field: field, message: message))
        }
        let sni = "outbound_.\(port.port)_.\(subset ?? "")_.\(service.hostname)"

        guard let tls = Self.settings(rule, subset: subset, port: port.port) else {
            // Auto mutual TLS: only where some endpoint carries a mesh certificate, so that
            // plaintext-only services never depend on SDS.
            if autoMutualTLS, service.location == .meshInternal, members.contains(where: { $0.labels[InboundFilterChainBuilder.tlsModeLabel] == "istio" }) {
                c.transportSocketMatches = [
                    .with {
                        $0.name = "tlsMode-istio"
                        $0.match = .init(fields: ["tlsMode": .init(stringValue: "istio")])
                        $0.transportSocket = TLSContexts.transportSocket(istioMutual(service: service, instances: instances, tls: nil, sni: sni))
                    },
                    .with {
                        $0.name = "tlsMode-disabled"
                        $0.match = .init()
                        $0.transportSocket = TLSContexts.rawBuffer
                    },
                ]
            }
            return (c, diagnostics)
        }
        switch tls.mode {
        case .DISABLE?, nil:
            break
        case .ISTIO_MUTUAL?:
            c.transportSocket = TLSContexts.transportSocket(istioMutual(service: service, instances: instances, tls: tls, sni: tls.sni ?? sni))
        case .SIMPLE?, .MUTUAL?:
            let mutual = tls.mode == .MUTUAL
            var context = TLSContexts.UpstreamTlsContext()
            context.commonTlsContext.tlsParams = TLSContexts.tlsParameters
            if let sni = tls.sni, !sni.isEmpty {
                context.sni = sni
            } else if !service.hostname.hasPrefix("*") {
                context.sni = service.hostname
            }
            if let credential = tls.credentialName, !credential.isEmpty {
                // Gateways fetch `kubernetes://` secrets from istiod over ADS (the secret must be in
                // the gateway's namespace); a sidecar's agent serves no such secret.
                let sdsSecret = credentialsFromIstiod ? GatewaySecrets.sdsSecret : TLSContexts.sdsSecret
                if let gatewaySecrets {
                    if mutual, let missing = gatewaySecrets.keyPairProblem(credential) {
                        problem("spec.trafficPolicy.tls.credentialName", "\(missing); the cluster waits for it and sends nothing until it exists")
                    }
                    if tls.insecureSkipVerify != true, let missing = gatewaySecrets.caProblem(credential) {
                        problem("spec.trafficPolicy.tls.credentialName", "\(missing); the cluster waits for it and sends nothing until it exists")
                    }
                } else if !credentialsFromIstiod {
                    problem("spec.trafficPolicy.tls.credentialName", "credentialName \"\(credential)\" is served to gateways only; the sidecar's cluster waits for SDS secret kubernetes://\(credential) and sends nothing until it exists")
                }
                if mutual { context.commonTlsContext.tlsCertificateSdsSecretConfigs = [sdsSecret(GatewaySecrets.resourceName(credential))] }
                if tls.insecureSkipVerify != true {
                    context.commonTlsContext.combinedValidationContext = .with {
                        $0.defaultValidationContext = .with { $0.matchTypedSubjectAltNames = (tls.subjectAltNames ?? []).map(TLSContexts.sanMatcher) }
                        $0.validationContextSdsSecretConfig = sdsSecret(GatewaySecrets.caResourceName(credential))
                    }
                }
            } else {
                if mutual {
                    if let certificate = tls.clientCertificate, let key = tls.privateKey, !certificate.isEmpty, !key.isEmpty {
                        context.commonTlsContext.tlsCertificates = [.with {
                            $0.certificateChain = .with { $0.filename = certificate }
                            $0.privateKey = .with { $0.filename = key }
                        }]
                    } else {
                        problem("spec.trafficPolicy.tls", "MUTUAL needs clientCertificate and privateKey; connections are made without a client certificate and a server requiring one refuses them")
                    }
                }
                if tls.insecureSkipVerify != true {
                    context.commonTlsContext.validationContext = .with {
                        if let ca = tls.caCertificates, !ca.isEmpty {
                            $0.trustedCa = .with { $0.filename = ca }
                        } else {
                            $0.trustedCa = .with { $0.filename = TLSContexts.systemCABundle }
                        }
                        if let crl = tls.caCrl, !crl.isEmpty { $0.crl = .with { $0.filename = crl } }
                        $0.matchTypedSubjectAltNames = (tls.subjectAltNames ?? []).map(TLSContexts.sanMatcher)
                    }
                }
            }
            c.transportSocket = TLSContexts.transportSocket(context)
        }
        return (c, diagnostics)
    }

    /// ISTIO_MUTUAL: the SANs are the DestinationRule's, else the service's declared ones and the
    /// SPIFFE IDs of its instances' service accounts, in every trust domain of the bundle.
    private func istioMutual(service: MeshService, instances: [WorkloadInstance], tls: ClientTLSSettings?, sni: String) -> TLSContexts.UpstreamTlsContext {
        var sans = tls?.subjectAltNames ?? []
        if sans.isEmpty {
            let accounts = Set(instances.map {
                TLSContexts.spiffeID(trustDomain: trustDomain, namespace: $0.namespace, serviceAccount: $0.serviceAccount)
            })
            sans = TLSContexts.withAliases(service.subjectAltNames + accounts.sorted(), trustDomain: trustDomain, aliases: trustDomainAliases)
        }
        return .with {
            $0.commonTlsContext = TLSContexts.istioMutualCommon(subjectAltNames: sans, alpn: TLSContexts.istioALPN)
            $0.sni = sni
        }
    }
}
