import NIOCore

extension ListenerRuntime.Chains {
    /// The `remote_jwks` sources of the `jwt_authn` filters in these chains.
    var remoteJWKSSources: [RemoteJWKSSource] {
        var runtimes = Array(self.runtimes.values)
        if let defaultRuntime { runtimes.append(defaultRuntime) }
        var sources: [RemoteJWKSSource] = []
        var seen = Set<ObjectIdentifier>()
        for case .http(let manager) in runtimes {
            for filter in manager.configuration.filters {
                guard let jwt = filter.factory as? JWTAuthnFilterFactory else { continue }
                for source in jwt.remoteSources where seen.insert(ObjectIdentifier(source)).inserted { sources.append(source) }
            }
        }
        return sources
    }

    /// Starts the `async_fetch` of every remote key source, then waits (Envoy's listener warming)
    /// until the first fetch of each source without `fast_listener` has finished, successfully or
    /// not. Returns at once when no source fetches asynchronously.
    func startRemoteJWKSFetches(state: ProxyStateStore, group: any EventLoopGroup) async {
        var warming: [RemoteJWKSSource] = []
        for source in remoteJWKSSources {
            source.startAsyncFetch(clusters: { state.cluster(named: $0) }, on: group.any())
            if source.holdsListenerWarming { warming.append(source) }
        }
        for source in warming {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                source.whenAsyncFetchSettled { continuation.resume() }
            }
        }
    }
}
