import Testing
import MeshCore

@Suite struct MeshSnapshotTests {
    static let services = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: reviews, namespace: shop}
    spec:
      hosts: [reviews.shop.svc.cluster.local]
      location: MESH_INTERNAL
      resolution: STATIC
      ports: [{number: 9080, name: http}]
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: private-db, namespace: shop}
    spec:
      hosts: [db.shop.svc.cluster.local]
      exportTo: ["."]
      location: MESH_INTERNAL
      resolution: STATIC
      ports: [{number: 5432, name: tcp}]
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: billing, namespace: billing}
    spec:
      hosts: [billing.billing.svc.cluster.local]
      location: MESH_INTERNAL
      resolution: STATIC
      ports: [{number: 80, name: http}]
    """

    @Test func destinationRulePrecedenceAndMerging() throws {
        let snapshot = MeshSnapshot(resources: decodeValid(Self.services + """

        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-a, namespace: shop}
        spec:
          host: reviews
          trafficPolicy: {loadBalancer: {simple: RANDOM}}
          subsets: [{name: v1, labels: {version: v1}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-b, namespace: shop}
        spec:
          host: reviews.shop.svc.cluster.local
          trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
          subsets: [{name: v1, labels: {version: other}}, {name: v2, labels: {version: v2}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-client-override, namespace: frontend}
        spec:
          host: reviews.shop.svc.cluster.local
          subsets: [{name: canary, labels: {track: canary}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          host: "*.svc.cluster.local"
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
        """))
        let reviews = try #require(snapshot.services.service("reviews.shop.svc.cluster.local", visibleFrom: "shop"))
        let billing = try #require(snapshot.services.service("billing.billing.svc.cluster.local", visibleFrom: "shop"))

        // In the service's namespace: the two rules merge, the first (by name) keeps its policy and subset v1.
        let fromShop = try #require(snapshot.destinationRule(for: reviews, from: WorkloadContext(namespace: "shop")))
        #expect(fromShop.sources.map(\.name) == ["reviews-a", "reviews-b"])
        #expect(fromShop.subsets.map(\.name) == ["v1", "v2"])
        #expect(fromShop.subset("v1")?.labels == ["version": "v1"])
        #expect(fromShop.trafficPolicy?.loadBalancer?.simple == .RANDOM)

        // A client namespace's own rule wins over the service namespace's.
        let fromFrontend = try #require(snapshot.destinationRule(for: reviews, from: WorkloadContext(namespace: "frontend")))
        #expect(fromFrontend.sources.map(\.name) == ["reviews-client-override"])

        // Elsewhere the service namespace's exported rule applies; with none, the root namespace's wildcard.
        #expect(snapshot.destinationRule(for: reviews, from: WorkloadContext(namespace: "billing"))?.sources.map(\.name) == ["reviews-a", "reviews-b"])
        #expect(snapshot.destinationRule(for: billing, from: WorkloadContext(namespace: "shop"))?.sources.map(\.name) == ["mesh-default"])
    }

    @Test func visibilityAndSidecarScope() {
        let snapshot = MeshSnapshot(resources: decodeValid(Self.services + """

        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: frontend}
        spec:
          egress:
          - hosts: ["./*", "shop/*"]
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: billing-only, namespace: frontend}
        spec:
          workloadSelector:
            labels: {app: cashier}
          egress:
          - hosts: ["billing/billing.billing.svc.cluster.local"]
        """))
        #expect(snapshot.reachableServices(from: WorkloadContext(namespace: "shop")).map(\.hostname)
            == ["billing.billing.svc.cluster.local", "db.shop.svc.cluster.local", "reviews.shop.svc.cluster.local"])
        #expect(snapshot.reachableServices(from: WorkloadContext(namespace: "frontend")).map(\.hostname)
            == ["reviews.shop.svc.cluster.local"], "exportTo hides db; the namespace Sidecar hides billing")
        #expect(snapshot.reachableServices(from: WorkloadContext(namespace: "frontend", labels: ["app": "cashier"])).map(\.hostname)
            == ["billing.billing.svc.cluster.local"])
        #expect(snapshot.sidecars.sidecar(for: WorkloadContext(namespace: "shop")) == nil)
    }

    @Test func virtualServicesByGatewayHostAndDelegate() throws {
        let snapshot = MeshSnapshot(resources: decodeValid(Self.services + """

        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: shop}
        spec:
          hosts: [reviews]
          http:
          - route: [{destination: {host: reviews}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: edge, namespace: shop}
        spec:
          hosts: ["*.example.com"]
          gateways: [edge-gateway, mesh]
          http:
          - match: [{uri: {prefix: /reviews}}]
            delegate: {name: reviews-routes}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews-routes, namespace: shop}
        spec:
          http:
          - route: [{destination: {host: reviews}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: hidden, namespace: shop}
        spec:
          hosts: [db]
          exportTo: ["."]
          tcp:
          - route: [{destination: {host: db}}]
        """))
        let vs = snapshot.virtualServices
        #expect(vs.virtualServices(gateway: "shop/edge-gateway", visibleFrom: "x").map(\.meta.name) == ["edge"])
        #expect(vs.virtualServices(gateway: "mesh", visibleFrom: "other").map(\.meta.name) == ["edge", "reviews"])
        #expect(vs.virtualServices(gateway: "mesh", visibleFrom: "shop").map(\.meta.name) == ["edge", "hidden", "reviews"])
        #expect(snapshot.virtualServices(forHost: "reviews.shop.svc.cluster.local", from: WorkloadContext(namespace: "a")).map(\.meta.name) == ["reviews"])
        #expect(snapshot.virtualServices(forHost: "www.example.com", from: WorkloadContext(namespace: "a")).map(\.meta.name) == ["edge"])
        #expect(vs.delegate(name: "reviews-routes", namespace: nil, from: "shop")?.meta.name == "reviews-routes")
        #expect(vs.allDelegates.map(\.meta.name) == ["reviews-routes"])
        #expect(GatewayIndex.qualify("edge-gateway", namespace: "shop") == "shop/edge-gateway")
        #expect(GatewayIndex.qualify("istio-system/ingress", namespace: "shop") == "istio-system/ingress")
        #expect(GatewayIndex.qualify("ingress.istio-system.svc.cluster.local", namespace: "shop") == "istio-system/ingress")
    }

    @Test func policiesForWorkloads() {
        let snapshot = MeshSnapshot(resources: decodeValid("""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: shop-permissive, namespace: shop}
        spec: {mtls: {mode: PERMISSIVE}}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews, namespace: shop}
        spec:
          selector: {matchLabels: {app: reviews}}
          rules: [{from: [{source: {namespaces: [shop]}}]}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: gateway-policy, namespace: shop}
        spec:
          targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: edge}]
          rules: [{from: [{source: {namespaces: [shop]}}]}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: mesh-deny, namespace: istio-system}
        spec:
          action: DENY
          rules: [{to: [{operation: {paths: [/admin]}}]}]
        """))
        let reviews = WorkloadContext(namespace: "shop", labels: ["app": "reviews"])
        #expect(snapshot.peerAuthentications.policies(for: reviews).map(\.meta.name) == ["shop-permissive", "default"])
        #expect(snapshot.authorizationPolicies.policies(for: reviews).map(\.meta.name) == ["reviews", "mesh-deny"])
        #expect(snapshot.authorizationPolicies.policies(for: WorkloadContext(namespace: "other")).map(\.meta.name) == ["mesh-deny"])
        #expect(snapshot.authorizationPolicies.policies(targeting: "Gateway", name: "edge", namespace: "shop").map(\.meta.name) == ["gateway-policy"])
    }

    @Test func hostMatching() {
        #expect(HostName.matches("a.example.com", "*.example.com"))
        #expect(!HostName.matches("example.com", "*.example.com"))
        #expect(HostName.matches("*.a.example.com", "*.example.com"))
        #expect(!HostName.matches("*.example.com", "*.a.example.com"))
        #expect(HostName.overlaps("*.example.com", "*.a.example.com"))
        #expect(HostName.matches("anything", "*"))
        #expect(HostName.resolve("reviews", namespace: "shop") == "reviews.shop.svc.cluster.local")
        #expect(HostName.resolve("reviews.shop", namespace: "x") == "reviews.shop")
        #expect(HostName.resolve("10.0.0.1", namespace: "x") == "10.0.0.1")
        #expect(HostName.splitNamespace("shop/*.example.com") == ("shop", "*.example.com"))
    }
}
