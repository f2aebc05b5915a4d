import Foundation
import MeshTestSupport
import Testing

/// VirtualService retries beyond 5xx, proven on sidecars driven by istiod — real Envoy and the
/// Swift proxy, one parameterised test: retries on a reset connection, on a refused connection with
/// Istio's `previous_hosts` predicate steering a hashed request away from the host that failed,
/// the retry circuit breaker (`maxRetries`), and `retryRemoteLocalities` moving retries to the
/// next locality (Envoy's `previous_priorities`). Each scenario prints what was asked and what was
/// measured.
@Suite(.serialized, .timeLimit(.minutes(6))) struct RetryEndToEndTests {
    static let namespace = TrafficPolicyEndToEndTests.namespace

    static func url(_ app: String, _ path: String) -> String { TrafficPolicyEndToEndTests.url(app, path) }

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func retriesBeyondFiveHundreds(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }

        let resetting = try await mesh.startEcho("resetting")
        let hashedLive = try await mesh.startEcho("hashed-live")
        // An endpoint nobody listens on any more: connecting to it is refused at once.
        let dead = try await mesh.startEcho("hashed-dead")
        await dead.process.forceKill()
        let breaker = try await mesh.startEcho("breaker")
        let geoLocal = try await mesh.startEcho("geo-local", arguments: ["--fail-status", "503"])
        let geoRemote = try await mesh.startEcho("geo-remote")

        let clientIP = LoopbackAddresses.next()
        let egressPort = try LoopbackNetwork.freePort(on: clientIP)
        let service = TrafficPolicyEndToEndTests.service, entries = TrafficPolicyEndToEndTests.entries
        let config = [
            service("resetting"), entries("resetting", [(resetting, [:], nil)]),
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: resetting, namespace: \(Self.namespace)}
            spec:
              hosts: [resetting]
              http:
              - match: [{uri: {prefix: /retried/}}]
                rewrite: {uri: /reset/}
                retries: {attempts: 3, retryOn: reset}
                route: [{destination: {host: resetting}}]
              - rewrite: {uri: /reset/}
                retries: {attempts: 0}
                route: [{destination: {host: resetting}}]
            """,
            service("hashed"), entries("hashed", [(hashedLive, [:], nil), (dead, [:], nil)]),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: hashed, namespace: \(Self.namespace)}
            spec:
              host: hashed
              trafficPolicy:
                loadBalancer: {consistentHash: {httpHeaderName: x-user}}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: hashed, namespace: \(Self.namespace)}
            spec:
              hosts: [hashed]
              http:
              - match: [{uri: {prefix: /other-host/}}]
                retries: {attempts: 2, retryOn: connect-failure, retryIgnorePreviousHosts: true}
                route: [{destination: {host: hashed}}]
              - match: [{uri: {prefix: /same-host/}}]
                retries: {attempts: 2, retryOn: connect-failure}
                route: [{destination: {host: hashed}}]
              - retries: {attempts: 0}
                route: [{destination: {host: hashed}}]
            """,
            service("breaker"), entries("breaker", [(breaker, [:], nil)]),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: breaker, namespace: \(Self.namespace)}
            spec:
              host: breaker
              trafficPolicy:
                connectionPool: {http: {maxRetries: 1}}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: breaker, namespace: \(Self.namespace)}
            spec:
              hosts: [breaker]
              http:
              - retries: {attempts: 1, retryOn: 5xx}
                route: [{destination: {host: breaker}}]
            """,
            service("geo"), entries("geo", [(geoLocal, [:], "us-east/zone-a"), (geoRemote, [:], "eu-west/zone-b")]),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: geo, namespace: \(Self.namespace)}
            spec:
              host: geo
              trafficPolicy:
                # Locality load balancing needs outlier detection; this one never ejects the failing
                # local endpoint, so only retries can leave its locality.
                outlierDetection: {consecutive5xxErrors: 100000, interval: 300s, baseEjectionTime: 1s}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: geo, namespace: \(Self.namespace)}
            spec:
              hosts: [geo]
              http:
              - match: [{uri: {prefix: /remote/}}]
                retries: {attempts: 2, retryOn: 5xx, retryRemoteLocalities: true}
                route: [{destination: {host: geo}}]
              - retries: {attempts: 2, retryOn: 5xx}
                route: [{destination: {host: geo}}]
            ---
            \(MeshYAML.egressSidecar(namespace: Self.namespace, bind: clientIP, port: egressPort))
            """,
        ]
        try mesh.write("mesh.yaml", config.joined(separator: "\n---\n"))
        let client = try await TrafficPolicyEndToEndTests.startZoneAClient(mesh, ip: clientIP)
        func get(_ app: String, _ path: String, headers: [(String, String)] = []) async -> LoopbackMesh.Response {
            await mesh.requestThroughProxy(client, port: egressPort, url: Self.url(app, path), headers: headers)
        }
        func stat(_ app: String, _ name: String) async -> Int {
            await mesh.stat(client, "cluster.\(TrafficPolicyEndToEndTests.cluster(app)).\(name)") ?? 0
        }
        var probes: [Int] = []
        let ready = await LoopbackMesh.eventually(timeout: .seconds(60)) {
            probes = [await get("resetting", "/0/ready").status, await get("breaker", "/").status, await get("geo", "/remote/ready").status]
            return probes == [200, 200, 200]
        }
        try #require(ready, "no traffic through the sidecar (last probes \(probes))\n\(mesh.diagnostics)")
        let run = UUID().uuidString.prefix(8)

        // 1. A connection closed before the response is retried under `reset`; without retries the
        // caller gets Envoy's 503 for a reset upstream.
        let retriesBefore = await stat("resetting", "upstream_rq_retry")
        let recovered = await LoopbackMesh.tally(10, key: { "\($0.status)" }) { await get("resetting", "/retried/2/\(run)-\(UUID().uuidString.prefix(6))") }
        let resetRetries = await stat("resetting", "upstream_rq_retry") - retriesBefore
        let unretried = await get("resetting", "/2/\(run)-once")
        print("reset: asked 3 retries on reset over an upstream resetting 2 attempts, measured \(recovered) (\(resetRetries) retries); "
              + "without retries measured \(unretried.status) \"\(unretried.body.prefix(90))\"")
        #expect(recovered == ["200": 10])
        #expect(resetRetries == 20, "two retries per request")
        #expect(unretried.status == 503 && unretried.body.contains("reset"), "\(unretried.status) \(unretried.body)")

        // 2. Consistent hashing pins a user to one host. For the users pinned to the host that
        // refuses connections, a retry on `connect-failure` succeeds only with
        // `retryIgnorePreviousHosts: true`, whose `previous_hosts` predicate makes the retry pick
        // another host; by default Istio leaves the predicate out for hashed destinations, so the
        // retry goes back to the same host and fails too.
        let users = (0..<24).map { "user-\($0)" }
        var failingWithoutRetries: Set<String> = [], failingOnSameHost: Set<String> = [], failingOnOtherHost: Set<String> = []
        for user in users {
            if await get("hashed", "/", headers: [("x-user", user)]).status != 200 { failingWithoutRetries.insert(user) }
            if await get("hashed", "/same-host/", headers: [("x-user", user)]).status != 200 { failingOnSameHost.insert(user) }
            if await get("hashed", "/other-host/", headers: [("x-user", user)]).status != 200 { failingOnOtherHost.insert(user) }
        }
        print("previous hosts: \(users.count) users hashed over a live and a refusing host; failed without retries \(failingWithoutRetries.count), "
              + "with retries to the same host \(failingOnSameHost.count), with previous_hosts \(failingOnOtherHost.count) \(failingOnOtherHost.sorted())")
        #expect(!failingWithoutRetries.isEmpty && failingWithoutRetries.count < users.count, "the hash spreads users over both hosts")
        #expect(failingOnSameHost == failingWithoutRetries, "retries without the predicate stay on the pinned host")
        // Envoy's ring hash picks again by walking the ring from the request's point, one entry per
        // selection attempt (5 here), so a user whose point is followed by a long run of the
        // refusing host's entries may still land on it; most move to the live host.
        #expect(failingOnOtherHost.isSubset(of: failingWithoutRetries) && failingOnOtherHost.count * 2 <= failingWithoutRetries.count,
                "previous_hosts moves the retry to the live host: still failing \(failingOnOtherHost.sorted())")

        // 3. The retry circuit breaker: eight requests whose first attempts fail together after
        // 400 ms; with `maxRetries: 1` only one retry may be outstanding, the others overflow and
        // the caller gets the upstream's 503.
        let overflowBefore = await stat("breaker", "upstream_rq_retry_overflow")
        let breakerStatuses = await withTaskGroup(of: Int.self) { group in
            for i in 0..<8 { group.addTask { await get("breaker", "/flaky/1/\(run)-b\(i)?delay=400").status } }
            var out: [Int: Int] = [:]
            for await status in group { out[status, default: 0] += 1 }
            return out
        }
        let overflowed = await stat("breaker", "upstream_rq_retry_overflow") - overflowBefore
        print("retry breaker: asked maxRetries 1 for 8 concurrent requests failing once, measured \(breakerStatuses), \(overflowed) retries overflowed")
        #expect(overflowed >= 1, "retries beyond maxRetries overflow")
        #expect((breakerStatuses[503] ?? 0) == overflowed, "an overflowed retry returns the upstream's 503: \(breakerStatuses)")
        #expect((breakerStatuses[200] ?? 0) >= 1, "the retry that got the breaker succeeds: \(breakerStatuses)")

        // 4. `retryRemoteLocalities`: the local endpoint always fails and is never ejected. With
        // Envoy's `previous_priorities` (every 2 attempts) the third attempt goes to the next
        // locality; without it every attempt stays local.
        let remote = await LoopbackMesh.tally(10, key: { "\($0.echoName ?? "-") \($0.status)" }) { await get("geo", "/remote/x") }
        let local = await LoopbackMesh.tally(10, key: { "\($0.echoName ?? "-") \($0.status)" }) { await get("geo", "/local/x") }
        print("retry remote localities: asked 2 retries with retryRemoteLocalities, measured \(remote); without it measured \(local)")
        #expect(remote == ["geo-remote 200": 10])
        #expect(local == ["geo-local 503": 10])
        // A retried request tells the upstream which attempt it is (Istio turns on
        // include_request_attempt_count): the local host's 503s took one or both retries' turns
        // before, so the remote host sees attempt 2 or 3 (Envoy and the Swift proxy alike).
        let retried = await get("geo", "/remote/x")
        let attempt = retried.body.firstMatch(of: /"x-envoy-attempt-count":"(\d+)"/).map { String($0.1) }
        #expect(retried.echoName == "geo-remote" && ["2", "3"].contains(attempt), "\(retried.body)")
    }
}
