import Logging
import MeshXDS
@testable import MeshProxy
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf
import Testing

/// `remote_jwks` over real loopback sockets: a small HTTP server serves the JWKS, the proxy's
/// own cluster runtime fetches it, and a connection manager with `jwt_authn` (then the echo
/// filter) answers real HTTP/1.1 clients.
@Suite struct RemoteJWKSTests {
    typealias JWTConfig = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication

    /// What the JWKS server answers.
    enum Mode: Sendable {
        case jwks(String)
        case status(Int)
        /// 503 for the first `count` requests, then the JWKS.
        case failFirst(Int, String)
        /// Never answers.
        case silent
    }

    /// A loopback HTTP/1.1 server that answers every request according to its mode, holding
    /// answers while its gate is closed; it records the requests it saw.
    final class JWKSServer: Sendable {
        let channel: any Channel
        let mode: NIOLockedValueBox<Mode>
        let requests: NIOLockedValueBox<[HTTPRequestHead]>
        let gate: NIOLockedValueBox<(open: Bool, held: [@Sendable () -> Void])>
        var port: Int { channel.localAddress!.port! }

        init(group: any EventLoopGroup, mode: Mode) async throws {
            let mode = NIOLockedValueBox(mode)
            let requests = NIOLockedValueBox<[HTTPRequestHead]>([])
            let gate = NIOLockedValueBox<(open: Bool, held: [@Sendable () -> Void])>((true, []))
            self.mode = mode
            self.requests = requests
            self.gate = gate
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(Handler(mode: mode, requests: requests, gate: gate))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func close() async { try? await channel.close() }

        var requestCount: Int { requests.withLockedValue { $0.count } }

        func closeGate() { gate.withLockedValue { $0.open = false } }

        func openGate() {
            let held = gate.withLockedValue { gate in
                gate.open = true
                defer { gate.held = [] }
                return gate.held
            }
            for answer in held { answer() }
        }

        final class Handler: ChannelInboundHandler, Sendable {
            typealias InboundIn = HTTPServerRequestPart
            typealias OutboundOut = HTTPServerResponsePart
            let mode: NIOLockedValueBox<Mode>
            let requests: NIOLockedValueBox<[HTTPRequestHead]>
            let gate: NIOLockedValueBox<(open: Bool, held: [@Sendable () -> Void])>

            init(mode: NIOLockedValueBox<Mode>, requests: NIOLockedValueBox<[HTTPRequestHead]>, gate: NIOLockedValueBox<(open: Bool, held: [@Sendable () -> Void])>) {
                self.mode = mode
                self.requests = requests
                self.gate = gate
            }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                guard case .head(let head) = unwrapInboundIn(data) else { return }
                let seen = requests.withLockedValue { $0.append(head); return $0.count }
                let status: HTTPResponseStatus
                let body: String
                switch mode.withLockedValue({ $0 }) {
                case .jwks(let jwks): (status, body) = (.ok, jwks)
                case .status(let code): (status, body) = (HTTPResponseStatus(statusCode: code), "")
                case .failFirst(let count, let jwks): (status, body) = seen <= count ? (.serviceUnavailable, "busy") : (.ok, jwks)
                case .silent: return
                }
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let answer: @Sendable () -> Void = {
                    loop.execute {
                        let context = bound.value
                        var response = HTTPResponseHead(version: .http1_1, status: status)
                        response.headers.add(name: "content-length", value: String(body.utf8.count))
                        context.write(self.wrapOutboundOut(.head(response)), promise: nil)
                        if !body.isEmpty { context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
                        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                    }
                }
                let now = gate.withLockedValue { gate in
                    if !gate.open { gate.held.append(answer) }
                    return gate.open
                }
                if now { answer() }
            }
        }
    }

    /// A proxy listener on loopback: `jwt_authn` with one remote provider, then the echo filter.
    struct Proxy {
        let channel: any Channel
        let stats: StatsStore
        let factory: JWTAuthnFilterFactory
        var port: Int { channel.localAddress!.port! }
        var source: RemoteJWKSSource { factory.remoteSources[0] }
    }

    static func remoteConfig(
        port: Int, cluster: String = "jwks", timeout: String = "5s", extra: String = "", requirement: String = #"{"provider_name": "remote"}"#
    ) throws -> JWTConfig {
        try JWTConfig(jsonString: """
            {"providers": {"remote": {"issuer": "\(JWTAuthnFilterTests.issuer)", "audiences": ["httpbin"], "payload_in_metadata": "\(JWTAuthnFilterTests.issuer)",
                                      "remote_jwks": {"http_uri": {"uri": "http://keys.test:\(port)/keys/jwks.json?v=1", "cluster": "\(cluster)", "timeout": "\(timeout)"}\(extra)}}},
             "rules": [{"match": {"prefix": "/"}, "requires": \(requirement)}]}
            """)
    }

    static func jwksCluster(port: Int) throws -> ClusterRuntime {
        ClusterRuntime(configuration: try ClusterConfiguration(Fixtures.cluster("""
            {"name": "jwks", "type": "STATIC", "connect_timeout": "1s", "load_assignment": {"cluster_name": "jwks", "endpoints": [{"lb_endpoints": [
              {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \(port)}}}}]}]}}
            """)), endpoints: nil)
    }

    /// The JWT filter, then (with `echo`) the echo filter, then the router over `routes`.
    static func proxy(_ config: JWTConfig, clusters: [ClusterRuntime], group: any EventLoopGroup,
                      routes: Envoy_Config_Route_V3_RouteConfiguration? = nil, echo: Bool = true) async throws -> Proxy {
        EnvoyAnyTypes.register()
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "test"
        hcm.routeConfig = try routes ?? FilterTestSupport.routes()
        hcm.httpFilters = [try FilterTestSupport.filter("envoy.filters.http.jwt_authn", config)]
            + (echo ? [try FilterTestSupport.filter("echo", Google_Protobuf_Empty())] : [])
            + [try FilterTestSupport.filter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())]
        let configuration = try HTTPConnectionManagerConfiguration(hcm, field: "hcm", context: ConfigurationContext(resourceType: "Listener", resourceName: "test"), registry: FilterTestSupport.registry)
        let state = ProxyStateStore()
        state.update { state in for cluster in clusters { state.clusters[cluster.name] = cluster } }
        let stats = StatsStore()
        let runtime = try HTTPConnectionManagerRuntime(configuration: configuration, state: state, stats: stats, bufferLimit: 1 << 20, logger: Logger(label: "test"))
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.configureDownstreamHTTP1(manager: runtime, isTLS: false) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let factory = try #require(configuration.filters.first?.factory as? JWTAuthnFilterFactory)
        return Proxy(channel: channel, stats: stats, factory: factory)
    }

    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    /// One request on a new connection.
    static func get(_ port: Int, _ path: String = "/x", headers: [(String, String)] = [], group: any EventLoopGroup) async throws -> Response {
        let promise = group.next().makePromise(of: Response.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "host", value: "app.local")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        let response = try await promise.futureResult.get()
        try? await channel.close()
        return response
    }

    final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Response>
        var response: Response?
        var done = false
        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): response = Response(status: Int(head.status.code), headers: head.headers, body: "")
            case .body(let buffer): response?.body += String(buffer: buffer)
            case .end:
                if let response, !done {
                    done = true
                    promise.succeed(response)
                }
                response = nil
            }
        }

        func channelInactive(context: ChannelHandlerContext) { fail(ChannelError.eof) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { fail(error) }

        private func fail(_ error: any Error) {
            guard !done else { return }
            done = true
            promise.fail(error)
        }
    }

    static func token(_ keys: JWTAuthnFilterTests.Keys, audience: String = "httpbin") throws -> [(String, String)] {
        JWTAuthnFilterTests.bearer(try keys.token(["sub": "alice", "aud": audience, "exp": JWTAuthnFilterTests.now + 600], alg: "RS256", kid: "rsa"))
    }

    static func withGroup(_ body: (MultiThreadedEventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        do {
            try await body(group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    // MARK: Configuration

    @Test func settingsFollowEnvoysDefaultsAndValidation() throws {
        let settings = try RemoteJWKSSource.Settings(try Envoy_Extensions_Filters_Http_JwtAuthn_V3_RemoteJwks(jsonString: """
            {"http_uri": {"uri": "https://keys.test:8443/a/jwks?x=1#frag", "cluster": "c", "timeout": "2s"}}
            """), field: "p")
        #expect(settings.authority == "keys.test:8443")
        #expect(settings.path == "/a/jwks?x=1")
        #expect(settings.timeout == .seconds(2))
        #expect(settings.cacheDuration == .seconds(600))
        #expect(settings.asyncFetch == nil && settings.retry == nil)
        let bare = try RemoteJWKSSource.Settings(try Envoy_Extensions_Filters_Http_JwtAuthn_V3_RemoteJwks(jsonString: """
            {"http_uri": {"uri": "http://keys.test", "cluster": "c", "timeout": "0s"}, "cache_duration": "30s",
             "async_fetch": {"fast_listener": true}, "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "0.1s"}}}
            """), field: "p")
        #expect(bare.path == "/" && bare.timeout == nil && bare.cacheDuration == .seconds(30))
        #expect(bare.asyncFetch?.fastListener == true && bare.asyncFetch?.failedRefetch == .seconds(1))
        #expect(bare.retry?.numRetries == 3 && bare.retry?.baseInterval == .milliseconds(100) && bare.retry?.maxInterval == .seconds(1))
        for bad in [#"{"http_uri": {"uri": "http://keys.test/", "cluster": "c"}}"#, #"{"http_uri": {"uri": "keys.test/jwks", "cluster": "c", "timeout": "1s"}}"#,
                    #"{"http_uri": {"uri": "http://keys.test/", "timeout": "1s"}}"#] {
            #expect(throws: FilterConfigurationError.self, "\(bad)") {
                _ = try RemoteJWKSSource.Settings(try Envoy_Extensions_Filters_Http_JwtAuthn_V3_RemoteJwks(jsonString: bad), field: "p")
            }
        }
        let split = RemoteJWKSSource.Settings.split("http://[::1]:80")
        #expect(split?.authority == "[::1]:80" && split?.path == "/")
    }

    // MARK: Fetching

    @Test func keysAreFetchedOnceThroughTheClusterAndShared() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .jwks(keys.jwks))
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port), clusters: [try Self.jwksCluster(port: server.port)], group: group)
            for _ in 0..<3 {
                let response = try await Self.get(proxy.port, headers: try Self.token(keys), group: group)
                #expect(response.status == 200, "\(response.body)")
                // Verified: the token is removed and the payload is in the metadata.
                #expect(!response.body.contains("authorization:"))
                #expect(response.body.contains(#""sub":"alice""#))
            }
            // A token signed by another key fails against the cached keys without a new fetch.
            let other = try JWTAuthnFilterTests.Keys()
            let forged = try await Self.get(proxy.port, headers: try Self.token(other), group: group)
            #expect(forged.status == 401)
            #expect(forged.body == "Jwt verification fails")
            // No token: the requirement fails without fetching anything.
            #expect(try await Self.get(proxy.port, group: group).status == 401)
            #expect(server.requestCount == 1)
            #expect(proxy.source.fetchCount == 1)
            let request = try #require(server.requests.withLockedValue { $0.first })
            #expect(request.method == .GET)
            #expect(request.uri == "/keys/jwks.json?v=1")
            #expect(request.headers.first(name: "host") == "keys.test:\(server.port)")
            #expect(FilterTestSupport.counter(proxy.stats, "http.test.jwt_authn.jwks_fetch_success") == 1)
            #expect(FilterTestSupport.counter(proxy.stats, "http.test.jwt_authn.jwks_fetch_failed") == 0)
            try await proxy.channel.close()
            await server.close()
        }
    }

    /// `clear_route_cache` when the token waited for its keys: the request resumes on the route
    /// that matches the verified payload, as it does once the keys are cached.
    @Test func aTokenVerifiedAfterAFetchHasTheRequestRoutedAgain() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .jwks(keys.jwks))
            let routes = try FilterTestSupport.routes([#"""
                {"name": "alice", "match": {"prefix": "/", "dynamic_metadata": [{"filter": "envoy.filters.http.jwt_authn",
                  "path": [{"key": "\#(JWTAuthnFilterTests.issuer)"}, {"key": "sub"}], "value": {"string_match": {"exact": "alice"}}}]},
                 "direct_response": {"status": 201}}
                """#])
            var config = try Self.remoteConfig(port: server.port)
            config.providers["remote"]?.clearRouteCache_p = true
            let proxy = try await Self.proxy(config, clusters: [try Self.jwksCluster(port: server.port)], group: group, routes: routes, echo: false)
            for _ in 0..<2 {
                let response = try await Self.get(proxy.port, headers: try Self.token(keys), group: group)
                #expect(response.status == 201, "\(response.body)")
            }
            #expect(proxy.source.fetchCount == 1)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func concurrentRequestsWaitForOneFetch() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .jwks(keys.jwks))
            server.closeGate()
            // The fetch is held until all four requests wait for it: a timeout that a loaded machine
            // cannot reach first.
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port, timeout: "60s"), clusters: [try Self.jwksCluster(port: server.port)], group: group)
            let headers = try Self.token(keys)
            try await withThrowingTaskGroup(of: Response.self) { tasks in
                for _ in 0..<4 { tasks.addTask { try await Self.get(proxy.port, headers: headers, group: group) } }
                // The requests wait for the held JWKS response.
                for _ in 0..<500 where server.requestCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(server.requestCount == 1)
                server.openGate()
                for try await response in tasks { #expect(response.status == 200, "\(response.body)") }
            }
            #expect(server.requestCount == 1)
            #expect(proxy.source.fetchCount == 1)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func expiredKeysAreFetchedAgain() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .jwks(keys.jwks))
            // Keys cached for no time at all expire before the next request.
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port, extra: #", "cache_duration": "0s""#),
                                             clusters: [try Self.jwksCluster(port: server.port)], group: group)
            for _ in 0..<2 { #expect(try await Self.get(proxy.port, headers: try Self.token(keys), group: group).status == 200) }
            #expect(server.requestCount == 2)
            #expect(proxy.source.fetchCount == 2)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func aFailedFetchFailsTheTokenAndIsNotCached() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .status(500))
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port), clusters: [try Self.jwksCluster(port: server.port)], group: group)
            let failed = try await Self.get(proxy.port, headers: try Self.token(keys), group: group)
            #expect(failed.status == 401)
            #expect(failed.body == "Jwks remote fetch is failed")
            #expect(failed.headers.first(name: "www-authenticate") == #"Bearer realm="http://app.local/x", error="invalid_token""#)
            // A 200 without usable keys fails too.
            server.mode.withLockedValue { $0 = .jwks(#"{"keys": [{"kty": "unknown"}]}"#) }
            #expect(try await Self.get(proxy.port, headers: try Self.token(keys), group: group).body == "Jwks remote fetch is failed")
            #expect(FilterTestSupport.counter(proxy.stats, "http.test.jwt_authn.jwks_fetch_failed") == 2)
            // The next request fetches again and succeeds.
            server.mode.withLockedValue { $0 = .jwks(keys.jwks) }
            #expect(try await Self.get(proxy.port, headers: try Self.token(keys), group: group).status == 200)
            #expect(server.requestCount == 3)
            #expect(FilterTestSupport.counter(proxy.stats, "http.test.jwt_authn.jwks_fetch_success") == 1)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func anUnknownClusterOrATimeoutFailsTheToken() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .silent)
            let unknown = try await Self.proxy(try Self.remoteConfig(port: server.port, cluster: "missing"), clusters: [], group: group)
            let response = try await Self.get(unknown.port, headers: try Self.token(keys), group: group)
            #expect(response.status == 401 && response.body == "Jwks remote fetch is failed")
            var config = try Self.remoteConfig(port: server.port)
            config.providers["remote"]!.remoteJwks.httpUri.timeout = .init(seconds: 0, nanos: 200_000_000)
            let silent = try await Self.proxy(config, clusters: [try Self.jwksCluster(port: server.port)], group: group)
            let timedOut = try await Self.get(silent.port, headers: try Self.token(keys), group: group)
            #expect(timedOut.status == 401 && timedOut.body == "Jwks remote fetch is failed")
            #expect(server.requestCount == 1)
            try await unknown.channel.close()
            try await silent.channel.close()
            await server.close()
        }
    }

    @Test func retryPolicyRetriesServerErrors() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .failFirst(2, keys.jwks))
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port, extra: #", "retry_policy": {"num_retries": 2, "retry_back_off": {"base_interval": "0.01s"}}"#),
                                             clusters: [try Self.jwksCluster(port: server.port)], group: group)
            #expect(try await Self.get(proxy.port, headers: try Self.token(keys), group: group).status == 200)
            #expect(server.requestCount == 3)
            #expect(proxy.source.fetchCount == 1)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func asyncFetchLoadsKeysBeforeTheFirstRequest() async throws {
        let keys = try JWTAuthnFilterTests.keys.get()
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .jwks(keys.jwks))
            let cluster = try Self.jwksCluster(port: server.port)
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port, extra: #", "async_fetch": {}"#), clusters: [cluster], group: group)
            let source = proxy.source
            #expect(source.holdsListenerWarming)
            #expect(source.currentKeys() == nil)
            source.startAsyncFetch(clusters: { $0 == "jwks" ? cluster : nil }, on: group.next())
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in source.whenAsyncFetchSettled { done.resume() } }
            #expect(source.currentKeys() != nil)
            #expect(server.requestCount == 1)
            // The request uses the keys fetched in the background.
            #expect(try await Self.get(proxy.port, headers: try Self.token(keys), group: group).status == 200)
            #expect(server.requestCount == 1)
            try await proxy.channel.close()
            await server.close()
        }
    }

    @Test func missingTokensNeverFetch() async throws {
        try await Self.withGroup { group in
            let server = try await JWKSServer(group: group, mode: .status(500))
            let proxy = try await Self.proxy(try Self.remoteConfig(port: server.port, requirement: #"{"requires_any": {"requirements": [{"provider_name": "remote"}, {"allow_missing": {}}]}}"#),
                                             clusters: [try Self.jwksCluster(port: server.port)], group: group)
            #expect(try await Self.get(proxy.port, group: group).status == 200)
            // A malformed token fails before keys are needed.
            #expect(try await Self.get(proxy.port, headers: [("authorization", "Bearer a.b")], group: group).status == 401)
            #expect(server.requestCount == 0)
            try await proxy.channel.close()
            await server.close()
        }
    }
}
