import MeshCore

extension ProxyScope {
    /// Every mesh VirtualService for `service`'s host merged into one rule list, with delegates
    /// expanded; nil when no VirtualService names the host.
    func httpRoutes(for service: MeshService) -> [SourcedHTTPRoute]? {
        let virtualServices = snapshot.virtualServices(forHost: service.hostname, from: proxy.workload)
        guard !virtualServices.isEmpty else { return nil }
        let index = snapshot.virtualServices
        return VirtualServiceMerger.httpRoutes(
            virtualServices, domainSuffix: options.domainSuffix,
            delegates: { name, namespace, owner in index.delegate(name: name, namespace: namespace, from: owner) },
            defaultExportTo: snapshot.mesh.defaultVirtualServiceExportTo)
    }

    /// Every mesh VirtualService for `service`'s host, oldest first (TCP and TLS rules are merged
    /// the same way as HTTP rules).
    func virtualServices(for service: MeshService) -> [Resource<VirtualService>] {
        VirtualServiceMerger.creationOrder(snapshot.virtualServices(forHost: service.hostname, from: proxy.workload))
    }
}
