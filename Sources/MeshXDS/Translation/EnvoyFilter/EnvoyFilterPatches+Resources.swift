import SwiftProtobuf

extension EnvoyFilterPatches {
    /// Applies the patches to one type's generated resources; types EnvoyFilter does not patch
    /// (EDS, SDS) and resources of unexpected message types come back unchanged.
    /// - Parameters:
    ///   - resources: a generator's output.
    ///   - typeURL: their type.
    public func patch(_ resources: [GeneratedResource], typeURL: String) -> [GeneratedResource] {
        func patched<M: SwiftProtobuf.Message>(_ type: M.Type, _ apply: ([M]) -> [M], name: (M) -> String) -> [GeneratedResource] {
            let messages = resources.compactMap { $0.message as? M }
            guard messages.count == resources.count else { return resources }
            return apply(messages).map { GeneratedResource(name: name($0), message: $0) }
        }
        switch typeURL {
        case EnvoyTypeURL.cluster: return patched(Cluster.self, patchClusters, name: \.name)
        case EnvoyTypeURL.listener: return patched(Listener.self, patchListeners, name: \.name)
        case EnvoyTypeURL.routeConfiguration: return patched(RouteConfiguration.self, patchRouteConfigurations, name: \.name)
        default: return resources
        }
    }

    /// EnvoyFilters applied last, after every other translation, as in Istio: the hook
    /// ``GeneratorRegistry/generate(_:_:)`` calls for CDS, LDS and RDS.
    static func applyLast(to resources: [GeneratedResource], typeURL: String, request: GenerationRequest) -> [GeneratedResource] {
        guard typeURL == EnvoyTypeURL.cluster || typeURL == EnvoyTypeURL.listener || typeURL == EnvoyTypeURL.routeConfiguration,
              !request.snapshot.envoyFilters.all.isEmpty else { return resources }
        let patches = EnvoyFilterPatches(snapshot: request.snapshot, proxy: request.proxy)
        return patches.isEmpty ? resources : patches.patch(resources, typeURL: typeURL)
    }
}
