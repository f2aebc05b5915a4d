public import MeshCore

/// Builds the listeners of a router proxy (an ingress or egress gateway) from the Gateway
/// servers that select it, as Istio's gateway listener generation does:
///
/// - plain-text HTTP servers: one listener per port, an HTTP connection manager with RDS
///   `http.<port>` (see ``GatewayRouteBuilder``);
/// - HTTPS servers that terminate TLS (`SIMPLE`, `MUTUAL`, `OPTIONAL_MUTUAL`): a filter chain per
///   server matching its hosts by SNI, certificates from files or from secrets over SDS, RDS `https.<port>.<portName>.<gateway>.<namespace>`;
/// - TLS `PASSTHROUGH`: a filter chain per VirtualService `tls` route, matched by SNI, to a TCP proxy;
/// - `AUTO_PASSTHROUGH`: a filter chain per service port and subset admitted by the server hosts,
///   matched by SNI `outbound_.PORT_.SUBSET_.HOST` and proxied to the cluster of that name;
/// - TCP, and TLS terminated here: the first VirtualService `tcp` route that applies.
///
/// Listeners bind the server's `bind` address, else the proxy's own IP (Istio binds the pod IP's
/// wildcard; SwiftMesh runs many proxies on one host, each on its own loopback address).
public struct GatewayListenerBuilder: Sendable {
    public var options: TranslationOptions

    public init(options: TranslationOptions) { self.options = options }

    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias TLSContext = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext

    /// The listeners for a router proxy, in order of first appearance of their port.
    /// - Parameters:
    ///   - snapshot: the mesh.
    ///   - proxy: the router proxy; its labels select the gateways.
    public func listeners(snapshot: MeshSnapshot, proxy: ProxyView) -> [Envoy_Config_Listener_V3_Listener] {
        let scope = GatewayScope(snapshot: snapshot, proxy: proxy, options: options)
        return scope.listeners.compactMap { listener(for: $0, scope: scope) }
    }

    /// Servers of the gateways selecting `proxy` that translation leaves out, and why (a
    /// `credentialName` whose secret is missing or not readable by the proxy, a missing
    /// certificate file, a port conflict).
    public static func problems(snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions) -> [GatewayTranslationError] {
        let scope = GatewayScope(snapshot: snapshot, proxy: proxy, options: options)
        var problems = scope.problems
        let builder = GatewayListenerBuilder(options: options)
        for listener in scope.listeners {
            for server in listener.servers where server.kind == .https || server.kind == .tlsTerminate {
                do {
                    _ = try builder.downstreamTLSContext(server.server.tls ?? ServerTLSSettings(), http: server.kind == .https,
                                                         gateway: server.gatewayKey, field: server.field + ".tls",
                                                         secrets: GatewaySecrets(snapshot: snapshot, proxy: proxy))
                } catch {
                    problems.append(error)
                }
            }
        }
        return problems
    }

    func listener(for port: GatewayScope.PortListener, scope: GatewayScope) -> Envoy_Config_Listener_V3_Listener? {
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        var needsTLSInspector = false
        switch port.portClass {
        case .http:
            chains = [.with { $0.filters = [httpConnectionManager(statPrefix: "outbound_\(port.bind)_\(port.port)", routeName: port.httpRouteName)] }]
        case .tcp:
            if let filter = tcpFilter(server: port.servers[0], scope: scope) { chains = [.with { $0.filters = [filter] }] }
        case .tls:
            needsTLSInspector = true
            var usedNames = Set<String>()
            var usedCatchAll = false
            /// Appends a chain unless every SNI name it matches is already taken (Envoy rejects duplicates).
            func add(_ names: [String], _ build: (inout Envoy_Config_Listener_V3_FilterChain) -> Void) {
                var chain = Envoy_Config_Listener_V3_FilterChain()
                if names.isEmpty || names.contains("*") {
                    guard !usedCatchAll else { return }
                    usedCatchAll = true
                } else {
                    let fresh = names.filter { usedNames.insert($0.lowercased()).inserted }
                    guard !fresh.isEmpty else { return }
                    chain.filterChainMatch = .with { $0.serverNames = fresh }
                }
                build(&chain)
                chains.append(chain)
            }
            for server in port.servers {
                switch server.kind {
                case .https, .tlsTerminate:
                    guard let context = try? downstreamTLSContext(
                        server.server.tls ?? ServerTLSSettings(), http: server.kind == .https,
                        gateway: server.gatewayKey, field: server.field + ".tls",
                        secrets: GatewaySecrets(snapshot: scope.snapshot, proxy: scope.proxy)) else { continue }
                    let filter: Envoy_Config_Listener_V3_Filter
                    if server.kind == .https {
                        filter = httpConnectionManager(statPrefix: "outbound_\(port.bind)_\(port.port)", routeName: server.httpsRouteName)
                    } else {
                        guard let tcp = tcpFilter(server: server, scope: scope) else { continue }
                        filter = tcp
                    }
                    add(server.hosts.map(\.host)) { chain in
                        chain.transportSocket = .with {
                            $0.name = "envoy.transport_sockets.tls"
                            $0.typedConfig = Proto.any(context)
                        }
                        chain.filters = [filter]
                    }
                case .tlsPassthrough:
                    for route in passthroughRoutes(server: server, scope: scope) {
                        add(route.sniHosts) { $0.filters = [tcpProxy(route.clusters, statPrefix: nil)] }
                    }
                case .autoPassthrough:
                    for target in autoPassthroughTargets(server: server, scope: scope) {
                        add([target]) { $0.filters = [tcpProxy([(target, 1)], statPrefix: nil)] }
                    }
                case .http, .tcp:
                    continue
                }
            }
        }
        guard !chains.isEmpty else { return nil }
        return .with {
            $0.name = port.name
            $0.address = Proto.address(port.bind, port: port.port)
            $0.trafficDirection = .outbound
            $0.filterChains = chains
            if needsTLSInspector {
                $0.listenerFilters = [.with {
                    $0.name = "envoy.filters.listener.tls_inspector"
                    $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
                }]
            }
        }
    }

    /// The gateway's HTTP connection manager: RDS `routeName`, the client address taken from the
    /// connection (`use_remote_address`, the gateway is the edge), client-certificate details
    /// sanitized and set, server name `istio-envoy`.
    public func httpConnectionManager(statPrefix: String, routeName: String) -> Envoy_Config_Listener_V3_Filter {
        var filter = ListenerBuilder(options: options).httpConnectionManager(statPrefix: statPrefix, routeName: routeName)
        guard var hcm = try? HCM(unpackingAny: filter.typedConfig) else { return filter }
        hcm.useRemoteAddress = .init(true)
        hcm.forwardClientCertDetails = .sanitizeSet
        hcm.serverName = "istio-envoy"
        filter.typedConfig = Proto.any(hcm)
        return filter
    }

    /// A TCP proxy to one cluster or weighted clusters; the stats prefix is the single cluster's name.
    func tcpProxy(_ clusters: [(name: String, weight: UInt32)], statPrefix: String?) -> Envoy_Config_Listener_V3_Filter {
        if clusters.count == 1 { return ListenerBuilder(options: options).tcpProxy(cluster: clusters[0].name) }
        return .with {
            $0.name = "envoy.filters.network.tcp_proxy"
            $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.with {
                $0.statPrefix = statPrefix ?? clusters.map(\.name).joined(separator: ",")
                $0.weightedClusters = .with {
                    $0.clusters = clusters.map { c in .with { $0.name = c.name; $0.weight = c.weight } }
                }
            })
        }
    }

    // MARK: TLS

    /// Istio's gateway `DownstreamTlsContext` for a server that terminates TLS.
    ///
    /// With files, `SIMPLE` needs `serverCertificate` and `privateKey` (or `tlsCertificates`);
    /// `MUTUAL` also `caCertificates` and requires a client certificate; `OPTIONAL_MUTUAL`
    /// verifies one if sent. With secrets, `credentialName` (or up to two `credentialNames`, an
    /// RSA and an ECDSA certificate) become SDS references to `kubernetes://NAME` over ADS, and
    /// the CA of `MUTUAL` comes from `kubernetes://NAME-cacert` (`caCertCredentialName`, when set,
    /// names the secret that holds it), as Istio does; the secrets must exist in the namespace the
    /// proxy's connection was verified for (see ``GatewaySecrets``). The minimum version is TLS 1.2
    /// unless `minProtocolVersion` says otherwise.
    /// - Parameters:
    ///   - tls: the server's TLS settings.
    ///   - http: true for HTTPS (ALPN `h2`, `http/1.1`), false for TLS terminated to TCP.
    ///   - gateway: `namespace/name`, for errors.
    ///   - field: the settings' field path, for errors.
    ///   - secrets: what the proxy may read of the mesh's secrets; nil when secrets cannot be served.
    /// - Throws: ``GatewayTranslationError`` with code `needsSDS` (no secrets, or a missing or
    ///   unreadable one) or `missingCertificate`.
    public func downstreamTLSContext(
        _ tls: ServerTLSSettings, http: Bool, gateway: String, field: String, secrets: GatewaySecrets? = nil
    ) throws(GatewayTranslationError) -> Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext {
        func fail(_ code: GatewayTranslationError.Code, _ subfield: String, _ message: String) -> GatewayTranslationError {
            GatewayTranslationError(code: code, message: message, gateway: gateway, field: subfield.isEmpty ? field : "\(field).\(subfield)")
        }
        let mode = tls.effectiveMode
        if mode == .ISTIO_MUTUAL {
            throw fail(.needsSDS, "mode", "ISTIO_MUTUAL needs the workload certificate over SDS, which SwiftMesh does not serve to gateways yet")
        }
        let verifies = mode == .MUTUAL || mode == .OPTIONAL_MUTUAL
        var credentialNames: [(name: String, field: String)] = []
        if let name = tls.credentialName, !name.isEmpty { credentialNames.append((name, "credentialName")) }
        for (i, name) in (tls.credentialNames ?? []).enumerated() where !name.isEmpty {
            credentialNames.append((name, "credentialNames[\(i)]"))
        }
        if !credentialNames.isEmpty {
            guard let secrets else {
                throw fail(.needsSDS, credentialNames[0].field, "\(credentialNames[0].name) needs SDS, which this translation cannot serve; give serverCertificate, privateKey (and caCertificates) as files instead")
            }
            for credential in credentialNames {
                if let problem = secrets.keyPairProblem(credential.name) { throw fail(.needsSDS, credential.field, problem) }
            }
            var caCredential: (name: String, field: String)?
            if verifies {
                if let name = tls.caCertCredentialName, !name.isEmpty {
                    caCredential = (name, "caCertCredentialName")
                } else {
                    caCredential = credentialNames[0]
                }
                if let caCredential, let problem = secrets.caProblem(caCredential.name) { throw fail(.needsSDS, caCredential.field, problem) }
            }
            return .with { context in
                context.commonTlsContext = .with { common in
                    common.tlsCertificateSdsSecretConfigs = credentialNames.map { GatewaySecrets.sdsSecret(GatewaySecrets.resourceName($0.name)) }
                    if http { common.alpnProtocols = ["h2", "http/1.1"] }
                    common.tlsParams = Self.tlsParameters(tls)
                    if let caCredential {
                        common.combinedValidationContext = .with {
                            $0.defaultValidationContext = Self.peerChecks(tls)
                            $0.validationContextSdsSecretConfig = GatewaySecrets.sdsSecret(GatewaySecrets.caResourceName(caCredential.name))
                        }
                    }
                }
                context.requireClientCertificate = .init(mode == .MUTUAL)
            }
        }
        // Certificate files, with the CA from a file or, by caCertCredentialName, from a secret.
        var caSecret: String?
        if verifies, let name = tls.caCertCredentialName, !name.isEmpty {
            guard let secrets else {
                throw fail(.needsSDS, "caCertCredentialName", "\(name) needs SDS, which this translation cannot serve; give caCertificates as a file instead")
            }
            if let problem = secrets.caProblem(name) { throw fail(.needsSDS, "caCertCredentialName", problem) }
            caSecret = name
        }
        var pairs: [(cert: String, key: String, field: String)] = []
        if let cert = tls.serverCertificate, !cert.isEmpty || !(tls.privateKey ?? "").isEmpty {
            guard let key = tls.privateKey, !key.isEmpty, !cert.isEmpty else {
                throw fail(.missingCertificate, cert.isEmpty ? "serverCertificate" : "privateKey", "serverCertificate and privateKey must both be set")
            }
            pairs.append((cert, key, ""))
        }
        for (i, pair) in (tls.tlsCertificates ?? []).enumerated() {
            guard let cert = pair.serverCertificate, !cert.isEmpty, let key = pair.privateKey, !key.isEmpty else {
                throw fail(.missingCertificate, "tlsCertificates[\(i)]", "serverCertificate and privateKey must both be set")
            }
            pairs.append((cert, key, "tlsCertificates[\(i)]"))
        }
        guard !pairs.isEmpty else {
            throw fail(.missingCertificate, "serverCertificate", "\(mode.rawValue) needs serverCertificate and privateKey files")
        }
        let caFile = tls.caCertificates.flatMap { $0.isEmpty ? nil : $0 }
            ?? tls.tlsCertificates?.compactMap({ $0.caCertificates }).first { !$0.isEmpty }
        if verifies, caFile == nil, caSecret == nil {
            throw fail(.missingCertificate, "caCertificates", "\(mode.rawValue) needs caCertificates to verify client certificates")
        }
        return .with { context in
            context.commonTlsContext = .with { common in
                common.tlsCertificates = pairs.map { pair in
                    .with {
                        $0.certificateChain = .with { $0.filename = pair.cert }
                        $0.privateKey = .with { $0.filename = pair.key }
                    }
                }
                if http { common.alpnProtocols = ["h2", "http/1.1"] }
                common.tlsParams = Self.tlsParameters(tls)
                if verifies, let caSecret {
                    common.combinedValidationContext = .with {
                        $0.defaultValidationContext = Self.peerChecks(tls)
                        $0.validationContextSdsSecretConfig = GatewaySecrets.sdsSecret(GatewaySecrets.caResourceName(caSecret))
                    }
                } else if verifies, let caFile {
                    common.validationContext = Self.peerChecks(tls)
                    common.validationContext.trustedCa = .with { $0.filename = caFile }
                    if let crl = tls.caCrl, !crl.isEmpty { common.validationContext.crl = .with { $0.filename = crl } }
                }
            }
            context.requireClientCertificate = .init(mode == .MUTUAL)
        }
    }

    /// TLS versions and cipher suites of a server.
    private static func tlsParameters(_ tls: ServerTLSSettings) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters {
        .with {
            $0.tlsMinimumProtocolVersion = protocolVersion(tls.minProtocolVersion) ?? .tlsv12
            if let max = protocolVersion(tls.maxProtocolVersion) { $0.tlsMaximumProtocolVersion = max }
            if let suites = tls.cipherSuites, !suites.isEmpty { $0.cipherSuites = suites }
        }
    }

    /// The checks on a client certificate beyond its chain: SPKI and hash pins, and SANs (each
    /// as DNS and URI, as Istio matches them).
    private static func peerChecks(_ tls: ServerTLSSettings) -> Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext {
        .with { validation in
            validation.verifyCertificateSpki = tls.verifyCertificateSpki ?? []
            validation.verifyCertificateHash = tls.verifyCertificateHash ?? []
            typealias SANMatcher = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher
            var matchers: [SANMatcher] = []
            for san in tls.subjectAltNames ?? [] {
                for type in [SANMatcher.SanType.dns, .uri] {
                    var matcher = SANMatcher()
                    matcher.sanType = type
                    matcher.matcher.exact = san
                    matchers.append(matcher)
                }
            }
            validation.matchTypedSubjectAltNames = matchers
        }
    }

    private static func protocolVersion(_ version: ServerTLSSettings.TLSProtocol?) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters.TlsProtocol? {
        switch version {
        case .TLSV1_0?: .tlsv10
        case .TLSV1_1?: .tlsv11
        case .TLSV1_2?: .tlsv12
        case .TLSV1_3?: .tlsv13
        case .TLS_AUTO?, nil: nil
        }
    }

    // MARK: TCP and TLS routes

    /// The TCP proxy for a TCP server or a TLS-terminating server: the first `tcp` route, across
    /// the VirtualServices bound to the server, whose match applies (or that has none).
    func tcpFilter(server: GatewayScope.BoundServer, scope: GatewayScope) -> Envoy_Config_Listener_V3_Filter? {
        for (vs, _) in scope.virtualServices(for: server) {
            for route in vs.spec.tcp ?? [] {
                let matches = route.match ?? []
                let applies = matches.isEmpty || matches.contains { match in
                    (match.port == nil || match.port == server.port)
                        && scope.bindsGateway(match.gateways, server: server, namespace: vs.meta.namespace)
                        && scope.admitsSource(labels: match.sourceLabels, namespace: match.sourceNamespace)
                }
                guard applies else { continue }
                let clusters = scope.clusters(for: route.route ?? [], namespace: vs.meta.namespace, port: server.port)
                guard !clusters.isEmpty else { continue }
                return tcpProxy(clusters, statPrefix: nil)
            }
        }
        return nil
    }

    /// For a PASSTHROUGH server: each VirtualService `tls` route match that applies, with the SNI
    /// hosts the server admits and the route's clusters.
    func passthroughRoutes(server: GatewayScope.BoundServer, scope: GatewayScope) -> [(sniHosts: [String], clusters: [(name: String, weight: UInt32)])] {
        var out: [(sniHosts: [String], clusters: [(name: String, weight: UInt32)])] = []
        for (vs, _) in scope.virtualServices(for: server) {
            for route in vs.spec.tls ?? [] {
                let clusters = scope.clusters(for: route.route ?? [], namespace: vs.meta.namespace, port: server.port)
                guard !clusters.isEmpty else { continue }
                for match in route.match ?? [] {
                    guard match.port == nil || match.port == server.port,
                          scope.bindsGateway(match.gateways, server: server, namespace: vs.meta.namespace),
                          scope.admitsSource(labels: match.sourceLabels, namespace: match.sourceNamespace) else { continue }
                    var hosts: [String] = []
                    for sni in match.sniHosts ?? [] {
                        for (namespace, host) in server.hosts where namespace == "*" || namespace == vs.meta.namespace {
                            guard HostName.overlaps(sni, host) else { continue }
                            let picked = HostName.matches(sni, host) ? sni : host
                            if !hosts.contains(picked) { hosts.append(picked) }
                        }
                    }
                    if !hosts.isEmpty { out.append((hosts, clusters)) }
                }
            }
        }
        return out
    }

    /// For an AUTO_PASSTHROUGH server: the SNI-DNAT cluster names (`outbound_.PORT_.SUBSET_.HOST`)
    /// of every port and subset of the services the server's hosts admit.
    func autoPassthroughTargets(server: GatewayScope.BoundServer, scope: GatewayScope) -> [String] {
        var out: [String] = []
        for service in scope.snapshot.services.services(visibleFrom: scope.proxy.namespace)
        where scope.serverAdmits(server, host: service.hostname, namespace: service.namespace) {
            let rule = scope.snapshot.destinationRule(for: service, from: scope.proxy.workload)
            for port in service.ports {
                out.append(ClusterName.sniDNAT(port: port.port, host: service.hostname))
                for subset in rule?.subsets ?? [] {
                    guard let name = subset.name else { continue }
                    out.append(ClusterName.sniDNAT(port: port.port, subset: name, host: service.hostname))
                }
            }
        }
        return out
    }
}
