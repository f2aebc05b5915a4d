import Foundation
import MeshTestSupport

/// Routing scenarios on a ``LoopbackMesh``: a `reviews` service with two subsets, a `shadow`
/// service that receives mirrored traffic, and a client whose Sidecar opens an HTTP_PROXY egress
/// listener on its own loopback address.
extension LoopbackMesh {
    /// The workloads and the client of a routing scenario.
    struct RoutingSetup: Sendable {
        var v1: Workload
        var v2: Workload
        var shadow: Workload
        var client: Proxy
        var proxyPort: Int

        /// The stats prefix of the client's HTTP_PROXY listener (Envoy's `http.<prefix>.` stats).
        var statPrefix: String { "outbound_\(client.ip)_\(proxyPort)" }
    }

    /// Starts `reviews` v1 and v2, `shadow`, and the client's Envoy, with `routing` (VirtualService
    /// YAML) in the config folder, and waits until the client's listener answers.
    func startRouting(_ routing: String) async throws -> RoutingSetup {
        let v1 = try await startEcho("reviews-v1")
        let v2 = try await startEcho("reviews-v2")
        let shadow = try await startEcho("shadow")
        let clientIP = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: clientIP)
        try write("services.yaml", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews.bookinfo.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              workloadSelector: {labels: {app: reviews}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v1, namespace: bookinfo}
            spec: {address: \(v1.ip), labels: {app: reviews, version: v1}, ports: {http: \(v1.port)}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v2, namespace: bookinfo}
            spec: {address: \(v2.ip), labels: {app: reviews, version: v2}, ports: {http: \(v2.port)}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              host: reviews.bookinfo.svc.cluster.local
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: shadow, namespace: bookinfo}
            spec:
              hosts: [shadow.bookinfo.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(shadow.port)}]
              endpoints: [{address: \(shadow.ip)}]
            ---
            \(MeshYAML.egressSidecar(namespace: "bookinfo", bind: clientIP, port: proxyPort))
            """)
        try write("routing.yaml", routing)
        let client = try await startProxy(namespace: "bookinfo", labels: ["app": "client"], serviceAccount: "client", ip: clientIP)
        guard await waitUntilReady(client) else { throw HarnessError("the client's Envoy never became ready\n\(diagnostics)") }
        let setup = RoutingSetup(v1: v1, v2: v2, shadow: shadow, client: client, proxyPort: proxyPort)
        let answering = await Self.eventually {
            await self.reviews(setup, "/").status == 200
        }
        guard answering else { throw HarnessError("no traffic through the client's sidecar\n\(diagnostics)") }
        return setup
    }

    /// A request to `reviews` through the client's sidecar.
    func reviews(_ setup: RoutingSetup, _ path: String, headers: [(String, String)] = []) async -> Response {
        await requestThroughProxy(setup.client, port: setup.proxyPort, url: "http://reviews.bookinfo.svc.cluster.local:9080\(path)", headers: headers)
    }

    /// An HTTP/1.0 GET of `reviews` through the client's HTTP_PROXY listener: status and body.
    func reviewsOverHTTP10(_ setup: RoutingSetup, _ path: String) async -> (status: Int, body: String) {
        let ip = setup.client.ip, port = setup.proxyPort
        return await offPool {
            do {
                let connection = try TCPTestConnection(host: ip, port: port)
                try connection.write("GET http://reviews.bookinfo.svc.cluster.local:9080\(path) HTTP/1.0\r\nhost: reviews.bookinfo.svc.cluster.local:9080\r\n\r\n")
                let response = try connection.readHTTP1Response()
                return (response.status, response.text)
            } catch {
                return (-1, "\(error)")
            }
        }
    }

    /// A request to `reviews` with its latency (``Response/elapsed``).
    func timedReviews(_ setup: RoutingSetup, _ path: String, headers: [(String, String)] = []) async -> (response: Response, latency: Duration) {
        let response = await reviews(setup, path, headers: headers)
        return (response, response.elapsed)
    }

    /// `count` requests to `reviews`, up to `width` at a time.
    func reviews(_ setup: RoutingSetup, _ path: String, count: Int, width: Int) async -> [Response] {
        var responses: [Response] = []
        while responses.count < count {
            let batch = min(width, count - responses.count)
            await withTaskGroup(of: Response.self) { group in
                for _ in 0..<batch { group.addTask { await self.reviews(setup, path) } }
                for await response in group { responses.append(response) }
            }
        }
        return responses
    }

    /// The number of requests an echo-server has answered, counting this probe, from its
    /// `x-echo-requests` header.
    func echoTotal(_ workload: Workload) async -> Int? {
        let response = await Self.request(host: workload.ip, port: workload.port, path: "/count")
        return response.header("x-echo-requests").flatMap(Int.init)
    }
}

extension Duration {
    /// Milliseconds, for printing figures.
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
