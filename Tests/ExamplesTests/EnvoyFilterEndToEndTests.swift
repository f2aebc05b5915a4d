import Foundation
import MeshTestSupport
import Testing

/// EnvoyFilter on a sidecar — real Envoy and the Swift proxy, one parameterised test: a
/// VIRTUAL_HOST MERGE adds a response header the client sees; an HCM MERGE sets `server_name`; a
/// patch naming a field SwiftMesh's protos lack is skipped without costing the others; removing
/// the EnvoyFilter removes the header live.
@Suite(.timeLimit(.minutes(3))) struct EnvoyFilterEndToEndTests {
    static func services(_ port: Int, _ ip: String, _ bind: String, _ proxyPort: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: shop}
        spec:
          hosts: [ratings.shop.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP, targetPort: \(port)}]
          endpoints: [{address: \(ip)}]
        ---
        \(MeshYAML.egressSidecar(namespace: "shop", bind: bind, port: proxyPort, portName: "egress"))
        """
    }

    static let envoyFilter = """
        apiVersion: networking.istio.io/v1alpha3
        kind: EnvoyFilter
        metadata: {name: ratings-headers, namespace: shop}
        spec:
          workloadSelector: {labels: {app: client}}
          configPatches:
          # Names a field SwiftMesh's VirtualHost proto does not have: skipped, the rest applies.
          - applyTo: VIRTUAL_HOST
            match:
              context: SIDECAR_OUTBOUND
              routeConfiguration: {vhost: {name: "ratings.shop.svc.cluster.local:9080"}}
            patch:
              operation: MERGE
              value: {no_such_field: true}
          - applyTo: VIRTUAL_HOST
            match:
              context: SIDECAR_OUTBOUND
              routeConfiguration: {vhost: {name: "ratings.shop.svc.cluster.local:9080"}}
            patch:
              operation: MERGE
              value:
                response_headers_to_add:
                - header: {key: x-envoyfilter, value: ratings-vhost}
          - applyTo: NETWORK_FILTER
            match:
              context: SIDECAR_OUTBOUND
              listener:
                filterChain:
                  filter: {name: envoy.filters.network.http_connection_manager}
            patch:
              operation: MERGE
              value:
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  server_name: swiftmesh-envoyfilter
        """

    @Test(arguments: LoopbackMesh.DataPlane.allCases)
    func envoyFilterAddsAResponseHeaderAndRemovingItTakesItAway(_ dataPlane: LoopbackMesh.DataPlane) async throws {
        guard let mesh = try await LoopbackMesh.start(dataPlane: dataPlane) else { return }
        print("data plane: \(dataPlane)")
        defer { mesh.stop() }
        let ratings = try await mesh.startEcho("ratings-v1")
        let client = LoopbackAddresses.next()
        let proxyPort = try LoopbackNetwork.freePort(on: client)
        try mesh.write("mesh.yaml", Self.services(ratings.port, ratings.ip, client, proxyPort))
        try mesh.write("envoyfilter.yaml", Self.envoyFilter)
        let proxy = try await mesh.startProxy(namespace: "shop", labels: ["app": "client"], ip: client)
        let ready = await mesh.waitUntilReady(proxy)
        try #require(ready, "\(mesh.diagnostics)")
        let url = "http://ratings.shop.svc.cluster.local:9080/with-filter"

        var response = LoopbackMesh.Response(status: -1, headers: [], body: "")
        let patched = await LoopbackMesh.eventually {
            response = await mesh.requestThroughProxy(proxy, port: proxyPort, url: url)
            return response.status == 200 && response.header("x-envoyfilter") == "ratings-vhost"
        }
        #expect(patched, "last: \(response.status) \(response.headers) \(response.error ?? "")\n\(mesh.diagnostics)")
        #expect(response.echoName == "ratings-v1")
        #expect(response.header("server") == "swiftmesh-envoyfilter", "the HCM MERGE reached the proxy too")
        let rejected = await mesh.stat(proxy, "listener_manager.lds.update_rejected")
        #expect(rejected == 0, "the proxy accepted every listener update (listener_manager.lds.update_rejected \(rejected.map(String.init) ?? "missing"))")

        try mesh.remove("envoyfilter.yaml")
        let restored = await LoopbackMesh.eventually {
            response = await mesh.requestThroughProxy(proxy, port: proxyPort, url: "http://ratings.shop.svc.cluster.local:9080/without-filter")
            return response.status == 200 && response.header("x-envoyfilter") == nil && response.header("server") == "envoy"
        }
        #expect(restored, "last: \(response.status) \(response.headers)\n\(mesh.diagnostics)")
        #expect(response.echoPath == "/without-filter")
    }
}
