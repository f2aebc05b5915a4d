import MeshXDS
import SwiftProtobuf
import Synchronization

/// The xDS resources the proxy has validated and accepted, compiled once per resource content.
///
/// The xDS client hands every response to ``validate(typeURL:items:registry:)`` before ACKing it;
/// compiling there means a resource the proxy cannot honour is NACKed with a precise error and
/// the last good configuration stays in force. Accepted updates then reuse the compiled values.
final class ProxyResources: Sendable {
    enum Compiled {
        case clusters([String: ClusterConfiguration])
        case endpoints([String: EndpointSet])
        case listeners([String: ListenerConfiguration])
        case routes([String: RouteTable])
        case secrets([String: ProxySecret])
    }

    private enum Item {
        case cluster(ClusterConfiguration)
        case endpoints(EndpointSet)
        case listener(ListenerConfiguration)
        case routes(RouteTable)
        case secret(ProxySecret)
    }

    private struct Cached {
        var bytes: [UInt8]
        var item: Item
    }

    private struct Accepted {
        var version: String
        var raw: [String: Google_Protobuf_Any]
    }

    private struct State {
        var cache: [String: [String: Cached]] = [:]
        var accepted: [String: Accepted] = [:]
        var endpointNames: Set<String> = []
        var listenerCount = 0
        var routeNames: Set<String> = []
    }

    private let state = Mutex<State>(State())

    /// Compiles every resource of a response; throws the first problem (the client NACKs it).
    /// - Parameter checkListener: Runs on every listener of an LDS update (Envoy also rejects an
    ///   update whose listener cannot bind its address).
    func validate(typeURL: String, items: [String: Google_Protobuf_Any], registry: HTTPFilterRegistry, networkRegistry: NetworkFilterRegistry = .standard,
                  checkListener: (ListenerConfiguration) throws -> Void = { _ in }) throws {
        var compiled: [String: Cached] = [:]
        for (name, any) in items.sorted(by: { $0.key < $1.key }) {
            let bytes = [UInt8](any.value)
            if let cached = state.withLock({ $0.cache[typeURL]?[name] }), cached.bytes == bytes {
                compiled[name] = cached
                continue
            }
            compiled[name] = Cached(bytes: bytes, item: try Self.compile(typeURL: typeURL, name: name, any: any, registry: registry, networkRegistry: networkRegistry))
        }
        if typeURL == EnvoyTypeURL.listener {
            let listeners = compiled.compactMap { name, cached -> (String, ListenerConfiguration)? in
                if case .listener(let listener) = cached.item { (name, listener) } else { nil }
            }
            try Self.checkAddressesDistinct(listeners)
            for (_, listener) in listeners.sorted(by: { $0.0 < $1.0 }) { try checkListener(listener) }
        }
        state.withLock { state in
            for (name, cached) in compiled { state.cache[typeURL, default: [:]][name] = cached }
        }
    }

    /// Envoy rejects an update with two listeners on one address, bound or not (the address also
    /// finds the listener a `use_original_dst` listener hands a connection to). Port 0 asks the
    /// kernel for a port each, so it is no conflict; nor are `0.0.0.0:P` and `10.0.0.1:P`, which
    /// `SO_REUSEPORT` lets both bind (``BindProbe/reusePort``).
    static func checkAddressesDistinct(_ listeners: [(name: String, listener: ListenerConfiguration)]) throws(ProxyConfigurationError) {
        var seen: [ListenerAddressKey: String] = [:]
        for (name, listener) in listeners.sorted(by: { $0.name < $1.name }) where listener.address.port != 0 {
            let key = ListenerAddressKey(host: listener.address.hostBytes, port: listener.address.port)
            if let first = seen[key] {
                throw ProxyConfigurationError(.invalid, resourceType: "Listener", resourceName: name, field: "address",
                                              "\(listener.address) is also the address of listener \(first); Envoy rejects two listeners on one address")
            }
            seen[key] = name
        }
    }

    private struct ListenerAddressKey: Hashable {
        var host: [UInt8]
        var port: Int
    }

    private static func compile(typeURL: String, name: String, any: Google_Protobuf_Any, registry: HTTPFilterRegistry, networkRegistry: NetworkFilterRegistry) throws -> Item {
        func decodeFailure(_ kind: String, _ error: any Error) -> ProxyConfigurationError {
            ProxyConfigurationError(.invalid, resourceType: kind, resourceName: name, field: "", "cannot decode: \(error)")
        }
        switch typeURL {
        case EnvoyTypeURL.cluster:
            let cluster: Envoy_Config_Cluster_V3_Cluster
            do { cluster = try .init(unpackingAny: any) } catch { throw decodeFailure("Cluster", error) }
            return .cluster(try ClusterConfiguration(cluster))
        case EnvoyTypeURL.clusterLoadAssignment:
            let assignment: Envoy_Config_Endpoint_V3_ClusterLoadAssignment
            do { assignment = try .init(unpackingAny: any) } catch { throw decodeFailure("ClusterLoadAssignment", error) }
            return .endpoints(try EndpointSet(assignment))
        case EnvoyTypeURL.listener:
            let listener: Envoy_Config_Listener_V3_Listener
            do { listener = try .init(unpackingAny: any) } catch { throw decodeFailure("Listener", error) }
            let configuration = try ListenerConfiguration(listener, httpFilters: registry, networkFilters: networkRegistry)
            for chain in configuration.filterChains + (configuration.defaultFilterChain.map { [$0] } ?? []) {
                if case .http(let manager) = chain.terminal, case .inline(let routes) = manager.routes { _ = try RouteTable(routes) }
            }
            return .listener(configuration)
        case EnvoyTypeURL.routeConfiguration:
            let routes: Envoy_Config_Route_V3_RouteConfiguration
            do { routes = try .init(unpackingAny: any) } catch { throw decodeFailure("RouteConfiguration", error) }
            return .routes(try RouteTable(routes))
        case EnvoyTypeURL.secret:
            let secret: Envoy_Extensions_TransportSockets_Tls_V3_Secret
            do { secret = try .init(unpackingAny: any) } catch { throw decodeFailure("Secret", error) }
            return .secret(try ProxySecret(secret))
        default:
            throw ProxyConfigurationError(.unsupported, resourceType: typeURL, resourceName: name, field: "", "the Swift proxy does not subscribe to this type")
        }
    }

    /// The compiled resources of an accepted update (every resource the client now holds).
    func accepted(typeURL: String, version: String, resources: [String: Google_Protobuf_Any], registry: HTTPFilterRegistry, networkRegistry: NetworkFilterRegistry = .standard) -> Compiled? {
        state.withLock { state in
            state.accepted[typeURL] = Accepted(version: version, raw: resources)
            var items: [String: Item] = [:]
            for (name, any) in resources {
                let bytes = [UInt8](any.value)
                if let cached = state.cache[typeURL]?[name], cached.bytes == bytes {
                    items[name] = cached.item
                } else if let item = try? Self.compile(typeURL: typeURL, name: name, any: any, registry: registry, networkRegistry: networkRegistry) {
                    state.cache[typeURL, default: [:]][name] = Cached(bytes: bytes, item: item)
                    items[name] = item
                }
            }
            // Forget compiled resources the control plane no longer sends.
            state.cache[typeURL] = state.cache[typeURL]?.filter { resources[$0.key] != nil }
            switch typeURL {
            case EnvoyTypeURL.cluster:
                return .clusters(items.compactMapValues { if case .cluster(let c) = $0 { c } else { nil } })
            case EnvoyTypeURL.clusterLoadAssignment:
                state.endpointNames = Set(items.keys)
                return .endpoints(items.compactMapValues { if case .endpoints(let e) = $0 { e } else { nil } })
            case EnvoyTypeURL.listener:
                let listeners = items.compactMapValues { if case .listener(let l) = $0 { l } else { nil } }
                state.listenerCount = listeners.count
                var names: Set<String> = []
                for listener in listeners.values {
                    for chain in listener.filterChains + (listener.defaultFilterChain.map { [$0] } ?? []) {
                        if case .http(let manager) = chain.terminal, case .rds(let name) = manager.routes { names.insert(name) }
                    }
                }
                state.routeNames = names
                return .listeners(listeners)
            case EnvoyTypeURL.routeConfiguration:
                return .routes(items.compactMapValues { if case .routes(let r) = $0 { r } else { nil } })
            case EnvoyTypeURL.secret:
                return .secrets(items.compactMapValues { if case .secret(let s) = $0 { s } else { nil } })
            default:
                return nil
            }
        }
    }

    func hasReceived(_ typeURL: String) -> Bool { state.withLock { $0.accepted[typeURL] != nil } }
    func hasEndpoints(_ serviceName: String) -> Bool { state.withLock { $0.endpointNames.contains(serviceName) } }
    var listenerCount: Int { state.withLock { $0.listenerCount } }
    var referencedRouteNames: Set<String> { state.withLock { $0.routeNames } }

    /// The endpoints already received for a cluster, if any.
    func endpoints(for configuration: ClusterConfiguration) -> EndpointSet? {
        if let inline = configuration.discovery.inlineEndpoints { return inline }
        guard let service = configuration.edsServiceName else { return nil }
        return state.withLock { state -> EndpointSet? in
            if case .endpoints(let set)? = state.cache[EnvoyTypeURL.clusterLoadAssignment]?[service]?.item { return set }
            return nil
        }
    }

    /// Envoy's `/config_dump` shape: clusters, listeners, routes and endpoints with versions.
    func configDump() -> String {
        let accepted = state.withLock { $0.accepted }
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        func json(_ any: Google_Protobuf_Any) -> String {
            (try? any.jsonString(options: options)) ?? "{}"
        }
        func section(_ typeURL: String, dumpType: String, list: String, wrap: (String, String, String) -> String) -> String {
            let entry = accepted[typeURL]
            let version = entry?.version ?? ""
            let items = (entry?.raw ?? [:]).sorted { $0.key < $1.key }.map { wrap($0.key, version, json($0.value)) }
            return "  {\n   \"@type\": \"type.googleapis.com/envoy.admin.v3.\(dumpType)\",\n   \"version_info\": \"\(version)\",\n   \"\(list)\": [\n    \(items.joined(separator: ",\n    "))\n   ]\n  }"
        }
        let sections = [
            section(EnvoyTypeURL.cluster, dumpType: "ClustersConfigDump", list: "dynamic_active_clusters") { _, version, body in
                "{\"version_info\": \"\(version)\", \"cluster\": \(body)}"
            },
            section(EnvoyTypeURL.listener, dumpType: "ListenersConfigDump", list: "dynamic_listeners") { name, version, body in
                "{\"name\": \"\(name)\", \"active_state\": {\"version_info\": \"\(version)\", \"listener\": \(body)}}"
            },
            section(EnvoyTypeURL.routeConfiguration, dumpType: "RoutesConfigDump", list: "dynamic_route_configs") { _, version, body in
                "{\"version_info\": \"\(version)\", \"route_config\": \(body)}"
            },
            section(EnvoyTypeURL.clusterLoadAssignment, dumpType: "EndpointsConfigDump", list: "dynamic_endpoint_configs") { _, version, body in
                "{\"version_info\": \"\(version)\", \"endpoint_config\": \(body)}"
            },
        ]
        return "{\n \"configs\": [\n\(sections.joined(separator: ",\n"))\n ]\n}\n"
    }
}
