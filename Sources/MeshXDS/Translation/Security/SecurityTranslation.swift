public import MeshCore

/// Entry points for what security translation reports besides Envoy config.
public enum SecurityTranslation {
    /// Problems found translating the security policy that applies to `proxy`:
    /// AuthorizationPolicy and RequestAuthentication for its workload, and DestinationRule TLS
    /// for the services it reaches. Each names the resource and field and says what the proxy
    /// does instead (fail closed where Istio fails closed).
    /// - Parameters:
    ///   - snapshot: the mesh.
    ///   - proxy: the proxy.
    ///   - options: translation options.
    public static func diagnostics(snapshot: MeshSnapshot, proxy: ProxyView, options: TranslationOptions) -> [SecurityDiagnostic] {
        var result = InboundFilterChainBuilder(snapshot: snapshot, proxy: proxy, options: options).diagnostics
        let scope = ProxyScope(snapshot: snapshot, proxy: proxy, options: options)
        let builder = ClusterBuilder(options: options)
        var tls = UpstreamTLSBuilder(mesh: snapshot.mesh)
        if proxy.type == .router {
            tls.credentialsFromIstiod = true
            tls.gatewaySecrets = GatewaySecrets(snapshot: snapshot, proxy: proxy)
        }
        var seen = Set<SecurityDiagnostic>()
        for service in scope.services {
            let instances = snapshot.services.instances(of: service)
            let rule = scope.destinationRule(for: service)
            guard rule != nil else { continue }
            for port in service.ports {
                for cluster in builder.outboundClusters(service: service, port: port, instances: instances, rule: rule) {
                    for problem in tls.secure(cluster, service: service, port: port, instances: instances, rule: rule).diagnostics
                    where seen.insert(problem).inserted {
                        result.append(problem)
                    }
                }
            }
        }
        return result
    }
}
