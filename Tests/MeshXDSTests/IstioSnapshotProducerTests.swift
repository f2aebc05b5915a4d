import MeshCore
import SwiftProtobuf
import Testing
@testable import MeshXDS

/// The producer pushes only to proxies whose resources changed, and only EDS for endpoint changes.
@Suite(.timeLimit(.minutes(1))) struct IstioSnapshotProducerTests {
    static func config(namespace ns: String, address: String, weight: Int = 100) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: svc, namespace: \(ns)}
        spec:
          hosts: [svc.\(ns).svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          workloadSelector: {labels: {app: svc}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: svc-1, namespace: \(ns)}
        spec: {address: \(address), labels: {app: svc, version: v1}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc, namespace: \(ns)}
        spec:
          host: svc.\(ns).svc.cluster.local
          subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: svc, namespace: \(ns)}
        spec:
          hosts: [svc.\(ns).svc.cluster.local]
          http:
          - route:
            - {destination: {host: svc.\(ns).svc.cluster.local, subset: v1}, weight: \(weight)}
            - {destination: {host: svc.\(ns).svc.cluster.local, subset: v2}, weight: \(100 - weight)}
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: \(ns)}
        spec:
          egress: [{hosts: ["./*"]}]
        """
    }

    static func decode(_ yaml: String) throws -> [AnyResource] {
        let output = ConfigDecoder().decode(yaml, file: "test.yaml")
        try #require(!output.hasErrors, "\(output.errors)")
        return output.resources
    }

    static func node(_ ns: String, ip: String) -> Envoy_Config_Core_V3_Node {
        .with {
            $0.id = "sidecar~\(ip)~client.\(ns)~\(ns).svc.cluster.local"
            $0.metadata = .init(fields: [
                "NAMESPACE": .init(stringValue: ns),
                "LABELS": .init(structValue: .init(fields: ["app": .init(stringValue: "client")])),
            ])
        }
    }

    func versions(_ cache: SnapshotCache, _ id: String) async -> [String: String] {
        await cache.snapshot(for: id)?.resources.mapValues(\.version) ?? [:]
    }

    func waitUntil(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<500 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func pushesOnlyWhatChangedToOnlyThoseAffected() async throws {
        let store = InMemoryConfigStore(try Self.decode(Self.config(namespace: "a", address: "127.0.0.10") + "\n---\n" + Self.config(namespace: "b", address: "127.0.0.20")))
        let cache = SnapshotCache()
        let producer = IstioSnapshotProducer(store: store, cache: cache, quietPeriod: .milliseconds(10), maximumDelay: .seconds(1))
        let running = Task { await producer.run() }
        defer { running.cancel() }

        let a = Self.node("a", ip: "127.0.0.11"), b = Self.node("b", ip: "127.0.0.21")
        producer.callbacks.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "c1", mode: .stateOfTheWorld, peer: "test", node: a))
        producer.callbacks.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "c2", mode: .stateOfTheWorld, peer: "test", node: b))
        let bothReady = await waitUntil {
            let sa = await cache.snapshot(for: a.id)
            let sb = await cache.snapshot(for: b.id)
            return sa != nil && sb != nil
        }
        #expect(bothReady)
        let a0 = await versions(cache, a.id), b0 = await versions(cache, b.id)
        #expect(Set(a0.keys) == [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration, EnvoyTypeURL.secret])
        #expect(await cache.snapshot(for: a.id)?.resources[EnvoyTypeURL.secret]?.count == 0, "sidecars get no gateway secrets")
        let clustersOfA = await cache.snapshot(for: a.id)?.names(of: EnvoyTypeURL.cluster) ?? []
        #expect(clustersOfA.contains("outbound|80|v1|svc.a.svc.cluster.local"))
        #expect(!clustersOfA.contains("outbound|80|v1|svc.b.svc.cluster.local"), "the Sidecar scopes a's proxy to namespace a")

        // An endpoint-only change in namespace a: a's EDS changes, nothing else does.
        let moved = try Self.decode(Self.config(namespace: "a", address: "127.0.0.12")).first { $0.kind == .workloadEntry }!
        await store.apply(moved)
        #expect(await waitUntil { await versions(cache, a.id)[EnvoyTypeURL.clusterLoadAssignment] != a0[EnvoyTypeURL.clusterLoadAssignment] })
        let a1 = await versions(cache, a.id)
        #expect(a1[EnvoyTypeURL.cluster] == a0[EnvoyTypeURL.cluster])
        #expect(a1[EnvoyTypeURL.listener] == a0[EnvoyTypeURL.listener])
        #expect(a1[EnvoyTypeURL.routeConfiguration] == a0[EnvoyTypeURL.routeConfiguration])
        #expect(await versions(cache, b.id) == b0, "b's proxy does not see namespace a")

        // A routing change in namespace b: only b's routes change.
        let reweighted = try Self.decode(Self.config(namespace: "b", address: "127.0.0.20", weight: 50)).first { $0.kind == .virtualService }!
        await store.apply(reweighted)
        #expect(await waitUntil { await versions(cache, b.id)[EnvoyTypeURL.routeConfiguration] != b0[EnvoyTypeURL.routeConfiguration] })
        let b1 = await versions(cache, b.id)
        #expect(b1[EnvoyTypeURL.cluster] == b0[EnvoyTypeURL.cluster])
        #expect(b1[EnvoyTypeURL.clusterLoadAssignment] == b0[EnvoyTypeURL.clusterLoadAssignment])
        #expect(await versions(cache, a.id) == a1)

        // A disconnected proxy is forgotten.
        producer.callbacks.streamClosed(XDSConnectionInfo(connectionID: "c1", mode: .stateOfTheWorld, peer: "test", node: a), error: nil)
        #expect(await waitUntil { await cache.snapshot(for: a.id) == nil })
        #expect(await producer.connectedProxies == [b.id])
        await producer.finish()
    }

    /// Two instances of a workload in one namespace hold one copy of their outbound resources,
    /// and an edit that leaves a namespace's resources alone keeps that copy.
    @Test func instancesOfANamespaceShareTheirOutboundResources() async throws {
        let store = InMemoryConfigStore(try Self.decode(Self.config(namespace: "a", address: "127.0.0.10") + "\n---\n" + Self.config(namespace: "b", address: "127.0.0.20")))
        let cache = SnapshotCache()
        let producer = IstioSnapshotProducer(store: store, cache: cache, quietPeriod: .milliseconds(10), maximumDelay: .seconds(1))
        let running = Task { await producer.run() }
        defer { running.cancel() }
        let first = Self.node("a", ip: "127.0.0.11"), second = Self.node("a", ip: "127.0.0.12")
        producer.callbacks.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "c1", mode: .stateOfTheWorld, peer: "test", node: first))
        producer.callbacks.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "c2", mode: .stateOfTheWorld, peer: "test", node: second))
        #expect(await waitUntil {
            let one = await cache.snapshot(for: first.id)
            let two = await cache.snapshot(for: second.id)
            return one != nil && two != nil
        })
        func storage(_ id: String, _ typeURL: String) async -> UnsafeRawPointer? {
            await cache.snapshot(for: id)?.resources[typeURL]?.shared.sorted.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        for typeURL in [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.routeConfiguration] {
            let one = await storage(first.id, typeURL)
            #expect(one != nil, "\(typeURL) has a shared layer")
            #expect(one == (await storage(second.id, typeURL)), "\(typeURL) is stored once for both instances")
            let merged = await cache.snapshot(for: first.id)?.resources[typeURL]
            #expect((merged?.count ?? 0) >= (merged?.shared.count ?? 1))
        }
        // Own resources differ: each instance has its own listeners.
        #expect(await cache.snapshot(for: first.id)?.resources[EnvoyTypeURL.listener]?.shared.isEmpty == true)

        // An edit in namespace b rebuilds everything, but a's shared clusters are kept, not copied.
        let before = await storage(first.id, EnvoyTypeURL.cluster)
        let pushes = await producer.pushes
        let reweighted = try Self.decode(Self.config(namespace: "b", address: "127.0.0.20", weight: 50)).first { $0.kind == .virtualService }!
        await store.apply(reweighted)
        #expect(await waitUntil { await producer.pushes > pushes })
        #expect(await storage(first.id, EnvoyTypeURL.cluster) == before)
        await producer.finish()
    }

    @Test func digestIsStable() {
        #expect(IstioSnapshotProducer.digest("a") == IstioSnapshotProducer.digest("a"))
        #expect(IstioSnapshotProducer.digest("a") != IstioSnapshotProducer.digest("b"))
        #expect(IstioSnapshotProducer.digest("").count == 16)
    }
}
