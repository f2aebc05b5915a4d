import Foundation
import GRPCCore
import GRPCInProcessTransport
import MeshXDS
import SwiftProtobuf
import Synchronization
import Testing

/// Records what the server sent, per type URL, in order.
final class SentRecorder: XDSServerCallbacks {
    let sent = Mutex<[(typeURL: String, version: String)]>([])

    func responseSent(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse, on connection: XDSConnectionInfo) {
        sent.withLock { $0.append((response.typeURL, response.versionInfo)) }
    }

    func deltaResponseSent(_ response: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse, on connection: XDSConnectionInfo) {
        sent.withLock { $0.append((response.typeURL, response.systemVersionInfo)) }
    }

    func count(_ typeURL: String) -> Int { sent.withLock { $0.filter { $0.typeURL == typeURL }.count } }
    var types: [String] { sent.withLock { $0.map(\.typeURL) } }
}

/// An ADS server and a gRPC client joined by grpc-swift's in-process transport.
struct ADSHarness {
    let cache: SnapshotCache
    let server: AggregatedDiscoveryServer
    let recorder: SentRecorder
    let client: GRPCClient<InProcessTransport.Client>

    static func run(_ body: @Sendable (ADSHarness) async throws -> Void) async throws {
        let cache = SnapshotCache()
        let recorder = SentRecorder()
        let ads = AggregatedDiscoveryServer(watcher: cache, callbacks: recorder)
        let transport = InProcessTransport()
        let server = GRPCServer(transport: transport.server, services: [ads])
        let client = GRPCClient(transport: transport.client)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            group.addTask { try await client.runConnections() }
            do {
                try await body(ADSHarness(cache: cache, server: ads, recorder: recorder, client: client))
            } catch {
                group.cancelAll()
                throw error
            }
            await ads.closeAllStreams()
            group.cancelAll()
        }
    }

    /// Starts an XDSClient subscribed to CDS and LDS (wildcard), EDS c1 and RDS r1.
    func startClient(mode: XDSProtocolMode, validate: @escaping XDSClient.Validator = { _, _ in }) async -> (XDSClient, Task<Void, Never>) {
        let xds = XDSClient(client: client, node: XDSFixtures.node, mode: mode, backoff: .init(initial: .milliseconds(20), maximum: .milliseconds(200)), validate: validate)
        await xds.subscribe(EnvoyTypeURL.cluster, .wildcard)
        await xds.subscribe(EnvoyTypeURL.clusterLoadAssignment, .names(["c1"]))
        await xds.subscribe(EnvoyTypeURL.listener, .wildcard)
        await xds.subscribe(EnvoyTypeURL.routeConfiguration, .names(["r1"]))
        let task = Task { await xds.run() }
        return (xds, task)
    }

    static let allTypes = [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration]

    func waitForVersion(_ xds: XDSClient, _ version: String, types: [String] = allTypes) async throws {
        try await eventually(30, "client at \(version)") {
            for typeURL in types where await xds.version(typeURL) != version { return false }
            return true
        }
    }

    func waitForAcks(_ version: String, types: [String] = allTypes) async throws {
        let registry = server.registry
        try await eventually(30, "server recorded ACKs of \(version)") {
            guard let status = await registry.statuses(nodeID: XDSFixtures.nodeID).first else { return false }
            return types.allSatisfy { status.types[$0]?.lastAckedVersion == version && status.types[$0]?.syncState == .synced }
        }
    }
}

@Suite(.timeLimit(.minutes(3))) struct ADSEndToEndTests {
    static let modes: [XDSProtocolMode] = [.stateOfTheWorld, .delta]

    @Test(arguments: modes) func initialFetchIsAcknowledged(mode: XDSProtocolMode) async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: mode)
            defer { task.cancel() }
            try await ads.waitForVersion(xds, "v1")
            try await ads.waitForAcks("v1")
            #expect(await xds.resources(EnvoyTypeURL.cluster).keys.sorted() == ["c1"])
            #expect(await xds.resources(EnvoyTypeURL.routeConfiguration).keys.sorted() == ["r1"])
            let status = try #require(await ads.server.registry.statuses().first)
            #expect(status.mode == mode)
            #expect(status.nodeCluster == "test.default")
            #expect(status.types[EnvoyTypeURL.clusterLoadAssignment]?.subscribedNames == ["c1"])
            #expect(status.types[EnvoyTypeURL.cluster]?.wildcard == true)
            // The status is JSON-friendly, for /debug/syncz.
            let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
            #expect(json.contains("lastAckedVersion"))
        }
    }

    @Test(arguments: modes) func updatePushesOnlyChangedTypes(mode: XDSProtocolMode) async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: mode)
            defer { task.cancel() }
            try await ads.waitForAcks("v1")
            let before = ADSHarness.allTypes.map { ads.recorder.count($0) }
            var snapshot = try XDSFixtures.snapshot("v1")
            try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v2", messages: [XDSFixtures.endpoints("c1", port: 9999)])
            try await ads.cache.setSnapshot(snapshot, for: XDSFixtures.nodeID)
            try await ads.waitForVersion(xds, "v2", types: [EnvoyTypeURL.clusterLoadAssignment])
            try await ads.waitForAcks("v2", types: [EnvoyTypeURL.clusterLoadAssignment])
            let after = ADSHarness.allTypes.map { ads.recorder.count($0) }
            #expect(after[1] == before[1] + 1)
            #expect(after[0] == before[0] && after[2] == before[2] && after[3] == before[3])
            let endpoints = await xds.resources(EnvoyTypeURL.clusterLoadAssignment)
            let assignment = try Envoy_Config_Endpoint_V3_ClusterLoadAssignment(unpackingAny: try #require(endpoints["c1"]))
            #expect(assignment.endpoints.first?.lbEndpoints.first?.endpoint.address.socketAddress.portValue == 9999)
        }
    }

    @Test(arguments: modes) func endpointNameSubscriptionsFollowTheClient(mode: XDSProtocolMode) async throws {
        try await ADSHarness.run { ads in
            var snapshot = try XDSFixtures.snapshot("v1")
            try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v1", messages: [XDSFixtures.endpoints("c1"), XDSFixtures.endpoints("c2")])
            try await ads.cache.setSnapshot(snapshot, for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: mode)
            defer { task.cancel() }
            try await ads.waitForAcks("v1")
            #expect(await xds.resources(EnvoyTypeURL.clusterLoadAssignment).keys.sorted() == ["c1"])
            await xds.subscribe(EnvoyTypeURL.clusterLoadAssignment, .names(["c2"]))
            try await eventually(10, "EDS c2 only") { await xds.resources(EnvoyTypeURL.clusterLoadAssignment).keys.sorted() == ["c2"] }
            try await eventually(10, "server sees c2") {
                await ads.server.registry.statuses().first?.types[EnvoyTypeURL.clusterLoadAssignment]?.subscribedNames == ["c2"]
            }
            // A subscribed resource that disappears from the snapshot is removed from the client.
            try snapshot.set(EnvoyTypeURL.clusterLoadAssignment, version: "v2", messages: [XDSFixtures.endpoints("c1")])
            try await ads.cache.setSnapshot(snapshot, for: XDSFixtures.nodeID)
            try await eventually(10, "EDS c2 removed") {
                let version = await xds.version(EnvoyTypeURL.clusterLoadAssignment)
                let resources = await xds.resources(EnvoyTypeURL.clusterLoadAssignment)
                return version == "v2" && resources.isEmpty
            }
        }
    }

    @Test(arguments: modes) func nackIsVisibleAndClientKeepsLastGood(mode: XDSProtocolMode) async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: mode) { typeURL, resources in
                if resources.keys.contains("bad") { throw XDSError(code: .rejected, message: "cluster bad is not allowed") }
            }
            defer { task.cancel() }
            try await ads.waitForAcks("v1")
            var snapshot = try XDSFixtures.snapshot("v1")
            try snapshot.set(EnvoyTypeURL.cluster, version: "v2", messages: [XDSFixtures.edsCluster("c1"), XDSFixtures.staticCluster("bad", port: 1)])
            try await ads.cache.setSnapshot(snapshot, for: XDSFixtures.nodeID)
            let registry = ads.server.registry
            try await eventually(10, "NACK recorded") {
                await registry.statuses().first?.types[EnvoyTypeURL.cluster]?.lastNack != nil
            }
            let cds = try #require(await registry.statuses().first?.types[EnvoyTypeURL.cluster])
            #expect(cds.lastNack?.message == "cluster bad is not allowed")
            #expect(cds.lastNack?.rejectedVersion == "v2")
            #expect(cds.lastAckedVersion == "v1")
            #expect(cds.syncState == .nacked)
            if mode == .stateOfTheWorld { #expect(cds.lastNack?.version == "v1") }
            #expect(await xds.version(EnvoyTypeURL.cluster) == "v1")
            #expect(await xds.resources(EnvoyTypeURL.cluster).keys.sorted() == ["c1"])
            // The rejected version is not resent; a fixed one is accepted.
            try await Task.sleep(for: .milliseconds(200))
            #expect(ads.recorder.count(EnvoyTypeURL.cluster) == 2)
            try snapshot.set(EnvoyTypeURL.cluster, version: "v3", messages: [XDSFixtures.edsCluster("c1"), XDSFixtures.staticCluster("good", port: 1)])
            try await ads.cache.setSnapshot(snapshot, for: XDSFixtures.nodeID)
            try await ads.waitForAcks("v3", types: [EnvoyTypeURL.cluster])
            #expect(await xds.resources(EnvoyTypeURL.cluster).keys.sorted() == ["c1", "good"])
        }
    }

    @Test func inconsistentSnapshotIsRefusedAndProxiesStay() async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: .stateOfTheWorld)
            defer { task.cancel() }
            try await ads.waitForAcks("v1")
            var broken = try XDSFixtures.snapshot("v2")
            try broken.set(EnvoyTypeURL.routeConfiguration, version: "v2", messages: [Envoy_Config_Route_V3_RouteConfiguration]())
            await #expect(throws: XDSError.self) { try await ads.cache.setSnapshot(broken, for: XDSFixtures.nodeID) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(await xds.version(EnvoyTypeURL.listener) == "v1")
            #expect(ads.recorder.count(EnvoyTypeURL.listener) == 1)
        }
    }

    @Test(arguments: modes) func closedStreamsReconnect(mode: XDSProtocolMode) async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            let (xds, task) = await ads.startClient(mode: mode)
            defer { task.cancel() }
            try await ads.waitForAcks("v1")
            await ads.server.closeAllStreams()
            try await eventually(10, "reconnected") { await xds.connectionCount >= 2 }
            try await ads.waitForAcks("v1")
            // Delta sends only changed resources, so change the endpoints.
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v2", endpointPort: 9001), for: XDSFixtures.nodeID)
            try await ads.waitForVersion(xds, "v2", types: [EnvoyTypeURL.clusterLoadAssignment])
            #expect(await ads.server.registry.count == 1)
        }
    }
}

/// The server's wire behaviour, seen through a raw ADS stream.
@Suite(.timeLimit(.minutes(1))) struct ADSWireTests {
    typealias Request = Envoy_Service_Discovery_V3_DiscoveryRequest
    typealias Response = Envoy_Service_Discovery_V3_DiscoveryResponse

    /// Opens a raw SotW stream; `body` gets a request sink and the responses received so far.
    static func rawStream(_ ads: ADSHarness, _ body: @escaping @Sendable (AsyncStream<Request>.Continuation, RawResponses) async throws -> Void) async throws {
        let stub = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: ads.client)
        let (requests, input) = AsyncStream.makeStream(of: Request.self)
        try await stub.streamAggregatedResources(request: StreamingClientRequest { writer in
            for await request in requests { try await writer.write(request) }
        }) { response in
            let buffer = RawResponses()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in response.messages { buffer.append(message) }
                }
                do {
                    try await body(input, buffer)
                } catch {
                    input.finish()
                    group.cancelAll()
                    throw error
                }
                input.finish()
                group.cancelAll()
            }
        }
    }

    /// Responses as they arrive; ``next(within:)`` takes them in order.
    final class RawResponses: Sendable {
        private let state = Mutex<(items: [Response], taken: Int)>(([], 0))
        func append(_ response: Response) { state.withLock { $0.items.append(response) } }
        /// The next response, or nil if none arrives within `seconds`.
        func next(within seconds: Double) async throws -> Response? {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while true {
                let next: Response? = state.withLock {
                    guard $0.taken < $0.items.count else { return nil }
                    $0.taken += 1
                    return $0.items[$0.taken - 1]
                }
                if let next { return next }
                if ContinuousClock.now >= deadline { return nil }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    static func request(_ typeURL: String, names: [String] = [], version: String = "", nonce: String = "", node: Bool = false) -> Request {
        .with {
            if node { $0.node = XDSFixtures.node }
            $0.typeURL = typeURL
            $0.resourceNames = names
            $0.versionInfo = version
            $0.responseNonce = nonce
        }
    }

    @Test func noSecondResponseOfATypeBeforeTheAck() async throws {
        try await ADSHarness.run { ads in
            try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
            try await Self.rawStream(ads) { requests, responses in
                requests.yield(Self.request(EnvoyTypeURL.cluster, node: true))
                let first = try #require(try await responses.next(within: 20))
                #expect(first.versionInfo == "v1")
                try await ads.cache.setSnapshot(XDSFixtures.snapshot("v2"), for: XDSFixtures.nodeID)
                try await ads.cache.setSnapshot(XDSFixtures.snapshot("v3"), for: XDSFixtures.nodeID)
                #expect(try await responses.next(within: 0.3) == nil, "a second CDS response arrived before the ACK")
                requests.yield(Self.request(EnvoyTypeURL.cluster, version: "v1", nonce: first.nonce))
                let second = try #require(try await responses.next(within: 20))
                #expect(second.versionInfo == "v3")
                #expect(second.nonce != first.nonce)
            }
        }
    }

    @Test func fullPushOrdersClustersBeforeEndpointsAndListenersBeforeRoutes() async throws {
        try await ADSHarness.run { ads in
            try await Self.rawStream(ads) { requests, responses in
                requests.yield(Self.request(EnvoyTypeURL.routeConfiguration, names: ["r1"], node: true))
                requests.yield(Self.request(EnvoyTypeURL.listener))
                requests.yield(Self.request(EnvoyTypeURL.clusterLoadAssignment, names: ["c1"]))
                requests.yield(Self.request(EnvoyTypeURL.cluster))
                try await eventually(5, "subscriptions recorded") {
                    await ads.server.registry.statuses().first?.types.count == 4
                }
                try await ads.cache.setSnapshot(XDSFixtures.snapshot("v1"), for: XDSFixtures.nodeID)
                var order: [String] = []
                for _ in 0..<4 {
                    let response = try #require(try await responses.next(within: 20))
                    order.append(response.typeURL)
                }
                #expect(order == [EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment, EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration])
            }
        }
    }
}
