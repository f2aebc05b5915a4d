import Foundation
import MeshXDS
import NIOHTTP1
import SwiftProtobuf
import Testing
@testable import MeshProxy

/// Builds route tables from proto JSON, the same text the golden files and Envoy configs use.
enum RoutingFixture {
    /// A route configuration from JSON.
    static func config(_ json: String) throws -> Envoy_Config_Route_V3_RouteConfiguration {
        EnvoyAnyTypes.register()
        return try Envoy_Config_Route_V3_RouteConfiguration(jsonString: json)
    }

    /// A table from a route configuration's JSON.
    static func table(_ json: String) throws -> RouteTable {
        try RouteTable(config(json))
    }

    /// A table with one virtual host for `*` holding `routes` (a JSON array body).
    static func table(routes: String, vhostExtra: String = "", configExtra: String = "") throws -> RouteTable {
        try table("""
        {"name": "test", \(configExtra.isEmpty ? "" : configExtra + ",")
         "virtual_hosts": [{"name": "vh", "domains": ["*"], \(vhostExtra.isEmpty ? "" : vhostExtra + ",") "routes": [\(routes)]}]}
        """)
    }

    /// A table with one route `{"match": match, "route": {"cluster": "c"}}`.
    static func table(match: String) throws -> RouteTable {
        try table(routes: #"{"match": \#(match), "route": {"cluster": "c"}}"#)
    }

    /// The error a configuration fails with, or nil when it compiles.
    static func error(_ json: String) throws -> ProxyConfigurationError? {
        let config = try config(json)
        do {
            _ = try RouteTable(config)
            return nil
        } catch {
            return error
        }
    }

    /// The error for one route body in a `*` virtual host.
    static func error(route: String) throws -> ProxyConfigurationError? {
        try error(#"{"name": "test", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [\#(route)]}]}"#)
    }

    /// A request.
    static func request(
        _ path: String,
        method: String = "GET",
        authority: String = "example.com",
        headers: [(String, String)] = [],
        scheme: String = "http",
        random: UInt64 = 0
    ) -> RouteRequest {
        RouteRequest(method: method, path: path, authority: authority, headers: HTTPHeaders(headers), scheme: scheme, randomValue: random)
    }
}

extension RouteMatchResult {
    /// The forward action, failing the test otherwise.
    var forward: ForwardAction? {
        if case .forward(let forward) = route.action { return forward }
        return nil
    }

    /// The single cluster a forward action names.
    var clusterName: String? {
        guard let forward else { return nil }
        if case .cluster(let name) = forward.clusterSpecifier { return name }
        return nil
    }
}
