public import MeshCore
import SwiftProtobuf

extension EnvoyFilterPatches {
    typealias Listener = Envoy_Config_Listener_V3_Listener
    typealias FilterChain = Envoy_Config_Listener_V3_FilterChain
    typealias NetworkFilter = Envoy_Config_Listener_V3_Filter
    typealias HTTPConnectionManager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias HTTPFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter

    static let httpConnectionManagerName = "envoy.filters.network.http_connection_manager"

    /// The patch context of a listener: GATEWAY on a gateway, else by traffic direction.
    func context(of listener: Envoy_Config_Listener_V3_Listener) -> EnvoyFilter.PatchContext {
        if isGateway { return .GATEWAY }
        return listener.trafficDirection == .inbound ? .SIDECAR_INBOUND : .SIDECAR_OUTBOUND
    }

    /// Applies the LISTENER, LISTENER_FILTER, FILTER_CHAIN, NETWORK_FILTER and HTTP_FILTER patches
    /// (and route patches to inline inbound route configurations), then appends added listeners.
    ///
    /// As in Istio, the capture listeners `virtualOutbound` and `virtualInbound` are patched but
    /// listener ADDs go with the other listeners, and an ADD whose context is ANY adds only in
    /// the outbound (or gateway) context.
    /// - Parameter listeners: the generated listeners.
    /// - Returns: the patched listeners, in order, without removed ones, then added ones.
    public func patchListeners(_ listeners: [Envoy_Config_Listener_V3_Listener]) -> [Envoy_Config_Listener_V3_Listener] {
        guard !isEmpty else { return listeners }
        var out: [Listener] = []
        for var listener in listeners {
            let context = self.context(of: listener)
            patchInlineRouteConfigurations(&listener, context: context)
            if patchListener(&listener, context: context) { out.append(listener) }
        }
        for context in isGateway ? [EnvoyFilter.PatchContext.GATEWAY] : [.SIDECAR_OUTBOUND, .SIDECAR_INBOUND] {
            for patch in patches(.LISTENER) where patch.operation == .ADD && patch.applies(in: context) {
                if patch.context == .ANY && context == .SIDECAR_INBOUND { continue }
                out.append(patch.value(as: Listener.self))
            }
        }
        return out
    }

    /// Patches one listener; false when a REMOVE matched it.
    private func patchListener(_ listener: inout Listener, context: EnvoyFilter.PatchContext) -> Bool {
        for patch in patches(.LISTENER) where patch.applies(in: context) && Self.listenerMatches(listener, patch) {
            switch patch.operation {
            case .REMOVE: return false
            case .MERGE: try? ProtoMerge.merge(patch.value(as: Listener.self), into: &listener)
            default: break
            }
        }
        patchListenerFilters(&listener, context: context)
        patchFilterChains(&listener, context: context)
        return true
    }

    private func patchListenerFilters(_ listener: inout Listener, context: EnvoyFilter.PatchContext) {
        for patch in patches(.LISTENER_FILTER) where patch.applies(in: context) && Self.listenerMatches(listener, patch) {
            let name = patch.match.listener?.listenerFilter ?? ""
            ListPatch.apply(
                patch.operation, value: patch.value(as: Envoy_Config_Listener_V3_ListenerFilter.self),
                to: &listener.listenerFilters, hasMatch: !name.isEmpty) { $0.name == name }
        }
    }

    private func patchFilterChains(_ listener: inout Listener, context: EnvoyFilter.PatchContext) {
        let original = listener
        var chains: [FilterChain] = []
        for chain in listener.filterChains {
            guard !chain.filters.isEmpty else { chains.append(chain); continue }
            if let patched = patchFilterChain(chain, of: original, context: context) { chains.append(patched) }
        }
        if listener.hasDefaultFilterChain, !listener.defaultFilterChain.filters.isEmpty {
            if let patched = patchFilterChain(listener.defaultFilterChain, of: original, context: context) {
                listener.defaultFilterChain = patched
            } else {
                listener.clearDefaultFilterChain()
            }
        }
        for patch in patches(.FILTER_CHAIN) where patch.operation == .ADD && patch.applies(in: context) && Self.listenerMatches(original, patch) {
            chains.append(patch.value(as: FilterChain.self))
        }
        listener.filterChains = chains
    }

    /// Patches one filter chain; nil when a REMOVE matched it.
    private func patchFilterChain(_ chain: FilterChain, of listener: Listener, context: EnvoyFilter.PatchContext) -> FilterChain? {
        var chain = chain
        for patch in patches(.FILTER_CHAIN) where patch.applies(in: context) && Self.listenerMatches(listener, patch) && Self.filterChainMatches(chain, of: listener, patch) {
            switch patch.operation {
            case .REMOVE:
                return nil
            case .MERGE:
                let value = patch.value(as: FilterChain.self)
                if !Self.mergeTransportSocket(value, into: &chain) { try? ProtoMerge.merge(value, into: &chain) }
            default:
                break
            }
        }
        patchNetworkFilters(&chain, of: listener, context: context)
        return chain
    }

    /// Istio's `mergeTransportSocketListener`: a patch whose transport socket has the chain's
    /// socket name merges the two typed configs; true when it handled the merge.
    private static func mergeTransportSocket(_ value: FilterChain, into chain: inout FilterChain) -> Bool {
        guard value.hasTransportSocket, chain.hasTransportSocket, value.transportSocket.name == chain.transportSocket.name else { return false }
        if case .typedConfig(let destination)? = chain.transportSocket.configType,
           case .typedConfig(let source)? = value.transportSocket.configType,
           let merged = try? ProtoMerge.mergeAny(source, into: destination) {
            chain.transportSocket.typedConfig = merged
        }
        return true
    }

    private func patchNetworkFilters(_ chain: inout FilterChain, of listener: Listener, context: EnvoyFilter.PatchContext) {
        for patch in patches(.NETWORK_FILTER) where patch.operation != .MERGE && patch.applies(in: context)
            && Self.listenerMatches(listener, patch) && Self.filterChainMatches(chain, of: listener, patch) {
            let name = patch.match.listener?.filterChain?.filter?.name
            ListPatch.apply(patch.operation, value: patch.value(as: NetworkFilter.self), to: &chain.filters, hasMatch: name != nil) { $0.name == name }
        }
        let unpatched = chain
        for i in chain.filters.indices {
            patchNetworkFilter(&chain.filters[i], in: unpatched, of: listener, context: context)
        }
    }

    private func patchNetworkFilter(_ filter: inout NetworkFilter, in chain: FilterChain, of listener: Listener, context: EnvoyFilter.PatchContext) {
        for patch in patches(.NETWORK_FILTER) where patch.operation == .MERGE && patch.applies(in: context)
            && Self.listenerMatches(listener, patch) && Self.filterChainMatches(chain, of: listener, patch) {
            if let name = patch.match.listener?.filterChain?.filter?.name, name != filter.name { continue }
            // Istio merges only into filters that carry a typed config.
            guard case .typedConfig(let destination)? = filter.configType else { continue }
            let value = patch.value(as: NetworkFilter.self)
            if case .typedConfig(let source)? = value.configType {
                filter.typedConfig = (try? ProtoMerge.mergeAny(source, into: destination)) ?? destination
            }
            if !value.name.isEmpty { filter.name = value.name }
        }
        if filter.name == Self.httpConnectionManagerName { patchHTTPFilters(&filter, in: chain, of: listener, context: context) }
    }

    private func patchHTTPFilters(_ filter: inout NetworkFilter, in chain: FilterChain, of listener: Listener, context: EnvoyFilter.PatchContext) {
        let relevant = patches(.HTTP_FILTER).filter {
            $0.applies(in: context) && Self.listenerMatches(listener, $0) && Self.filterChainMatches(chain, of: listener, $0)
                && Self.networkFilterMatches(filter, $0)
        }
        guard !relevant.isEmpty, case .typedConfig(let any)? = filter.configType,
              var manager = try? HTTPConnectionManager(unpackingAny: any) else { return }
        for patch in relevant where patch.operation != .MERGE {
            let name = patch.match.listener?.filterChain?.filter?.subFilter?.name
            ListPatch.apply(patch.operation, value: patch.value(as: HTTPFilter.self), to: &manager.httpFilters, hasMatch: name != nil) { $0.name == name }
        }
        for i in manager.httpFilters.indices {
            for patch in relevant where patch.operation == .MERGE {
                if let name = patch.match.listener?.filterChain?.filter?.subFilter?.name, name != manager.httpFilters[i].name { continue }
                guard case .typedConfig(let destination)? = manager.httpFilters[i].configType else { continue }
                let value = patch.value(as: HTTPFilter.self)
                if case .typedConfig(let source)? = value.configType {
                    manager.httpFilters[i].typedConfig = (try? ProtoMerge.mergeAny(source, into: destination)) ?? destination
                }
                if !value.name.isEmpty { manager.httpFilters[i].name = value.name }
            }
        }
        filter.typedConfig = Proto.any(manager)
    }

    /// Route patches for route configurations held inline by a listener's HTTP connection managers
    /// (Istio patches inbound route configurations as it builds them, with the SIDECAR_INBOUND context).
    private func patchInlineRouteConfigurations(_ listener: inout Listener, context: EnvoyFilter.PatchContext) {
        guard hasRoutePatches else { return }
        func patch(_ chain: inout FilterChain) {
            for i in chain.filters.indices where chain.filters[i].name == Self.httpConnectionManagerName {
                guard case .typedConfig(let any)? = chain.filters[i].configType,
                      var manager = try? HTTPConnectionManager(unpackingAny: any),
                      case .routeConfig(var routes)? = manager.routeSpecifier else { continue }
                patchRouteConfiguration(&routes, context: context)
                manager.routeConfig = routes
                chain.filters[i].typedConfig = Proto.any(manager)
            }
        }
        for i in listener.filterChains.indices { patch(&listener.filterChains[i]) }
        if listener.hasDefaultFilterChain { patch(&listener.defaultFilterChain) }
    }

    static func isVirtual(_ listener: Listener) -> Bool {
        listener.name == "virtualInbound" || listener.name == "virtualOutbound"
    }

    /// Istio's `listenerMatch`: name, and port except for the capture listeners (whose port is
    /// matched against each filter chain's destination port instead) below LISTENER.
    static func listenerMatches(_ listener: Listener, _ patch: Patch) -> Bool {
        guard let match = patch.match.listener else { return true }
        if let name = match.name, !name.isEmpty, name != listener.name { return false }
        if patch.applyTo != .LISTENER && isVirtual(listener) { return true }
        if let port = match.portNumber, port != 0 {
            guard case .socketAddress(let address)? = listener.address.address, case .portValue(port)? = address.portSpecifier else { return false }
        }
        return true
    }

    /// Istio's `filterChainMatch`: name, SNI, transport protocol, ALPN and destination port.
    static func filterChainMatches(_ chain: FilterChain, of listener: Listener, _ patch: Patch) -> Bool {
        guard let match = patch.match.listener else { return true }
        if isVirtual(listener), let port = match.portNumber, port > 0, chain.filterChainMatch.destinationPort.value != port { return false }
        guard let fc = match.filterChain else { return true }
        if let name = fc.name, !name.isEmpty, name != chain.name { return false }
        if let sni = fc.sni, !sni.isEmpty, !chain.filterChainMatch.serverNames.contains(sni) { return false }
        if let transport = fc.transportProtocol, !transport.isEmpty, chain.filterChainMatch.transportProtocol != transport { return false }
        if let protocols = fc.applicationProtocols, !protocols.isEmpty {
            for p in protocols.split(separator: ",") where !chain.filterChainMatch.applicationProtocols.contains(String(p)) { return false }
        }
        if let port = fc.destinationPort, port > 0 {
            guard chain.filterChainMatch.hasDestinationPort, chain.filterChainMatch.destinationPort.value == port else { return false }
        }
        return true
    }

    /// Whether the patch's network filter name (if any) is this filter's.
    static func networkFilterMatches(_ filter: NetworkFilter, _ patch: Patch) -> Bool {
        guard let name = patch.match.listener?.filterChain?.filter?.name else { return true }
        return name == filter.name
    }
}
