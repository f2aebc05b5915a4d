import MeshCore
import SwiftProtobuf

/// Applies a workload's security policy to its inbound listeners (Sidecar `ingress` listeners
/// and the chains of `virtualInbound`) and to a gateway's listeners:
///
/// - RequestAuthentication (`jwt_authn`) and AuthorizationPolicy (RBAC) filters go first in each
///   HTTP connection manager; network RBAC goes before the TCP proxy.
/// - PeerAuthentication splits each chain by transport: STRICT keeps only a mutual TLS chain
///   (`transport_protocol: tls`, client certificate required, SDS `default` and `ROOTCA`);
///   PERMISSIVE adds the mutual TLS chain for Istio's ALPN values next to a plaintext
///   (`raw_buffer`) chain; DISABLE keeps plaintext only. Chains that match on transport get the
///   TLS inspector listener filter.
///
/// A workload whose labels lack `security.istio.io/tlsMode: istio` (the label Istio's injector
/// sets on workloads whose sidecar holds a mesh certificate) gets no mutual TLS chain under
/// PERMISSIVE: no peer would send it mesh TLS, and the listener does not wait on SDS secrets the
/// agent may not serve. STRICT always requires mutual TLS.
struct InboundFilterChainBuilder {
    typealias Listener = Envoy_Config_Listener_V3_Listener
    typealias FilterChain = Envoy_Config_Listener_V3_FilterChain
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static let tlsModeLabel = "security.istio.io/tlsMode"
    static let tlsInspector = "envoy.filters.listener.tls_inspector"

    let peerAuthentication: PeerAuthenticationPolicy
    let httpFilters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    let networkFilters: [Envoy_Config_Listener_V3_Filter]
    let hasMeshCertificate: Bool
    let diagnostics: [SecurityDiagnostic]
    /// Key servers the workload's JWT providers fetch from.
    let jwksEndpoints: [JWTAuthenticationBuilder.JWKSEndpoint]

    init(snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions) {
        let workload = proxy.workload
        var authorization = snapshot.authorizationPolicies.policies(for: workload)
        // Gateways also take policies that name them in targetRefs.
        if let gateway = Self.targetableGateway(proxy) {
            authorization += snapshot.authorizationPolicies.policies(targeting: "Gateway", name: gateway, namespace: proxy.namespace)
        }
        let jwt = JWTAuthenticationBuilder(clearsRouteCache: proxy.type == .router).build(Self.requestAuthentications(snapshot: snapshot, proxy: proxy))
        let rbac = RBACBuilder(
            trustDomain: snapshot.mesh.trustDomain ?? "cluster.local",
            trustDomainAliases: snapshot.mesh.trustDomainAliases ?? [],
            issuers: jwt.issuers
        ).build(authorization)
        peerAuthentication = PeerAuthenticationPolicy(
            policies: snapshot.peerAuthentications.policies(for: workload), workload: workload, rootNamespace: snapshot.rootNamespace)
        httpFilters = (jwt.filter.map { [$0] } ?? []) + rbac.httpFilters
        networkFilters = rbac.networkFilters
        hasMeshCertificate = proxy.labels[Self.tlsModeLabel] == "istio"
        diagnostics = jwt.diagnostics + rbac.diagnostics
        jwksEndpoints = jwt.jwksEndpoints
    }

    /// The RequestAuthentications that apply to the proxy's workload (and, for a gateway, those
    /// naming it in targetRefs).
    static func requestAuthentications(snapshot: MeshSnapshot, proxy: ProxyView) -> [Resource<RequestAuthentication>] {
        var authentication = snapshot.requestAuthentications.policies(for: proxy.workload)
        if let gateway = targetableGateway(proxy) {
            authentication += snapshot.requestAuthentications.policies(targeting: "Gateway", name: gateway, namespace: proxy.namespace)
        }
        return authentication
    }

    /// The Gateway API gateway a router proxy belongs to, which policies can name in targetRefs.
    private static func targetableGateway(_ proxy: ProxyView) -> String? {
        proxy.type == .router ? proxy.labels["gateway.networking.k8s.io/gateway-name"] : nil
    }

    /// The listener with policy filters in every chain and chains split by PeerAuthentication.
    func secure(_ listener: Listener) -> Listener {
        var out = listener
        var listenerPort: UInt32?
        if case .socketAddress(let address)? = listener.address.address, !(listener.hasBindToPort && !listener.bindToPort.value) {
            listenerPort = address.portValue
        }
        var chains: [FilterChain] = []
        var inspectTransport = false
        for chain in listener.filterChains {
            if chain.filters.contains(where: Self.isBlackHole) {
                chains.append(chain)
                continue
            }
            let port = chain.filterChainMatch.hasDestinationPort ? chain.filterChainMatch.destinationPort.value : listenerPort
            let isHTTP = chain.filters.contains { $0.typedConfig.isA(HCM.self) }
            let plain = withPolicies(chain, mutualTLS: false)
            var mutual = withPolicies(chain, mutualTLS: true)
            mutual.filterChainMatch.transportProtocol = "tls"
            mutual.transportSocket = TLSContexts.transportSocket(TLSContexts.downstreamMutual(alpn: isHTTP ? ["h2", "http/1.1"] : []))
            if !chain.name.isEmpty { mutual.name = chain.name + "-mtls" }
            switch peerAuthentication.mode(port: port) {
            case .disable:
                chains.append(plain)
            case .strict:
                chains.append(mutual)
                inspectTransport = true
            case .permissive:
                guard hasMeshCertificate else {
                    chains.append(plain)
                    continue
                }
                mutual.filterChainMatch.applicationProtocols = TLSContexts.istioInboundALPN
                var raw = plain
                raw.filterChainMatch.transportProtocol = "raw_buffer"
                chains += [mutual, raw]
                if !isHTTP {
                    // The application's own TLS (not mesh ALPN) passes through as bytes.
                    var passthrough = plain
                    passthrough.filterChainMatch.transportProtocol = "tls"
                    if !chain.name.isEmpty { passthrough.name = chain.name + "-tls" }
                    chains.append(passthrough)
                }
                inspectTransport = true
            }
        }
        out.filterChains = chains
        if inspectTransport, !out.listenerFilters.contains(where: { $0.name == Self.tlsInspector }) {
            out.listenerFilters.append(.with {
                $0.name = Self.tlsInspector
                $0.typedConfig = Proto.any(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
            })
        }
        return out
    }

    private static func isBlackHole(_ filter: Envoy_Config_Listener_V3_Filter) -> Bool {
        tcpProxyCluster(filter) == ClusterName.blackHole
    }

    /// The single cluster of a TCP proxy filter, nil for other filters.
    private static func tcpProxyCluster(_ filter: Envoy_Config_Listener_V3_Filter) -> String? {
        guard let proxy = try? Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(unpackingAny: filter.typedConfig),
              case .cluster(let name)? = proxy.clusterSpecifier else { return nil }
        return name
    }

    /// A gateway listener with the policy filters in its chains: `jwt_authn` and RBAC first in
    /// each HTTP connection manager, network RBAC before each TCP proxy. PeerAuthentication does
    /// not apply (a gateway's servers set their own TLS). As in Istio, `AUTO_PASSTHROUGH` chains
    /// (a TCP proxy to an SNI-DNAT cluster `outbound_.PORT_.SUBSET_.HOST`) stay without
    /// authorization: the gateway sees none of the mesh TLS they carry, so principals could not
    /// match, and an HTTP-only ALLOW policy would close every cross-network connection.
    func securingGateway(_ listener: Listener) -> Listener {
        var out = listener
        out.filterChains = listener.filterChains.map { chain in
            let unsecured = chain.filters.contains { filter in
                Self.tcpProxyCluster(filter).map { $0 == ClusterName.blackHole || ClusterName.isSNIDNAT($0) } ?? false
            }
            return unsecured ? chain : withPolicies(chain, mutualTLS: false)
        }
        return out
    }

    /// Authentication and authorization filters in front of the chain's own; mutual TLS chains
    /// also tell the application who the peer is (`x-forwarded-client-cert`).
    private func withPolicies(_ chain: FilterChain, mutualTLS: Bool) -> FilterChain {
        var out = chain
        var filters: [Envoy_Config_Listener_V3_Filter] = []
        for filter in chain.filters {
            guard filter.typedConfig.isA(HCM.self), var hcm = try? HCM(unpackingAny: filter.typedConfig) else {
                if filter.typedConfig.isA(Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self) { filters += networkFilters }
                filters.append(filter)
                continue
            }
            hcm.httpFilters.insert(contentsOf: httpFilters, at: 0)
            if mutualTLS {
                hcm.setCurrentClientCertDetails = .with { $0.subject = .init(true); $0.dns = true; $0.uri = true }
            }
            var packed = filter
            packed.typedConfig = Proto.any(hcm)
            filters.append(packed)
        }
        out.filters = filters
        return out
    }
}
