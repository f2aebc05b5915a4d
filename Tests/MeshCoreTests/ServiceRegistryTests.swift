import Testing
import MeshCore

@Suite struct ServiceRegistryTests {
    @Test(arguments: [
        ("http", nil, ServiceProtocol.http), ("http-web", nil, .http), ("HTTP2", nil, .http2), ("grpc-api", nil, .grpc),
        ("grpc-web", nil, .grpcWeb), ("tcp-db", nil, .tcp), ("https", nil, .https), ("tls-x", nil, .tls), ("mongo", nil, .mongo),
        ("redis-cache", nil, .redis), ("mysql", nil, .mysql), ("udp-dns", nil, .udp), ("web", nil, .unsupported),
        ("web", "http", .http), ("tcp", "kubernetes.io/h2c", .http2), ("x", "kubernetes.io/wss", .https), ("grpc", "unknown", .grpc),
    ] as [(String, String?, ServiceProtocol)])
    func protocolInference(name: String, appProtocol: String?, expected: ServiceProtocol) {
        #expect(ServiceProtocol.infer(portName: name, appProtocol: appProtocol) == expected)
    }

    static let config = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: reviews, namespace: shop}
    spec:
      hosts: [reviews.shop.svc.cluster.local]
      location: MESH_INTERNAL
      resolution: STATIC
      ports:
      - {number: 9080, name: http-api, targetPort: 8080}
      - {number: 9090, name: metrics, protocol: TCP}
      workloadSelector:
        labels: {app: reviews}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: reviews-v1, namespace: shop}
    spec:
      address: 127.0.0.21
      labels: {app: reviews, version: v1}
      serviceAccount: reviews
      locality: eu/west-1/a
      weight: 3
      ports: {metrics: 19090}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: other, namespace: shop}
    spec:
      address: 127.0.0.99
      labels: {app: ratings}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: reviews-elsewhere, namespace: other}
    spec:
      address: 127.0.0.98
      labels: {app: reviews}
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: httpbin, namespace: shop}
    spec:
      hosts: [httpbin.org]
      exportTo: ["."]
      resolution: DNS
      ports:
      - {number: 443, name: tls, protocol: TLS}
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: static, namespace: shop}
    spec:
      hosts: [db.internal]
      resolution: STATIC
      ports:
      - {number: 5432, name: tcp-pg}
      endpoints:
      - {address: 127.0.0.50, labels: {role: primary}}
      - {address: 127.0.0.51, ports: {tcp-pg: 15432}}
    """

    @Test func serviceEntryConversion() throws {
        let resources = decodeValid(Self.config)
        let out = ServiceEntryConversion.convert(
            serviceEntries: resources.compactMap { $0.typed(as: ServiceEntry.self) },
            workloadEntries: resources.compactMap { $0.typed(as: WorkloadEntry.self) })
        #expect(out.services.map(\.hostname).sorted() == ["db.internal", "httpbin.org", "reviews.shop.svc.cluster.local"])
        let reviews = try #require(out.services.first { $0.hostname == "reviews.shop.svc.cluster.local" })
        #expect(reviews.location == .meshInternal)
        #expect(reviews.resolution == .clientSideLB)
        #expect(reviews.ports == [ServicePortInfo(name: "http-api", port: 9080, protocol: .http, targetPort: 8080),
                                  ServicePortInfo(name: "metrics", port: 9090, protocol: .tcp)])
        let reviewInstances = out.instances.filter { $0.serviceHostname == "reviews.shop.svc.cluster.local" }
        #expect(reviewInstances.map(\.address) == ["127.0.0.21"], "only WorkloadEntries in the ServiceEntry's namespace with matching labels")
        #expect(reviewInstances.first?.endpointPorts == [9080: 8080, 9090: 19090])
        #expect(reviewInstances.first?.weight == 3)
        #expect(reviewInstances.first?.locality == "eu/west-1/a")
        #expect(reviewInstances.first?.serviceAccount == "reviews")

        let httpbin = try #require(out.services.first { $0.hostname == "httpbin.org" })
        #expect(httpbin.location == .meshExternal)
        #expect(httpbin.resolution == .dnsLB)
        #expect(httpbin.isVisible(from: "shop"))
        #expect(!httpbin.isVisible(from: "other"))
        #expect(out.instances.filter { $0.serviceHostname == "httpbin.org" }.map(\.address) == ["httpbin.org"], "DNS without endpoints resolves the host")

        let db = out.instances.filter { $0.serviceHostname == "db.internal" }
        #expect(db.map(\.address) == ["127.0.0.50", "127.0.0.51"])
        #expect(db.map { $0.endpointPorts[5432] } == [5432, 15432])
        #expect(out.services.first { $0.hostname == "db.internal" }?.ports.first?.protocol == .tcp)
    }

    @Test func meshDefaultExportTo() throws {
        var mesh = MeshConfig()
        mesh.defaultServiceExportTo = ["."]
        let resources = decodeValid(Self.config)
        let out = ServiceEntryConversion.convert(
            serviceEntries: resources.compactMap { $0.typed(as: ServiceEntry.self) }, workloadEntries: [], mesh: mesh)
        let db = try #require(out.services.first { $0.hostname == "db.internal" })
        #expect(!db.isVisible(from: "other"))
        #expect(db.isVisible(from: "shop"))
    }

    @Test func registryFollowsStoreAndSeparatesEndpointChanges() async throws {
        let store = InMemoryConfigStore(decodeValid(Self.config))
        let registry = ServiceEntryRegistry(store: store)
        let first = await registry.refresh()
        guard case .servicesChanged(let hosts)? = first else { Issue.record("expected a service change"); return }
        #expect(hosts.contains("reviews.shop.svc.cluster.local"))
        #expect(await registry.instances(of: "reviews.shop.svc.cluster.local", namespace: "shop").count == 1)

        // A new matching WorkloadEntry changes endpoints only.
        let extra = decodeValid("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-v2, namespace: shop}
        spec: {address: 127.0.0.22, labels: {app: reviews, version: v2}}
        """)[0]
        await store.apply(extra)
        #expect(await registry.refresh() == .endpointsChanged(hostnames: ["reviews.shop.svc.cluster.local"]))
        #expect(await registry.instances(of: "reviews.shop.svc.cluster.local", namespace: nil).count == 2)
        #expect(await registry.refresh() == nil, "nothing changed")

        await store.delete(ResourceKey(kind: .serviceEntry, namespace: "shop", name: "httpbin"))
        #expect(await registry.refresh() == .servicesChanged(hostnames: ["httpbin.org"]))
    }

    @Test func aggregatePrefersEarlierRegistries() async {
        let a = InMemoryServiceRegistry(name: "a"), b = InMemoryServiceRegistry(name: "b")
        await a.upsert(MeshService(hostname: "x.ns.svc.cluster.local", namespace: "ns", ports: [ServicePortInfo(name: "http", port: 80, protocol: .http)]))
        await b.upsert(MeshService(hostname: "x.ns.svc.cluster.local", namespace: "ns", ports: []))
        await b.upsert(MeshService(hostname: "y.ns.svc.cluster.local", namespace: "ns", ports: []))
        await b.setInstances([WorkloadInstance(serviceHostname: "y.ns.svc.cluster.local", serviceNamespace: "ns", name: "y", namespace: "ns", address: "127.0.0.5", endpointPorts: [:])], hostname: "y.ns.svc.cluster.local", namespace: "ns")
        let aggregate = AggregateServiceRegistry([a, b])
        let services = await aggregate.services()
        #expect(services.map(\.hostname) == ["x.ns.svc.cluster.local", "y.ns.svc.cluster.local"])
        #expect(services.first?.ports.count == 1)
        #expect(await aggregate.instances(of: "y.ns.svc.cluster.local", namespace: nil).map(\.address) == ["127.0.0.5"])
        #expect(aggregate.name == "Aggregate(a,b)")
    }

    @Test func kubernetesServicesAndWorkloadsAreRead() {
        let out = ConfigDecoder().decode("""
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: shop}
        spec:
          clusterIP: 10.0.0.7
          selector: {app: reviews}
          ports:
          - {name: http, port: 9080, targetPort: 8080}
          - {name: web, port: 9443, appProtocol: https}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v1, namespace: shop}
        spec:
          template:
            metadata:
              labels: {app: reviews, version: v1}
            spec:
              serviceAccountName: bookinfo-reviews
        """, file: "k8s.yaml")
        #expect(out.diagnostics.isEmpty)
        #expect(out.skippedDocuments == 2)
        #expect(out.platform.services.map(\.hostname) == ["reviews.shop.svc.cluster.local"])
        #expect(out.platform.services.first?.ports.map(\.protocol) == [.http, .https])
        #expect(out.platform.services.first?.addresses == ["10.0.0.7"])
        #expect(out.platform.workloads == [KubernetesWorkload(kind: "Deployment", name: "reviews-v1", namespace: "shop", labels: ["app": "reviews", "version": "v1"], serviceAccount: "bookinfo-reviews")])
    }
}
