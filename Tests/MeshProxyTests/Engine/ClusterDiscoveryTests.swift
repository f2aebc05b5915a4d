@testable import MeshProxy
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@Suite struct ClusterDiscoveryTests {
    private static func dnsCluster(_ type: String, _ extra: String = "", hosts: [String], port: Int = 8080) throws -> ClusterConfiguration {
        let endpoints = hosts.map { #"{"endpoint":{"address":{"socket_address":{"address":"\#($0)","port_value":\#(port)}}}}"# }.joined(separator: ",")
        return try ClusterConfiguration(Fixtures.cluster(#"{"name":"ext","type":"\#(type)"\#(extra),"load_assignment":{"cluster_name":"ext","endpoints":[{"lb_endpoints":[\#(endpoints)]}]}}"#))
    }

    // MARK: Conversion

    @Test(arguments: [
        ("AUTO", ClusterConfiguration.DNSLookupFamily.auto), ("V4_ONLY", .v4Only), ("V6_ONLY", .v6Only),
        ("V4_PREFERRED", .v4Preferred), ("ALL", .all),
    ])
    func lookupFamilyAndRefreshRate(name: String, family: ClusterConfiguration.DNSLookupFamily) throws {
        for type in ["STRICT_DNS", "LOGICAL_DNS"] {
            let configuration = try Self.dnsCluster(type, #","dns_lookup_family":"\#(name)","dns_refresh_rate":"2s""#, hosts: ["svc.example.com"])
            #expect(configuration.discovery.dnsResolution?.1 == ClusterConfiguration.DNSResolution(lookupFamily: family, refreshRate: .seconds(2)))
            #expect(configuration.discovery.dnsResolution?.logical == (type == "LOGICAL_DNS"))
        }
    }

    @Test func originalDestinationOptions() throws {
        let configuration = try ClusterConfiguration(Fixtures.cluster(#"""
            {"name":"PassthroughCluster","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","cleanup_interval":"30s",
             "original_dst_lb_config":{"use_http_header":true,"http_header_name":"X-Dest"}}
            """#))
        #expect(configuration.discovery == .originalDestination)
        #expect(configuration.cleanupInterval == .seconds(30))
        #expect(configuration.originalDestination == .init(useHTTPHeader: true, httpHeaderName: "x-dest"))
        let defaults = try ClusterConfiguration(Fixtures.cluster(#"{"name":"o","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED"}"#))
        #expect(defaults.originalDestination == .init())
        #expect(defaults.cleanupInterval == .seconds(5))
    }

    @Test func unusableDiscoverySettingsAreRejectedNamingTheField() throws {
        let cases: [(String, String)] = [
            (#"{"name":"c","type":"STRICT_DNS","lb_policy":"ROUND_ROBIN","original_dst_lb_config":{"use_http_header":true}}"#, "original_dst_lb_config"),
            (#"{"name":"c","type":"STRICT_DNS","load_assignment":{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"pipe":{"path":"/tmp/s"}}}}]}]}}"#, "load_assignment"),
            (#"{"name":"c","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED","original_dst_lb_config":{"upstream_port_override":70000}}"#, "original_dst_lb_config.upstream_port_override"),
        ]
        for (json, field) in cases {
            #expect(throws: ProxyConfigurationError.self) { try ClusterConfiguration(Fixtures.cluster(json)) }
            do { _ = try ClusterConfiguration(Fixtures.cluster(json)) } catch let error as ProxyConfigurationError {
                #expect(error.field == field)
                #expect(error.resourceName == "c")
            }
        }
    }

    // MARK: DNS

    @Test func lookupFamilyRules() {
        let answer = ["::1", "127.0.0.1", "10.0.0.2", "fe80::1"]
        #expect(SystemHostResolver.select(answer, family: .v4Only) == ["127.0.0.1", "10.0.0.2"])
        #expect(SystemHostResolver.select(answer, family: .v6Only) == ["::1", "fe80::1"])
        #expect(SystemHostResolver.select(answer, family: .auto) == ["::1", "fe80::1"])
        #expect(SystemHostResolver.select(["10.0.0.1"], family: .auto) == ["10.0.0.1"])
        #expect(SystemHostResolver.select(answer, family: .v4Preferred) == ["127.0.0.1", "10.0.0.2"])
        #expect(SystemHostResolver.select(["::1"], family: .v4Preferred) == ["::1"])
        #expect(SystemHostResolver.select(answer, family: .all) == ["127.0.0.1", "10.0.0.2", "::1", "fe80::1"])
    }

    @Test func strictDNSMakesEveryAddressAHostAndLogicalDNSTheFirst() async throws {
        let answers: [String: [String]] = ["a.example.com": ["10.0.0.1", "10.0.0.2"], "b.example.com": ["10.0.1.1"]]
        let strict = ClusterRuntime(configuration: try Self.dnsCluster("STRICT_DNS", hosts: ["a.example.com", "b.example.com"]), endpoints: nil, resolvesDNS: false)
        defer { strict.shutdown() }
        #expect(await strict.refreshDNS(resolver: { name, _ in answers[name] ?? [] }) == Duration.seconds(5))
        #expect(strict.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.1", port: 8080), .socket(host: "10.0.0.2", port: 8080), .socket(host: "10.0.1.1", port: 8080)])
        #expect(strict.upstream.hosts.map(\.hostname) == ["a.example.com", "a.example.com", "b.example.com"])

        let logical = ClusterRuntime(configuration: try Self.dnsCluster("LOGICAL_DNS", hosts: ["a.example.com"]), endpoints: nil, resolvesDNS: false)
        defer { logical.shutdown() }
        await logical.refreshDNS(resolver: { name, _ in answers[name] ?? [] })
        #expect(logical.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.1", port: 8080)])
        // New connections use the latest answer.
        await logical.refreshDNS(resolver: { _, _ in ["10.0.0.9", "10.0.0.1"] })
        #expect(logical.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.9", port: 8080)])
        let chosen = try #require(logical.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil))
        #expect(chosen.key == UpstreamEndpointKey(host: "10.0.0.9", port: 8080))
    }

    @Test func failedResolutionKeepsTheLastHosts() async throws {
        let runtime = ClusterRuntime(configuration: try Self.dnsCluster("STRICT_DNS", #","dns_refresh_rate":"1s""#, hosts: ["a.example.com"]), endpoints: nil, resolvesDNS: false)
        defer { runtime.shutdown() }
        await runtime.refreshDNS(resolver: { _, _ in ["10.0.0.1"] })
        #expect(await runtime.refreshDNS(resolver: { _, _ in [] }) == Duration.seconds(1))
        #expect(runtime.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.1", port: 8080)])
        await runtime.refreshDNS(resolver: { _, _ in ["10.0.0.2"] })
        #expect(runtime.upstream.hosts.map(\.address) == [.socket(host: "10.0.0.2", port: 8080)])
    }

    @Test func theFamilyIsPassedToTheResolver() async throws {
        let runtime = ClusterRuntime(configuration: try Self.dnsCluster("STRICT_DNS", #","dns_lookup_family":"V6_ONLY""#, hosts: ["a.example.com"]), endpoints: nil, resolvesDNS: false)
        defer { runtime.shutdown() }
        let asked = Mutex<[ClusterConfiguration.DNSLookupFamily]>([])
        await runtime.refreshDNS(resolver: { _, family in asked.withLock { $0.append(family) }; return ["::1"] })
        #expect(asked.withLock { $0 } == [.v6Only])
        #expect(runtime.upstream.hosts.map(\.address) == [.socket(host: "::1", port: 8080)])
    }

    @Test func localhostResolvesThroughTheSystemResolver() async throws {
        #expect(await SystemHostResolver.resolve("localhost", family: .v4Only).contains("127.0.0.1"))
        #expect(await SystemHostResolver.resolve("127.0.0.7", family: .auto) == ["127.0.0.7"])

        let runtime = ClusterRuntime(configuration: try Self.dnsCluster("STRICT_DNS", #","dns_lookup_family":"V4_ONLY""#, hosts: ["localhost"], port: 9080), endpoints: nil, resolvesDNS: false)
        defer { runtime.shutdown() }
        await runtime.refreshDNS()
        #expect(runtime.upstream.hosts.map(\.address).contains(.socket(host: "127.0.0.1", port: 9080)))
        #expect(runtime.upstream.hosts.allSatisfy { $0.hostname == "localhost" })
    }

    @Test func theRefreshLoopResolvesWithoutBeingAsked() async throws {
        let runtime = ClusterRuntime(configuration: try Self.dnsCluster("STRICT_DNS", #","dns_lookup_family":"V4_ONLY""#, hosts: ["localhost"], port: 9080), endpoints: nil)
        defer { runtime.shutdown() }
        // The loop started by init replaces the hostname with its address; bounded wait.
        for _ in 0..<200 where !runtime.upstream.hosts.contains(where: { $0.address == .socket(host: "127.0.0.1", port: 9080) }) {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(runtime.upstream.hosts.contains { $0.address == .socket(host: "127.0.0.1", port: 9080) })
    }

    // MARK: ORIGINAL_DST

    private static func originalDestination(_ options: String = "") throws -> ClusterRuntime {
        ClusterRuntime(configuration: try ClusterConfiguration(Fixtures.cluster(#"{"name":"PassthroughCluster","type":"ORIGINAL_DST","lb_policy":"CLUSTER_PROVIDED"\#(options)}"#)), endpoints: nil)
    }

    @Test func originalDestinationIsTheDownstreamLocalAddress() throws {
        let runtime = try Self.originalDestination()
        let local = try SocketAddress(ipAddress: "127.0.0.5", port: 9080)
        var headers = HTTPHeaders()
        headers.add(name: "x-envoy-original-dst-host", value: "127.0.0.9:80")
        // Without use_http_header the header is ignored.
        let handle = try #require(runtime.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil, downstream: DownstreamDestination(localAddress: local, headers: headers)))
        #expect(handle.key == UpstreamEndpointKey(host: "127.0.0.5", port: 9080))
        let again = try #require(runtime.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil, downstream: DownstreamDestination(localAddress: local)))
        #expect(again.host === handle.host)
        #expect(runtime.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil)?.key == nil)
    }

    @Test func originalDestinationFromTheHeader() throws {
        let runtime = try Self.originalDestination(#","original_dst_lb_config":{"use_http_header":true}"#)
        let local = try SocketAddress(ipAddress: "127.0.0.5", port: 15001)
        func choose(_ values: [String]) -> UpstreamEndpointKey? {
            var headers = HTTPHeaders()
            for value in values { headers.add(name: "X-Envoy-Original-Dst-Host", value: value) }
            return runtime.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil, downstream: DownstreamDestination(localAddress: local, headers: headers))?.key
        }
        #expect(choose(["127.0.0.9:8080"]) == UpstreamEndpointKey(host: "127.0.0.9", port: 8080))
        #expect(choose(["[::1]:9090"]) == UpstreamEndpointKey(host: "::1", port: 9090))
        // No header: the connection's destination.
        #expect(choose([]) == UpstreamEndpointKey(host: "127.0.0.5", port: 15001))
        // A present but unusable header yields no host, as in Envoy.
        #expect(choose(["example.com:80"]) == nil)
        #expect(choose(["127.0.0.9"]) == nil)
        #expect(choose(["127.0.0.9:80", "127.0.0.8:80"]) == nil)

        let named = try Self.originalDestination(#","original_dst_lb_config":{"use_http_header":true,"http_header_name":"x-dest"}"#)
        var headers = HTTPHeaders()
        headers.add(name: "x-dest", value: "127.0.0.3:81")
        #expect(named.chooseHost(hash: nil, excluding: [], maxSelectionAttempts: 1, authority: nil, downstream: DownstreamDestination(localAddress: local, headers: headers))?.key == UpstreamEndpointKey(host: "127.0.0.3", port: 81))
    }
}
