@testable import MeshXDS
import SwiftProtobuf
import Testing

/// The client's side of the protocol, without gRPC.
@Suite struct XDSClientStateMachineTests {
    struct Rejected: Error, CustomStringConvertible { var description: String { "no thanks" } }

    static func response(_ version: String, nonce: String, clusters: [String]) throws -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        try .with {
            $0.typeURL = EnvoyTypeURL.cluster
            $0.versionInfo = version
            $0.nonce = nonce
            $0.resources = try clusters.map { try XDSResource(XDSFixtures.edsCluster($0)).resource }
        }
    }

    @Test func sotwAcksAcceptedAndNacksRejectedKeepingLastGood() throws {
        var machine = XDSClientStateMachine(node: XDSFixtures.node, mode: .stateOfTheWorld)
        _ = machine.subscribe(EnvoyTypeURL.cluster, .wildcard)
        guard case .sotw(let initial)? = machine.connected().first else { Issue.record("no initial request"); return }
        #expect(initial.node.id == XDSFixtures.nodeID)
        #expect(initial.responseNonce.isEmpty)

        let (ack, update) = machine.received(try Self.response("v1", nonce: "1", clusters: ["a"]), validate: { _, _ in })
        guard case .sotw(let ackRequest) = ack else { Issue.record("expected SotW"); return }
        #expect(ackRequest.versionInfo == "v1" && ackRequest.responseNonce == "1" && !ackRequest.hasErrorDetail)
        #expect(!ackRequest.hasNode, "the node goes on the first request only")
        #expect(update?.resources.keys.sorted() == ["a"])

        let (nack, rejected) = machine.received(try Self.response("v2", nonce: "2", clusters: ["b"]), validate: { _, _ in throw Rejected() })
        guard case .sotw(let nackRequest) = nack else { Issue.record("expected SotW"); return }
        #expect(nackRequest.versionInfo == "v1" && nackRequest.responseNonce == "2")
        #expect(nackRequest.errorDetail.message == "no thanks")
        #expect(rejected == nil)
        #expect(machine.state(EnvoyTypeURL.cluster)?.resources.keys.sorted() == ["a"])
    }

    @Test func deltaReconnectReportsHeldVersions() throws {
        var machine = XDSClientStateMachine(node: XDSFixtures.node, mode: .delta)
        _ = machine.subscribe(EnvoyTypeURL.clusterLoadAssignment, .names(["c1"]))
        _ = machine.connected()
        let resource = try XDSResource(XDSFixtures.endpoints("c1"))
        let response = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse.with {
            $0.typeURL = EnvoyTypeURL.clusterLoadAssignment
            $0.systemVersionInfo = "v1"
            $0.nonce = "1"
            $0.resources = [.with { $0.name = "c1"; $0.version = resource.version; $0.resource = resource.resource }]
        }
        _ = machine.received(response, validate: { _, _ in })
        machine.disconnected()
        guard case .delta(let again)? = machine.connected().first else { Issue.record("no initial request"); return }
        #expect(again.initialResourceVersions == ["c1": resource.version])
        #expect(again.resourceNamesSubscribe == ["c1"])
        #expect(again.node.id == XDSFixtures.nodeID)

        let change = machine.subscribe(EnvoyTypeURL.clusterLoadAssignment, .names(["c2"]))
        guard case .delta(let request)? = change.first else { Issue.record("no change request"); return }
        #expect(request.resourceNamesSubscribe == ["c2"] && request.resourceNamesUnsubscribe == ["c1"])
        #expect(machine.state(EnvoyTypeURL.clusterLoadAssignment)?.resources.isEmpty == true)
    }

    @Test(arguments: [(0, 100), (1, 200), (2, 400), (3, 800), (10, 1000)])
    func backoffGrowsToItsCap(attempt: Int, milliseconds: Int) {
        let backoff = XDSClient.Backoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2)
        #expect(backoff.delay(attempt: attempt) == .milliseconds(milliseconds))
    }
}
