import Foundation
import MeshTestSupport
import Testing

/// The shared loopback harness itself: one workload reached through a sidecar's HTTP_PROXY listener.
@Suite(.timeLimit(.minutes(3))) struct LoopbackMeshTests {
    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func aClientReachesAWorkloadThroughItsSidecar(dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        defer { mesh.stop() }
        let ratings = try await mesh.startEcho("ratings-v1")
        let client = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: client)
        try mesh.write("mesh.yaml", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ratings, namespace: shop}
            spec:
              hosts: [ratings.shop.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(ratings.port)}]
              endpoints: [{address: \(ratings.ip)}]
            ---
            \(MeshYAML.egressSidecar(namespace: "shop", bind: client, port: proxyPort, portName: "egress"))
            """)
        let proxy = try await mesh.startProxy(namespace: "shop", labels: ["app": "client"], ip: client)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")
        var response = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let answered = await LoopbackMesh.eventually {
            response = await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://ratings.shop.svc.cluster.local:9080/x?y=1")
            return response.status == 200
        }
        #expect(answered, "last: \(response)\n\(mesh.diagnostics)")
        #expect(response.echoName == "ratings-v1")
        #expect(response.echoPath == "/x?y=1")
        #expect(response.echoHeaders["x-request-id"] != nil, "the proxy adds a request id")
        #expect(response.echoHeaders["x-forwarded-proto"] == "http")
        #expect(await mesh.debug("/debug/syncz")?.contains(proxy.nodeID) == true)
        #expect(await mesh.stat(proxy, "cluster.outbound|9080||ratings.shop.svc.cluster.local.upstream_rq_200") ?? 0 >= 1)
    }
}
