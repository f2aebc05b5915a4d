// A control plane built on MeshXDS's resource cache alone: no Istio model, no translation.
//
// It serves every connecting Envoy the same hand-built configuration: an HTTP listener that routes
// all requests to a set of upstream endpoints. With --rotate N it switches to the next upstream
// every N seconds, to show a push: each rotation sets a new snapshot in which only the endpoints
// changed, so connected proxies receive only EDS.
//
//   custom-control-plane --xds-address 127.0.0.1:18000 --listener 127.0.0.1:10000 \
//       --upstream 127.0.0.21:9080 --upstream 127.0.0.22:9080 [--rotate 5]
import ArgumentParser
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshXDS
import SwiftProtobuf

/// Every node gets the same snapshot: one cache key for all.
struct SharedSnapshotKey: NodeHash {
    func key(for node: Envoy_Config_Core_V3_Node) -> String { "all-proxies" }
}

@main
struct CustomControlPlane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custom-control-plane",
        abstract: "An xDS control plane on MeshXDS's snapshot cache, without any Istio model."
    )

    @Option(name: .customLong("xds-address"), help: "Where to serve ADS.")
    var xdsAddress = "127.0.0.1:18000"

    @Option(help: "The address proxies listen on for HTTP (HOST:PORT).")
    var listener = "127.0.0.1:10000"

    @Option(help: "An upstream endpoint (HOST:PORT); repeat for several.")
    var upstream: [String] = []

    @Option(help: "Seconds between rotating the upstream set (0: never).")
    var rotate = 0

    func run() async throws {
        guard !upstream.isEmpty else { throw ValidationError("give at least one --upstream HOST:PORT") }
        let (xdsHost, xdsPort) = try Self.split(xdsAddress)
        let (listenHost, listenPort) = try Self.split(listener)
        let upstreams = try upstream.map(Self.split)

        let cache = SnapshotCache(nodeHash: SharedSnapshotKey())
        try await cache.setSnapshot(Self.snapshot(version: 1, listen: (listenHost, listenPort), upstreams: upstreams), for: "all-proxies")
        let ads = AggregatedDiscoveryServer(watcher: cache)
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: xdsHost, port: xdsPort), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [ads])
        print("custom-control-plane: ADS on \(xdsHost):\(xdsPort), proxies listen on \(listenHost):\(listenPort) -> \(upstream.joined(separator: ", "))")

        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            if rotate > 0, upstreams.count > 1 {
                group.addTask {
                    var version = 1
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(rotate))
                        version += 1
                        // Only the endpoints change, so proxies receive only EDS.
                        let active = Array(upstreams[(version - 1) % upstreams.count...(version - 1) % upstreams.count])
                        try await cache.setSnapshot(Self.snapshot(version: version, listen: (listenHost, listenPort), upstreams: active), for: "all-proxies")
                        print("custom-control-plane: version \(version): upstream \(active.map { "\($0.0):\($0.1)" }.joined())")
                    }
                }
            }
        }
    }

    static func split(_ address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("expected HOST:PORT, got \"\(address)\"")
        }
        return (String(address[..<colon]), port)
    }

    /// The whole configuration: CDS `upstream` (EDS), its endpoints, LDS `http` and RDS `local`.
    /// Types other than EDS keep version 1 so a rotation pushes endpoints only.
    static func snapshot(version: Int, listen: (String, Int), upstreams: [(String, Int)]) throws -> Snapshot {
        let ads = Envoy_Config_Core_V3_ConfigSource.with { $0.ads = .init(); $0.resourceApiVersion = .v3 }
        let cluster = Envoy_Config_Cluster_V3_Cluster.with {
            $0.name = "upstream"
            $0.type = .eds
            $0.connectTimeout = .init(seconds: 1)
            $0.edsClusterConfig = .with { $0.edsConfig = ads }
        }
        let endpoints = Envoy_Config_Endpoint_V3_ClusterLoadAssignment.with {
            $0.clusterName = "upstream"
            $0.endpoints = [.with {
                $0.lbEndpoints = upstreams.map { host, port in
                    .with { $0.endpoint = .with { $0.address = .with { $0.socketAddress = .with { $0.address = host; $0.portValue = UInt32(port) } } } }
                }
            }]
        }
        let routes = Envoy_Config_Route_V3_RouteConfiguration.with {
            $0.name = "local"
            $0.virtualHosts = [.with {
                $0.name = "all"
                $0.domains = ["*"]
                $0.routes = [.with {
                    $0.match = .with { $0.prefix = "/" }
                    $0.route = .with { $0.cluster = "upstream" }
                }]
            }]
        }
        let hcm = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.with {
            $0.statPrefix = "http"
            $0.rds = .with { $0.configSource = ads; $0.routeConfigName = "local" }
            $0.httpFilters = [try .with {
                $0.name = "envoy.filters.http.router"
                $0.typedConfig = try Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
            }]
        }
        let listener = try Envoy_Config_Listener_V3_Listener.with {
            $0.name = "http"
            $0.address = .with { $0.socketAddress = .with { $0.address = listen.0; $0.portValue = UInt32(listen.1) } }
            $0.filterChains = [try .with {
                $0.filters = [try .with {
                    $0.name = "envoy.filters.network.http_connection_manager"
                    $0.typedConfig = try Google_Protobuf_Any(message: hcm)
                }]
            }]
        }
        var snapshot = try Snapshot(version: "1", clusters: [cluster], listeners: [listener], routes: [routes])
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "\(version)", messages: [endpoints])
        return snapshot
    }
}
