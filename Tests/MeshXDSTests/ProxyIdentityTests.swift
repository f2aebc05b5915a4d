import Testing
import MeshXDS

@Suite struct ProxyIdentityTests {
    @Test func parsesSidecarAndRouterIDs() throws {
        let s = try ProxyIdentity(nodeID: "sidecar~127.0.0.2~productpage-v1-abc.bookinfo~bookinfo.svc.cluster.local")
        #expect(s.type == .sidecar)
        #expect(s.ipAddress == "127.0.0.2")
        #expect(s.workloadName == "productpage-v1-abc")
        #expect(s.namespace == "bookinfo")
        #expect(s.dnsDomain == "bookinfo.svc.cluster.local")
        #expect(s.nodeID == "sidecar~127.0.0.2~productpage-v1-abc.bookinfo~bookinfo.svc.cluster.local")
        let r = try ProxyIdentity(nodeID: "router~127.0.0.10~istio-ingressgateway.istio-system~istio-system.svc.cluster.local")
        #expect(r.type == .router)
        #expect(r.namespace == "istio-system")
    }

    @Test(arguments: [
        ("sidecar~1.2.3.4~x", "expected 4 fields"),
        ("gateway~1.2.3.4~a.b~d", "unknown proxy type \"gateway\""),
        ("sidecar~~a.b~d", "IP address field is empty"),
        ("sidecar~1.2.3.4~nodots~d", "NAME.NAMESPACE"),
        ("sidecar~1.2.3.4~trailing.~d", "NAME.NAMESPACE"),
    ])
    func rejectsMalformedIDs(id: String, reason: String) {
        #expect {
            try ProxyIdentity(nodeID: id)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
