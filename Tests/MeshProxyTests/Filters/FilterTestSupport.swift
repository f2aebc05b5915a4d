import Logging
import MeshXDS
@testable import MeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// Runs HTTP filters inside a real HTTP connection manager on an `EmbeddedChannel`. The last
/// filter before the router is an echo filter: it answers 200 with the request headers it
/// received (after the filters under test) and the stream's dynamic metadata, so a test sees
/// exactly what an upstream would get and what later filters would read.
enum FilterTestSupport {
    typealias HTTPFilterProto = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter

    /// Answers every request that reaches it with its headers and the dynamic metadata.
    final class EchoFilter: HTTPFilter {
        func decodeHeaders(_ head: inout HTTPRequestHead, endOfStream: Bool, context: HTTPFilterContext) -> HTTPFilterStatus {
            var lines = ["uri: \(head.uri)"]
            for (name, value) in head.headers { lines.append("\(name.lowercased()): \(value)") }
            var options = JSONEncodingOptions()
            options.useDeterministicOrdering = true
            for (namespace, value) in context.allDynamicMetadata.sorted(by: { $0.key < $1.key }) {
                lines.append("metadata \(namespace): \((try? value.jsonString(options: options)) ?? "?")")
            }
            context.sendLocalReply(HTTPLocalReply(status: .ok, body: lines.joined(separator: "\n"), details: "echo"))
            return .stopIteration
        }
    }

    struct EchoFilterFactory: HTTPFilterFactory {
        static let typeURL = "type.googleapis.com/google.protobuf.Empty"
        init(config: Google_Protobuf_Any) throws {}
        func makeFilter() -> any HTTPFilter { EchoFilter() }
    }

    static var registry: HTTPFilterRegistry {
        var registry = HTTPFilterRegistry.standard
        registry.register(EchoFilterFactory.self)
        return registry
    }

    static func filter(_ name: String, _ message: any SwiftProtobuf.Message) throws -> HTTPFilterProto {
        var filter = HTTPFilterProto()
        filter.name = name
        filter.typedConfig = try Google_Protobuf_Any(message: message)
        return filter
    }

    /// A route table: `/` to a direct response (never reached: the echo filter answers first), with
    /// extra routes given as JSON objects.
    static func routes(_ extraRoutes: [String] = []) throws -> Envoy_Config_Route_V3_RouteConfiguration {
        let routes = (extraRoutes + [#"{"name": "default", "match": {"prefix": "/"}, "direct_response": {"status": 599}}"#]).joined(separator: ",")
        return try Envoy_Config_Route_V3_RouteConfiguration(jsonString: """
            {"name": "inline", "virtual_hosts": [{"name": "vh", "domains": ["*"], "routes": [\(routes)]}]}
            """)
    }

    /// A connection manager running `filters`, then the echo filter (unless `echo` is false, so
    /// that the route answers) and the router.
    static func manager(_ filters: [HTTPFilterProto], routes: Envoy_Config_Route_V3_RouteConfiguration? = nil, registry: HTTPFilterRegistry = FilterTestSupport.registry,
                        echo: Bool = true,
                        configure: (inout Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager) -> Void = { _ in })
        throws -> (HTTPConnectionManagerRuntime, StatsStore) {
        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try routes ?? Self.routes()
        hcm.httpFilters = filters + (echo ? [try filter("echo", Google_Protobuf_Empty())] : [])
            + [try filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        configure(&hcm)
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: registry)
        return try runtime(configuration)
    }

    static func runtime(_ configuration: HTTPConnectionManagerConfiguration) throws -> (HTTPConnectionManagerRuntime, StatsStore) {
        let stats = StatsStore()
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: ProxyStateStore(), stats: stats, bufferLimit: 1 << 20, logger: Logger(label: "test"))
        return (runtime, stats)
    }

    static func channel(_ runtime: HTTPConnectionManagerRuntime, peer: String = "10.1.2.3", local: String = "127.0.0.9", localPort: Int = 8000) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        channel.localAddress = try SocketAddress(ipAddress: local, port: localPort)
        try ResponseBytesDecoder.install(DownstreamHTTP1Handler(manager: runtime, isTLS: false), on: channel)
        try channel.connect(to: SocketAddress(ipAddress: peer, port: 40000)).wait()
        return channel
    }

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        /// The echoed request header (nil when the request did not reach the echo filter).
        func echoed(_ name: String) -> String? {
            guard status == 200 else { return nil }
            let prefix = name + ": "
            return body.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }

        func metadata(_ namespace: String) -> String? {
            let prefix = "metadata \(namespace): "
            return body.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
    }

    static func send(_ channel: EmbeddedChannel, _ path: String, method: HTTPMethod = .GET, host: String = "app.local", headers: [(String, String)] = []) throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        guard case .head(let response)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no response for \(path)")
            return Response(status: -1, headers: [:], body: "")
        }
        var body = ""
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
            if case .end = part { break }
        }
        return Response(status: Int(response.status.code), headers: response.headers, body: body)
    }

    static func counter(_ stats: StatsStore, _ name: String) -> Int {
        stats.counter(name, prometheus: .init(name: "unused", labels: [])).value
    }
}
