import Foundation
@testable import MeshXDS
import SwiftProtobuf
import Testing

/// The ADS protocol rules, driven without gRPC.
@Suite struct SotWStateMachineTests {
    typealias Request = Envoy_Service_Discovery_V3_DiscoveryRequest

    static func request(_ typeURL: String, names: [String] = [], version: String = "", nonce: String = "", node: Bool = false, error: String? = nil) -> Request {
        .with {
            if node { $0.node = XDSFixtures.node }
            $0.typeURL = typeURL
            $0.resourceNames = names
            $0.versionInfo = version
            $0.responseNonce = nonce
            if let error { $0.errorDetail = .with { $0.code = 3; $0.message = error } }
        }
    }

    static func sends(_ actions: [SotWStateMachine.Action]) -> [(typeURL: String, version: String, nonce: String, names: [String])] {
        actions.compactMap {
            if case .send(_, let sent) = $0 { return (sent.typeURL, sent.version, sent.nonce, sent.resourceNames) }
            return nil
        }
    }

    @Test func firstRequestNeedsANode() {
        var machine = SotWStateMachine()
        let actions = machine.receive(Self.request(EnvoyTypeURL.cluster))
        guard case .fail(let error)? = actions.first else { Issue.record("expected failure, got \(actions)"); return }
        #expect(error.code == .invalidRequest)
    }

    @Test func initialFetchWaitsForASnapshotThenSends() throws {
        var machine = SotWStateMachine()
        let first = machine.receive(Self.request(EnvoyTypeURL.cluster, node: true))
        #expect(first.contains { if case .startWatch = $0 { true } else { false } })
        #expect(Self.sends(first).isEmpty)
        let pushed = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let sends = Self.sends(pushed)
        #expect(sends.count == 1)
        #expect(sends.first?.typeURL == EnvoyTypeURL.cluster)
        #expect(sends.first?.version == "v1")
        #expect(sends.first?.names == ["c1"])
    }

    @Test func ackRecordsAndNextPushWaitsForIt() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let sent = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))
        #expect(sent.count == 1)
        // v2 arrives before the ACK of v1: nothing is sent (one unacknowledged response per type).
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v2"))).isEmpty)
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v3"))).isEmpty)
        // The ACK of v1 releases the newest version only (v2 was coalesced away).
        let afterAck = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: sent[0].nonce))
        #expect(afterAck.contains { if case .ack(EnvoyTypeURL.cluster, "v1", sent[0].nonce) = $0 { true } else { false } })
        #expect(Self.sends(afterAck).map(\.version) == ["v3"])
    }

    @Test func nackKeepsVersionAndDoesNotResendIt() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let v1 = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))[0]
        _ = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: v1.nonce))
        let v2 = Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v2")))[0]
        let nack = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: v2.nonce, error: "bad cluster"))
        guard case .nack(let typeURL, let version, let nonce, let detail)? = nack.first else { Issue.record("no nack: \(nack)"); return }
        #expect(typeURL == EnvoyTypeURL.cluster && version == "v1" && nonce == v2.nonce && detail.message == "bad cluster")
        #expect(Self.sends(nack).isEmpty, "the rejected version must not be resent")
        // A new version goes out.
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v3"))).map(\.version) == ["v3"])
    }

    @Test func staleNonceIsIgnored() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let v1 = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))[0]
        let stale = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v0", nonce: "999"))
        #expect(stale.isEmpty)
        #expect(machine.types[EnvoyTypeURL.cluster]?.pending?.nonce == v1.nonce)
    }

    @Test func namedSubscriptionsForEndpointsAndRoutes() throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [XDSFixtures.endpoints("c1"), XDSFixtures.endpoints("c2")])
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(snapshot)
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c2"], node: true)))
        #expect(first.map(\.names) == [["c2"]])
        // Changing names on the ACK sends the same version with the new set.
        let second = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c1", "c2"], version: "v1", nonce: first[0].nonce)))
        #expect(second.map(\.names) == [["c1", "c2"]])
        #expect(second.map(\.version) == ["v1"])
    }

    @Test func subscriptionChangeAfterTheAckCarriesTheLastNonce() throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [XDSFixtures.endpoints("c1"), XDSFixtures.endpoints("c2")])
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(snapshot)
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c1"], node: true)))[0]
        let ack = machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c1"], version: "v1", nonce: first.nonce))
        #expect(Self.sends(ack).isEmpty)
        let change = machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c2"], version: "v1", nonce: first.nonce))
        #expect(Self.sends(change).map(\.names) == [["c2"]])
        #expect(!change.contains { if case .ack = $0 { true } else { false } }, "a subscription change is not a second ACK")
    }

    @Test func aNonceFromAnEarlierStreamDoesNotBlockTheFirstResponse() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let sends = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v0", nonce: "42", node: true)))
        #expect(sends.map(\.version) == ["v1"])
    }

    @Test(arguments: [EnvoyTypeURL.cluster, EnvoyTypeURL.listener])
    func emptyNamesMeanWildcardForClustersAndListeners(typeURL: String) {
        let subscription = SotWStateMachine.subscription(from: [], typeURL: typeURL, isFirst: false, previous: .names(["x"]))
        #expect(subscription == .wildcard)
    }

    @Test func emptyNamesAfterNamesUnsubscribeEndpoints() {
        let subscription = SotWStateMachine.subscription(from: [], typeURL: EnvoyTypeURL.clusterLoadAssignment, isFirst: false, previous: .names(["c1"]))
        #expect(subscription == .names([]))
    }

    @Test func fullPushGoesOutInEnvoyOrder() throws {
        var machine = SotWStateMachine()
        _ = machine.receive(Self.request(EnvoyTypeURL.routeConfiguration, names: ["r1"], node: true))
        _ = machine.receive(Self.request(EnvoyTypeURL.listener))
        _ = machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c1"]))
        _ = machine.receive(Self.request(EnvoyTypeURL.cluster))
        let order = Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v1"))).map(\.typeURL)
        #expect(order == [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration])
    }

    @Test func routesWaitForClustersStillAwaitingAnAck() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let cds = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))[0]
        _ = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: cds.nonce))
        let rds = Self.sends(machine.receive(Self.request(EnvoyTypeURL.routeConfiguration, names: ["r1"])))[0]
        _ = machine.receive(Self.request(EnvoyTypeURL.routeConfiguration, names: ["r1"], version: "v1", nonce: rds.nonce))
        // v2 changes both; CDS v2 goes out, CDS v3 then waits for its ACK, and RDS v3 must wait behind it.
        let cds2 = Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v2")))
        #expect(cds2.map(\.typeURL) == [EnvoyTypeURL.cluster, EnvoyTypeURL.routeConfiguration])
        _ = machine.receive(Self.request(EnvoyTypeURL.routeConfiguration, names: ["r1"], version: "v2", nonce: cds2[1].nonce))
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v3"))).isEmpty, "RDS v3 must not overtake CDS v3")
        let released = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v2", nonce: cds2[0].nonce)))
        #expect(released.map(\.typeURL) == [EnvoyTypeURL.cluster, EnvoyTypeURL.routeConfiguration])
    }

    @Test func fullPushResendsUnchangedTypes() throws {
        var machine = SotWStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let cds = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))[0]
        _ = machine.receive(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: cds.nonce))
        #expect(Self.sends(machine.pushRequested(full: false)).isEmpty)
        #expect(Self.sends(machine.pushRequested(full: true)).map(\.version) == ["v1"])
    }

    @Test func unknownTypesAreServedWhenTheSnapshotHasThem() throws {
        var machine = SotWStateMachine()
        var snapshot = try XDSFixtures.snapshot("v1")
        let secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret.with { $0.name = "default" }
        try snapshot.set(EnvoyTypeURL.secret, version: "s1", messages: [secret])
        _ = machine.snapshotChanged(snapshot)
        let sds = Self.sends(machine.receive(Self.request(EnvoyTypeURL.secret, names: ["default"], node: true)))
        #expect(sds.map(\.names) == [["default"]])
        #expect(Self.sends(machine.receive(Self.request("type.googleapis.com/some.Unknown"))).isEmpty)
    }
}

@Suite struct DeltaStateMachineTests {
    typealias Request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest

    static func request(_ typeURL: String, subscribe: [String] = [], unsubscribe: [String] = [], nonce: String = "", node: Bool = false, error: String? = nil, initial: [String: String] = [:]) -> Request {
        .with {
            if node { $0.node = XDSFixtures.node }
            $0.typeURL = typeURL
            $0.resourceNamesSubscribe = subscribe
            $0.resourceNamesUnsubscribe = unsubscribe
            $0.responseNonce = nonce
            $0.initialResourceVersions = initial
            if let error { $0.errorDetail = .with { $0.code = 3; $0.message = error } }
        }
    }

    static func sends(_ actions: [DeltaStateMachine.Action]) -> [XDSSentResponse] {
        actions.compactMap { if case .send(_, let sent) = $0 { sent } else { nil } }
    }

    @Test func wildcardInitialFetchThenOnlyChanges() throws {
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true)))
        #expect(first.map(\.resourceNames) == [["c1"]])
        _ = machine.receive(Self.request(EnvoyTypeURL.cluster, nonce: first[0].nonce))
        // Same clusters, new version label: nothing changed for CDS, so nothing is sent.
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v2"))).isEmpty)
        var snapshot = try XDSFixtures.snapshot("v3")
        try snapshot.set(EnvoyTypeURL.cluster, version: "v3", messages: [XDSFixtures.edsCluster("c2")])
        let changed = Self.sends(machine.snapshotChanged(snapshot))
        #expect(changed.map(\.resourceNames) == [["c2"]])
        #expect(changed.map(\.removedNames) == [["c1"]])
    }

    @Test func initialResourceVersionsSkipWhatTheProxyHas() throws {
        let snapshot = try XDSFixtures.snapshot("v1")
        let version = snapshot.resources[EnvoyTypeURL.cluster]!.items["c1"]!.version
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(snapshot)
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.cluster, node: true, initial: ["c1": version, "gone": "x"])))
        #expect(first.map(\.resourceNames) == [[]])
        #expect(first.map(\.removedNames) == [["gone"]])
    }

    @Test func subscribeAndUnsubscribeNames() throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [XDSFixtures.endpoints("c1"), XDSFixtures.endpoints("c2")])
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(snapshot)
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c1"], node: true)))
        #expect(first.map(\.resourceNames) == [["c1"]])
        let second = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c2"], unsubscribe: ["c1"], nonce: first[0].nonce)))
        #expect(second.map(\.resourceNames) == [["c2"]])
        #expect(machine.types[EnvoyTypeURL.clusterLoadAssignment]?.known.keys.sorted() == ["c2"])
    }

    @Test func resubscribingAfterAnUnsubscribeResendsAndARepeatedSubscribeSendsNothing() throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [XDSFixtures.endpoints("c1"), XDSFixtures.endpoints("c2")])
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(snapshot)
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c1", "c2"], node: true)))
        #expect(first.map(\.resourceNames) == [["c1", "c2"]])
        // An ACK that also repeats a name already subscribed changes nothing.
        #expect(Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c1"], nonce: first[0].nonce))).isEmpty)
        // Unsubscribing sends nothing (the proxy drops it itself) ...
        #expect(Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, unsubscribe: ["c1"]))).isEmpty)
        // ... and subscribing again sends it again, unchanged as it is.
        let again = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c1"])))
        #expect(again.map(\.resourceNames) == [["c1"]])
        #expect(again.map(\.removedNames) == [[]])
    }

    @Test func nackIsReportedAndNotResent() throws {
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.listener, node: true)))
        let nack = machine.receive(Self.request(EnvoyTypeURL.listener, nonce: first[0].nonce, error: "bad listener"))
        #expect(nack.contains { if case .nack(EnvoyTypeURL.listener, "", _, _) = $0 { true } else { false } })
        #expect(Self.sends(nack).isEmpty)
    }

    @Test func oneUnacknowledgedResponsePerType() throws {
        var machine = DeltaStateMachine()
        _ = machine.snapshotChanged(try XDSFixtures.snapshot("v1"))
        let first = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, subscribe: ["c1"], node: true)))
        #expect(Self.sends(machine.snapshotChanged(try XDSFixtures.snapshot("v2", endpointPort: 9000))).isEmpty)
        let released = Self.sends(machine.receive(Self.request(EnvoyTypeURL.clusterLoadAssignment, nonce: first[0].nonce)))
        #expect(released.map(\.version) == ["v2"])
    }
}

@Suite struct SnapshotTests {
    @Test func consistentSnapshotPasses() throws {
        try XDSFixtures.snapshot("v1").validateConsistency()
    }

    @Test func missingEndpointsAreRefused() throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment]())
        #expect(throws: XDSError.self) { try snapshot.validateConsistency() }
        do {
            try snapshot.validateConsistency()
        } catch {
            #expect(error.code == .inconsistentSnapshot)
            #expect(error.message.contains("\"c1\""))
        }
    }

    @Test func missingRoutesAreRefused() async throws {
        var snapshot = try XDSFixtures.snapshot("v1")
        try snapshot.set(EnvoyTypeURL.routeConfiguration, version: "v1", messages: [XDSFixtures.routes("other", cluster: "c1")])
        let cache = SnapshotCache()
        await #expect(throws: XDSError.self) { try await cache.setSnapshot(snapshot, for: XDSFixtures.nodeID) }
        #expect(await cache.snapshot(for: XDSFixtures.nodeID) == nil)
    }

    @Test func resourceVersionsFollowContent() throws {
        let a = try XDSResource(XDSFixtures.edsCluster("c1"))
        let b = try XDSResource(XDSFixtures.edsCluster("c1"))
        let c = try XDSResource(XDSFixtures.staticCluster("c1", port: 1))
        #expect(a.version == b.version)
        #expect(a.version != c.version)
        #expect(a.name == "c1")
    }

    @Test func cacheNotifiesWatchers() async throws {
        let cache = SnapshotCache()
        try await cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
        let stream = await cache.snapshots(for: XDSFixtures.node)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next()?.version(of: EnvoyTypeURL.cluster) == "v1")
        try await cache.setSnapshot(XDSFixtures.snapshot("v2"), for: XDSFixtures.nodeID)
        #expect(await iterator.next()?.version(of: EnvoyTypeURL.cluster) == "v2")
        #expect(await cache.watchCount(for: XDSFixtures.nodeID) == 1)
    }
}
