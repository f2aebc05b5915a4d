import MeshCore

/// SDS over ADS: the gateway credentials (`kubernetes://NAME`, `kubernetes://NAME-cacert`) a
/// router proxy's listeners and clusters refer to, built from the `Secret`s of the namespace its
/// connection was verified for (see ``GatewaySecrets``).
///
/// Sidecars and proxies without a verified identity get none, as Istio's SDS generator refuses
/// unauthenticated proxies. Only referenced secrets are generated, so editing a secret changes
/// the resources of the gateways that use it and of no other proxy.
public struct SecretGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { EnvoyTypeURL.secret }

    public func generate(_ request: GenerationRequest) -> [GeneratedResource] {
        guard request.proxy.type == .router, request.proxy.verifiedIdentity != nil else { return [] }
        let secrets = GatewaySecrets(snapshot: request.snapshot, proxy: request.proxy)
        var names = Set<String>()
        for listener in GatewayListenerBuilder(options: request.options).listeners(snapshot: request.snapshot, proxy: request.proxy) {
            for chain in listener.filterChains + (listener.hasDefaultFilterChain ? [listener.defaultFilterChain] : []) {
                guard chain.hasTransportSocket,
                      let context = try? Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(unpackingAny: chain.transportSocket.typedConfig)
                else { continue }
                names.formUnion(Self.istiodSecretNames(context.commonTlsContext))
            }
        }
        let clusterRequest = GenerationRequest(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        for generated in ClusterGenerator().generate(clusterRequest) {
            guard let cluster = generated.message as? Envoy_Config_Cluster_V3_Cluster else { continue }
            let sockets = (cluster.hasTransportSocket ? [cluster.transportSocket] : []) + cluster.transportSocketMatches.map(\.transportSocket)
            for socket in sockets {
                guard let context = try? Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: socket.typedConfig) else { continue }
                names.formUnion(Self.istiodSecretNames(context.commonTlsContext))
            }
        }
        return names.sorted().filter(request.wants).compactMap { name in
            secrets.secret(named: name).map { GeneratedResource(name: name, message: $0) }
        }
    }

    /// The SDS names a TLS context fetches over ADS (from istiod rather than the node agent).
    static func istiodSecretNames(_ common: Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext) -> [String] {
        var configs = common.tlsCertificateSdsSecretConfigs
        if case .combinedValidationContext(let combined)? = common.validationContextType {
            configs.append(combined.validationContextSdsSecretConfig)
        }
        if case .validationContextSdsSecretConfig(let config)? = common.validationContextType { configs.append(config) }
        return configs.filter { config in
            if case .ads? = config.sdsConfig.configSourceSpecifier { return true }
            return false
        }.map(\.name)
    }
}
