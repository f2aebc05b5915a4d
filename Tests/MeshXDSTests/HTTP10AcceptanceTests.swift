import MeshCore
import MeshXDS
import SwiftProtobuf
import Testing

/// Istio's HTTP/1.0 opt-in: node metadata `HTTP10: "1"` sets `accept_http_10` on every HTTP
/// connection manager of the proxy; without it none has it, and Envoy answers HTTP/1.0 with 426.
@Suite struct HTTP10AcceptanceTests {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static let mesh = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          hosts: [reviews.bookinfo.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}, {number: 3306, name: tcp, protocol: TCP}]
          endpoints: [{address: 10.0.0.1}]
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: bookinfo}
        spec:
          selector: {istio: ingressgateway}
          servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
        """

    /// Whether each HTTP connection manager of the proxy's listeners accepts HTTP/1.0.
    static func acceptance(metadata: [String: String], nodeID: String) throws -> [Bool] {
        let output = ConfigDecoder().decode(mesh, file: "mesh.yaml")
        #expect(!output.hasErrors)
        var proxy = ProxyView(identity: try ProxyIdentity(nodeID: nodeID), labels: ["app": "productpage", "istio": "ingressgateway"])
        proxy.metadata = metadata
        let request = GenerationRequest(snapshot: MeshSnapshot(resources: output.resources), proxy: proxy, options: TranslationOptions())
        let listeners = ListenerGenerator().generate(request).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener }
        return listeners.flatMap { listener in
            (listener.filterChains + (listener.hasDefaultFilterChain ? [listener.defaultFilterChain] : [])).flatMap(\.filters).compactMap { filter in
                guard case .typedConfig(let typed) = filter.configType, typed.isA(HCM.self) else { return nil }
                return (try? HCM(unpackingAny: typed))?.httpProtocolOptions.acceptHTTP10
            }
        }
    }

    @Test(arguments: ["sidecar~127.0.0.11~productpage.bookinfo~bookinfo.svc.cluster.local", "router~127.0.0.60~gw.bookinfo~bookinfo.svc.cluster.local"])
    func onlyAProxyThatAsksAcceptsHTTP10(_ nodeID: String) throws {
        let asked = try Self.acceptance(metadata: ["HTTP10": "1"], nodeID: nodeID)
        let notAsked = try Self.acceptance(metadata: [:], nodeID: nodeID)
        let otherValue = try Self.acceptance(metadata: ["HTTP10": "true"], nodeID: nodeID)
        #expect(!asked.isEmpty, "the proxy has HTTP connection managers")
        #expect(asked.allSatisfy { $0 } && asked.count == notAsked.count)
        #expect(!notAsked.contains(true) && !otherValue.contains(true), "Istio accepts only \"1\"")
    }
}
