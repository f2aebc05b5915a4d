import Foundation
import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// EnvoyFilter selection, matching and every patch operation, on hand-built resources.
@Suite struct EnvoyFilterTests {
    typealias Listener = Envoy_Config_Listener_V3_Listener
    typealias FilterChain = Envoy_Config_Listener_V3_FilterChain
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
    typealias HTTPFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter
    typealias Cluster = Envoy_Config_Cluster_V3_Cluster
    typealias RouteConfiguration = Envoy_Config_Route_V3_RouteConfiguration

    static func proxy(_ id: String = "sidecar~127.0.0.11~productpage.bookinfo~bookinfo.svc.cluster.local", labels: [String: String] = ["app": "productpage"],
                      version: String? = "1.24.2", metadata: [String: String] = [:]) throws -> ProxyView {
        var proxy = ProxyView(identity: try ProxyIdentity(nodeID: id), labels: labels, istioVersion: version)
        proxy.metadata = metadata
        return proxy
    }

    static func snapshot(_ yaml: String) throws -> MeshSnapshot {
        let output = ConfigDecoder().decode(yaml, file: "envoyfilters.yaml")
        if output.hasErrors { throw CaseError(output.diagnostics.map(\.description).joined(separator: "\n")) }
        return MeshSnapshot(resources: output.resources)
    }

    static func patches(_ yaml: String, proxy: ProxyView? = nil) throws -> EnvoyFilterPatches {
        EnvoyFilterPatches(snapshot: try snapshot(yaml), proxy: try proxy ?? Self.proxy())
    }

    /// One EnvoyFilter in `bookinfo` with the given patches (YAML list items, indented by two).
    static func filter(name: String = "ef", namespace: String = "bookinfo", extra: String = "", _ patches: String) -> String {
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: \(name), namespace: \(namespace)}\nspec:\n\(extra)  configPatches:\n\(patches)\n"
    }

    struct CaseError: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    static func hcm(_ filters: [String], statPrefix: String = "outbound_0.0.0.0_9080") -> Envoy_Config_Listener_V3_Filter {
        let manager = HCM.with {
            $0.statPrefix = statPrefix
            $0.httpFilters = filters.map { name in HTTPFilter.with {
                $0.name = name
                $0.typedConfig = try! Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
            } }
        }
        return .with { $0.name = "envoy.filters.network.http_connection_manager"; $0.typedConfig = try! Google_Protobuf_Any(message: manager) }
    }

    static func listener(_ name: String, port: UInt32, direction: Envoy_Config_Core_V3_TrafficDirection = .outbound, chains: [FilterChain]) -> Listener {
        .with {
            $0.name = name
            $0.address = .with { $0.socketAddress = .with { $0.address = "0.0.0.0"; $0.portValue = port } }
            $0.trafficDirection = direction
            $0.filterChains = chains
        }
    }

    static func httpFilters(_ listener: Listener, chain: Int = 0) throws -> [String] {
        let filter = try #require(listener.filterChains[chain].filters.first { $0.name == "envoy.filters.network.http_connection_manager" })
        return try HCM(unpackingAny: filter.typedConfig).httpFilters.map(\.name)
    }

    // MARK: selection

    @Test func selectsByNamespaceSelectorAndOrdersByPriorityThenCreationThenName() throws {
        let yaml = [
            Self.filter(name: "late", extra: "  priority: 5\n", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "mesh", namespace: "istio-system", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "b-same", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "a-same", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "first", extra: "  priority: -1\n", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "reviews", extra: "  workloadSelector: {labels: {app: reviews}}\n", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "mine", extra: "  workloadSelector: {labels: {app: productpage}}\n", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "other-ns", namespace: "shop", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
            Self.filter(name: "gw", extra: "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]\n", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}"),
        ].joined(separator: "---\n")
        let snapshot = try Self.snapshot(yaml)
        let selected = EnvoyFilterPatches.selected(in: snapshot, for: try Self.proxy()).map(\.meta.name)
        #expect(selected == ["first", "a-same", "b-same", "mesh", "mine", "late"])
        let gateway = try Self.proxy("router~127.0.0.5~edge-1.bookinfo~bookinfo.svc.cluster.local",
                                     labels: ["gateway.networking.k8s.io/gateway-name": "edge"])
        #expect(EnvoyFilterPatches.selected(in: snapshot, for: gateway).map(\.meta.name) == ["first", "a-same", "b-same", "gw", "mesh", "late"])
    }

    @Test func creationTimeBreaksPriorityTies() throws {
        let a = Self.filter(name: "a", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}")
            .replacingOccurrences(of: "namespace: bookinfo}", with: "namespace: bookinfo, creationTimestamp: \"2026-01-02T00:00:00Z\"}")
        let b = Self.filter(name: "b", "  - {applyTo: CLUSTER, patch: {operation: REMOVE}}")
            .replacingOccurrences(of: "namespace: bookinfo}", with: "namespace: bookinfo, creationTimestamp: \"2026-01-01T00:00:00Z\"}")
        #expect(EnvoyFilterPatches.selected(in: try Self.snapshot(a + "---\n" + b), for: try Self.proxy()).map(\.meta.name) == ["b", "a"])
    }

    @Test(arguments: [
        ("proxy: {proxyVersion: '^1\\.24'}", "1.24.2", [String: String](), true),
        ("proxy: {proxyVersion: '^1\\.23'}", "1.24.2", [:], false),
        ("proxy: {proxyVersion: '24'}", "1.24.2", [:], true),  // RE2 search, unanchored
        ("proxy: {metadata: {EDGE: 'true'}}", "1.24.2", ["EDGE": "true"], true),
        ("proxy: {metadata: {EDGE: 'true'}}", "1.24.2", ["EDGE": "false"], false),
    ])
    func proxyMatch(_ match: String, _ version: String, _ metadata: [String: String], _ applies: Bool) throws {
        let yaml = Self.filter("  - applyTo: CLUSTER\n    match: {\(match)}\n    patch: {operation: REMOVE}")
        let patches = try Self.patches(yaml, proxy: try Self.proxy(version: version, metadata: metadata))
        #expect(patches.patchClusters([.with { $0.name = "c" }]).isEmpty == applies)
        let unversioned = try Self.patches(yaml, proxy: try Self.proxy(version: nil, metadata: metadata))
        if match.contains("proxyVersion") { #expect(unversioned.patchClusters([.with { $0.name = "c" }]).count == 1, "no ISTIO_VERSION never matches a version regex") }
    }

    // MARK: listeners

    @Test func listenerMergeRemoveAndAddByContext() throws {
        let patches = try Self.patches(Self.filter("""
          - applyTo: LISTENER
            match: {context: SIDECAR_OUTBOUND, listener: {portNumber: 9080}}
            patch: {operation: MERGE, value: {per_connection_buffer_limit_bytes: 1024, listener_filters: [{name: x}]}}
          - applyTo: LISTENER
            match: {listener: {name: gone}}
            patch: {operation: REMOVE}
          - applyTo: LISTENER
            patch: {operation: ADD, value: {name: added-any}}
          - applyTo: LISTENER
            match: {context: SIDECAR_INBOUND}
            patch: {operation: ADD, value: {name: added-inbound}}
        """))
        let out = patches.patchListeners([
            Self.listener("0.0.0.0_9080", port: 9080, chains: [.with { $0.filters = [Self.hcm(["envoy.filters.http.router"])] }]),
            Self.listener("in_9080", port: 9080, direction: .inbound, chains: []),
            Self.listener("gone", port: 1, chains: []),
        ])
        #expect(out.map(\.name) == ["0.0.0.0_9080", "in_9080", "added-any", "added-inbound"])
        #expect(out[0].perConnectionBufferLimitBytes.value == 1024 && out[0].listenerFilters.map(\.name) == ["x"])
        #expect(!out[1].hasPerConnectionBufferLimitBytes, "the inbound listener is not in the SIDECAR_OUTBOUND context")
    }

    @Test func filterChainMatchFieldsAndVirtualListenerPorts() throws {
        func chain(_ name: String, port: UInt32? = nil, sni: [String] = [], transport: String = "", alpn: [String] = []) -> FilterChain {
            .with {
                $0.name = name
                $0.filters = [.with { $0.name = "envoy.filters.network.tcp_proxy" }]
                $0.filterChainMatch = .with {
                    if let port { $0.destinationPort = .init(port) }
                    $0.serverNames = sni
                    $0.transportProtocol = transport
                    $0.applicationProtocols = alpn
                }
            }
        }
        let listener = Self.listener("virtualInbound", port: 15006, direction: .inbound, chains: [
            chain("a", port: 9080, sni: ["a.example.com"], transport: "tls", alpn: ["h2", "http/1.1"]),
            chain("b", port: 9090), chain("c"),
        ])
        func removed(_ match: String) throws -> [String] {
            let patches = try Self.patches(Self.filter("  - applyTo: FILTER_CHAIN\n    match: {listener: \(match)}\n    patch: {operation: REMOVE}"))
            let kept = Set(patches.patchListeners([listener])[0].filterChains.map(\.name))
            return ["a", "b", "c"].filter { !kept.contains($0) }
        }
        #expect(try removed("{portNumber: 9090}") == ["b"], "on virtualInbound portNumber is the chain's destination port")
        #expect(try removed("{filterChain: {sni: a.example.com}}") == ["a"])
        #expect(try removed("{filterChain: {transportProtocol: tls}}") == ["a"])
        #expect(try removed("{filterChain: {applicationProtocols: 'h2,http/1.1'}}") == ["a"])
        #expect(try removed("{filterChain: {applicationProtocols: 'h2,h3'}}") == [])
        #expect(try removed("{filterChain: {destinationPort: 9080}}") == ["a"])
        #expect(try removed("{filterChain: {name: c}}") == ["c"])
        #expect(try removed("{name: other}") == [])
    }

    @Test func networkFilterOperations() throws {
        let base = Self.listener("l", port: 80, chains: [.with { $0.filters = [.with { $0.name = "a" }, .with { $0.name = "b" }] }])
        func run(_ op: String, _ filter: String?) throws -> [String] {
            let match = filter.map { "\n    match: {listener: {filterChain: {filter: {name: \($0)}}}}" } ?? ""
            let yaml = Self.filter("  - applyTo: NETWORK_FILTER\(match)\n    patch: {operation: \(op), value: {name: new}}")
            return try Self.patches(yaml).patchListeners([base])[0].filterChains[0].filters.map(\.name)
        }
        #expect(try run("ADD", nil) == ["a", "b", "new"])
        #expect(try run("INSERT_FIRST", "b") == ["new", "a", "b"])
        #expect(try run("INSERT_BEFORE", "b") == ["a", "new", "b"])
        #expect(try run("INSERT_BEFORE", nil) == ["new", "a", "b"])
        #expect(try run("INSERT_AFTER", "a") == ["a", "new", "b"])
        #expect(try run("INSERT_AFTER", nil) == ["a", "b", "new"])
        #expect(try run("INSERT_AFTER", "missing") == ["a", "b"])
        #expect(try run("REPLACE", "a") == ["new", "b"])
        #expect(try run("REPLACE", nil) == ["a", "b"])
        #expect(try run("REMOVE", "b") == ["a"])
    }

    @Test func httpFilterOperationsAndTypedConfigMerge() throws {
        let listener = Self.listener("0.0.0.0_9080", port: 9080, chains: [.with { $0.filters = [Self.hcm(["a", "envoy.filters.http.router"])] }])
        let patches = try Self.patches(Self.filter("""
          - applyTo: HTTP_FILTER
            match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
            patch:
              operation: INSERT_BEFORE
              value:
                name: envoy.filters.http.fault
                typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {http_status: 418}}
          - applyTo: HTTP_FILTER
            match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: a}}}}}
            patch: {operation: REMOVE}
          - applyTo: HTTP_FILTER
            match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}}
            patch:
              operation: MERGE
              value: {typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, suppress_envoy_headers: true}}
          - applyTo: NETWORK_FILTER
            match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
            patch:
              operation: MERGE
              value: {typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, server_name: swiftmesh}}
        """))
        let out = patches.patchListeners([listener])[0]
        #expect(try Self.httpFilters(out) == ["envoy.filters.http.fault", "envoy.filters.http.router"])
        let manager = try HCM(unpackingAny: out.filterChains[0].filters[0].typedConfig)
        #expect(manager.serverName == "swiftmesh" && manager.statPrefix == "outbound_0.0.0.0_9080", "MERGE keeps the fields it does not set")
        let router = try Envoy_Extensions_Filters_Http_Router_V3_Router(unpackingAny: manager.httpFilters[1].typedConfig)
        #expect(router.suppressEnvoyHeaders)
        let fault = try Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault(unpackingAny: manager.httpFilters[0].typedConfig)
        #expect(fault.abort.httpStatus == 418)
    }

    // MARK: routes

    static func routes(name: String = "9080") -> RouteConfiguration {
        .with {
            $0.name = name
            $0.virtualHosts = [
                .with { $0.name = "a:9080"; $0.domains = ["a"]; $0.routes = [
                    .with { $0.name = "r1"; $0.route = .with { $0.cluster = "x"; $0.timeout = .init(seconds: 0, nanos: 500_000_000) } },
                    .with { $0.name = "r2"; $0.redirect = .with { $0.hostRedirect = "y" } },
                ] },
                .with { $0.name = "b:9080"; $0.domains = ["b", "b.ns"] },
            ]
        }
    }

    @Test func routeOperationsAndDurationReplacement() throws {
        let patches = try Self.patches(Self.filter("""
          - applyTo: HTTP_ROUTE
            match: {routeConfiguration: {portNumber: 9080, vhost: {name: 'a:9080', route: {name: r1}}}}
            patch: {operation: MERGE, value: {route: {timeout: 3s}}}
          - applyTo: HTTP_ROUTE
            match: {routeConfiguration: {vhost: {name: 'a:9080', route: {action: REDIRECT}}}}
            patch: {operation: INSERT_AFTER, value: {name: after-redirect, match: {prefix: /}, direct_response: {status: 200}}}
          - applyTo: HTTP_ROUTE
            match: {routeConfiguration: {vhost: {name: 'a:9080', route: {name: missing}}}}
            patch: {operation: INSERT_FIRST, value: {name: never, match: {prefix: /}, direct_response: {status: 200}}}
          - applyTo: HTTP_ROUTE
            match: {routeConfiguration: {vhost: {name: 'a:9080'}}}
            patch: {operation: INSERT_FIRST, value: {name: first, match: {prefix: /}, direct_response: {status: 200}}}
          - applyTo: VIRTUAL_HOST
            match: {routeConfiguration: {vhost: {domainName: b.ns}}}
            patch: {operation: REPLACE, value: {name: replaced, domains: [c]}}
          - applyTo: VIRTUAL_HOST
            match: {routeConfiguration: {portNumber: 9090}}
            patch: {operation: REMOVE}
          - applyTo: ROUTE_CONFIGURATION
            patch: {operation: MERGE, value: {response_headers_to_add: [{header: {key: x-ef, value: "1"}}]}}
        """))
        let out = patches.patchRouteConfigurations([Self.routes()])[0]
        #expect(out.virtualHosts.map(\.name) == ["a:9080", "replaced"], "REMOVE on port 9090 does not touch route configuration 9080")
        #expect(out.virtualHosts[0].routes.map(\.name) == ["first", "r1", "r2", "after-redirect"])
        #expect(out.virtualHosts[0].routes[1].route.timeout == .init(seconds: 3, nanos: 0), "a Duration is replaced whole, not merged into 0.5s")
        #expect(out.virtualHosts[0].routes[1].route.cluster == "x")
        #expect(out.responseHeadersToAdd.map(\.header.key) == ["x-ef"])
    }

    @Test func gatewayRouteNames() throws {
        let gateway = try Self.proxy("router~127.0.0.5~gw-1.istio-system~istio-system.svc.cluster.local", labels: ["istio": "ingressgateway"])
        let patches = try Self.patches(Self.filter(namespace: "istio-system", """
          - applyTo: ROUTE_CONFIGURATION
            match: {context: GATEWAY, routeConfiguration: {portNumber: 443, portName: https, gateway: bookinfo/gw}}
            patch: {operation: MERGE, value: {response_headers_to_add: [{header: {key: x-gw, value: "1"}}]}}
        """), proxy: gateway)
        let out = patches.patchRouteConfigurations([Self.routes(name: "https.443.https.gw.bookinfo"), Self.routes(name: "http.80")])
        #expect(out.map { $0.responseHeadersToAdd.count } == [1, 0])
        let sidecarOnly = try Self.patches(Self.filter(namespace: "istio-system", """
          - applyTo: ROUTE_CONFIGURATION
            match: {context: SIDECAR_OUTBOUND}
            patch: {operation: MERGE, value: {response_headers_to_add: [{header: {key: x-gw, value: "1"}}]}}
        """), proxy: gateway)
        #expect(sidecarOnly.patchRouteConfigurations([Self.routes(name: "http.80")])[0].responseHeadersToAdd.isEmpty)
    }

    // MARK: clusters

    @Test func clusterMatchMergeRemoveAndAdd() throws {
        let clusters: [Cluster] = [
            .with { $0.name = "outbound|9080|v1|reviews.bookinfo.svc.cluster.local"; $0.connectTimeout = .init(seconds: 1, nanos: 500_000_000) },
            .with { $0.name = "outbound|9080|v2|reviews.bookinfo.svc.cluster.local" },
            .with { $0.name = "outbound|9080||details.bookinfo.svc.cluster.local" },
            .with { $0.name = "inbound|9080||" },
        ]
        let patches = try Self.patches(Self.filter("""
          - applyTo: CLUSTER
            match: {cluster: {service: reviews.bookinfo.svc.cluster.local, subset: v1, portNumber: 9080}}
            patch: {operation: MERGE, value: {connect_timeout: 2s, per_connection_buffer_limit_bytes: 10}}
          - applyTo: CLUSTER
            match: {context: SIDECAR_OUTBOUND, cluster: {subset: v2}}
            patch: {operation: REMOVE}
          - applyTo: CLUSTER
            match: {context: SIDECAR_OUTBOUND, cluster: {portNumber: 9080}}
            patch: {operation: MERGE, value: {per_connection_buffer_limit_bytes: 20}}
          - applyTo: CLUSTER
            patch: {operation: ADD, value: {name: added, connect_timeout: 1s}}
        """))
        let out = patches.patchClusters(clusters)
        #expect(out.map(\.name) == [clusters[0].name, clusters[2].name, "inbound|9080||", "added"])
        #expect(out[0].connectTimeout == .init(seconds: 2, nanos: 0) && out[0].perConnectionBufferLimitBytes.value == 20)
        #expect(out[1].perConnectionBufferLimitBytes.value == 20)
        #expect(!out[2].hasPerConnectionBufferLimitBytes, "inbound clusters are not SIDECAR_OUTBOUND")
    }

    @Test func clusterTransportSocketMergeKeepsOtherTLSFields() throws {
        let tls = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.with { $0.sni = "reviews"; $0.commonTlsContext = .with { $0.alpnProtocols = ["istio"] } }
        let cluster = Cluster.with {
            $0.name = "outbound|9080||reviews.bookinfo.svc.cluster.local"
            $0.transportSocket = .with { $0.name = "envoy.transport_sockets.tls"; $0.typedConfig = try! Google_Protobuf_Any(message: tls) }
        }
        let patches = try Self.patches(Self.filter("""
          - applyTo: CLUSTER
            patch:
              operation: MERGE
              value:
                connect_timeout: 9s
                transport_socket:
                  name: envoy.transport_sockets.tls
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, sni: other}
        """))
        let out = patches.patchClusters([cluster])[0]
        let merged = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: out.transportSocket.typedConfig)
        #expect(merged.sni == "other" && merged.commonTlsContext.alpnProtocols == ["istio"])
        #expect(!out.hasConnectTimeout, "a transport-socket merge handles the whole patch, as in Istio")
    }

    // MARK: diagnostics

    @Test func undecodablePatchesAreReportedAndSkipped() throws {
        let yaml = Self.filter(name: "broken", """
          - applyTo: CLUSTER
            patch: {operation: MERGE, value: {no_such_field: 1}}
          - applyTo: HTTP_FILTER
            patch:
              operation: ADD
              value: {name: lua, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua}}
          - applyTo: NETWORK_FILTER
            patch:
              operation: ADD
              value: {name: hcm, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, server_nam: x}}
          - applyTo: BOOTSTRAP
            patch: {operation: MERGE, value: {}}
          - applyTo: CLUSTER
            patch: {operation: INSERT_FIRST, value: {name: x}}
          - applyTo: CLUSTER
            patch: {operation: MERGE, value: {per_connection_buffer_limit_bytes: 7}}
        """)
        let patches = try Self.patches(yaml)
        let text = patches.diagnostics.map(\.description)
        #expect(text.count == 5, "\(text)")
        #expect(text[0] == "EnvoyFilter bookinfo/broken: spec.configPatches[0].patch.value.no_such_field: unknown field: envoy.config.cluster.v3.Cluster in SwiftMesh's protos has no such field; patch skipped")
        #expect(text[1].contains("spec.configPatches[1].patch.value.typed_config.@type: type envoy.extensions.filters.http.lua.v3.Lua is not among the Envoy messages SwiftMesh carries"))
        #expect(text[2].contains("spec.configPatches[2].patch.value.typed_config.server_nam: unknown field: envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"))
        #expect(text[3].contains("spec.configPatches[3].applyTo: applyTo BOOTSTRAP is not supported by SwiftMesh"))
        #expect(text[4].contains("spec.configPatches[4].patch.operation: operation INSERT_FIRST does not apply to CLUSTER"))
        #expect(patches.patchClusters([.with { $0.name = "c" }])[0].perConnectionBufferLimitBytes.value == 7, "the valid patch still applies")
        #expect(EnvoyFilterPatches.diagnostics(in: try Self.snapshot(yaml)) == patches.diagnostics)
        #expect(patches.patchListeners([Self.listener("l", port: 1, chains: [.with { $0.filters = [Self.hcm(["r"])] }])])[0].filterChains[0].filters.count == 1)
    }

    @Test func noFiltersMeansResourcesUnchanged() throws {
        let patches = EnvoyFilterPatches(snapshot: MeshSnapshot(resources: []), proxy: try Self.proxy())
        let routes = [Self.routes()]
        #expect(patches.isEmpty && patches.patchRouteConfigurations(routes) == routes)
    }

    // MARK: message list

    @Test func messageListCoversEveryGeneratedMessage() throws {
        let generated = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/MeshXDS/Generated").standardized
        var names = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: generated.path) where file.hasSuffix(".pb.swift") {
            let text = try String(contentsOf: generated.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains(": SwiftProtobuf.Message,") && line.contains("extension ") {
                let afterExtension = line.split(separator: " ").drop { $0 != "extension" }.dropFirst().first ?? ""
                names.insert(String(afterExtension.dropLast()))
            }
        }
        let listed = Set(EnvoyMessageTypes.all.map { String(reflecting: $0) }.filter { $0.hasPrefix("MeshXDS.") }.map { String($0.dropFirst("MeshXDS.".count)) })
        #expect(!names.isEmpty && names == listed, "run Scripts/list-generated-messages; missing: \(names.subtracting(listed).sorted()), extra: \(listed.subtracting(names).sorted())")
    }
}
