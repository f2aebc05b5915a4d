// A lightweight ADS client for the benchmark's simulated proxies: it speaks the same protocol as
// `XDSClient` (SotW or delta, wildcard CDS/LDS, EDS/RDS by the names those name, ACK of every
// response), but keeps no decoded or serialized resource per proxy. Each distinct resource body is
// kept once in a `ResourceCatalog` shared by every proxy; a proxy holds, per type, one interned
// `HeldSet` (name -> content digest), which proxies with identical configuration share.
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshXDS
import SwiftProtobuf
import Synchronization

/// FNV-1a (64 bit) over a type URL and bytes.
func contentDigest(_ typeURL: String, _ bytes: Data) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in typeURL.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    bytes.withUnsafeBytes { raw in
        for byte in raw { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    return hash
}

/// FNV-1a (64 bit) over a string.
func stringDigest(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// One distinct resource body seen by any simulated proxy.
final class ResourceInfo: Sendable {
    let typeURL: String
    let digest: UInt64
    /// The resource's name (decoded once per distinct body).
    let name: String
    /// What a proxy subscribes to because of it: an EDS cluster's load assignment, a listener's route configurations.
    let dependents: [String]
    /// The serialized resource (own storage, not a slice of a response).
    let bytes: Data

    init(typeURL: String, digest: UInt64, bytes: Data) {
        self.typeURL = typeURL
        self.digest = digest
        self.bytes = bytes.withUnsafeBytes { Data($0) }
        var any = Google_Protobuf_Any()
        any.typeURL = typeURL
        any.value = bytes
        name = XDSResource.name(ofPacked: any) ?? "undecodable-\(String(digest, radix: 16))"
        switch typeURL {
        case EnvoyTypeURL.cluster:
            if let cluster = try? Envoy_Config_Cluster_V3_Cluster(unpackingAny: any), case .type(.eds)? = cluster.clusterDiscoveryType {
                dependents = [cluster.edsClusterConfig.serviceName.isEmpty ? cluster.name : cluster.edsClusterConfig.serviceName]
            } else {
                dependents = []
            }
        case EnvoyTypeURL.listener:
            if let listener = try? Envoy_Config_Listener_V3_Listener(unpackingAny: any) {
                dependents = Snapshot.routeConfigNames(in: listener)
            } else {
                dependents = []
            }
        default:
            dependents = []
        }
    }
}

/// The resources of one type a simulated proxy holds: name -> content digest. Interned by the
/// catalog, so every proxy holding the same resources shares one instance.
final class HeldSet: Sendable {
    let typeURL: String
    let digests: [String: UInt64]
    /// The names these resources make a proxy subscribe to (CDS -> EDS, LDS -> RDS).
    let dependents: Set<String>
    /// Serialized size of the resources.
    let serializedBytes: Int

    init(typeURL: String, digests: [String: UInt64], dependents: Set<String>, serializedBytes: Int) {
        self.typeURL = typeURL
        self.digests = digests
        self.dependents = dependents
        self.serializedBytes = serializedBytes
    }

    /// Order-independent digest of the (name, digest) pairs.
    static func setDigest(_ digests: [String: UInt64]) -> UInt64 {
        var sum: UInt64 = 0
        for (name, digest) in digests {
            var x = stringDigest(name) ^ (digest &* 0x9e37_79b9_7f4a_7c15)
            x ^= x >> 31
            x = x &* 0xbf58_476d_1ce4_e5b9
            sum = sum &+ (x ^ (x >> 29))
        }
        return sum
    }
}

/// Every distinct resource body and every distinct held set the simulated proxies have seen.
final class ResourceCatalog: Sendable {
    private struct State {
        var infos: [UInt64: [ResourceInfo]] = [:]
        var sets: [UInt64: [HeldSet]] = [:]
        var markerMatches: [String: [ObjectIdentifier: Bool]] = [:]
        var satisfied: [Pair: Bool] = [:]
    }
    private struct Pair: Hashable {
        var wanted: ObjectIdentifier
        var held: ObjectIdentifier
    }
    private let state = Mutex(State())

    /// The catalogued entries for packed resources of one type (one lock for the whole batch).
    func resolve(_ typeURL: String, _ bodies: [Data]) -> [ResourceInfo] {
        let digests = bodies.map { contentDigest(typeURL, $0) }
        var missing: [Int] = []
        var result: [ResourceInfo?] = state.withLock { state in
            bodies.indices.map { i in
                if let known = state.infos[digests[i]]?.first(where: { $0.typeURL == typeURL && $0.bytes == bodies[i] }) { return known }
                missing.append(i)
                return nil
            }
        }
        guard !missing.isEmpty else { return result.map { $0! } }
        // Decode new bodies outside the lock, then publish them (another proxy may have raced us).
        let fresh = missing.map { ResourceInfo(typeURL: typeURL, digest: digests[$0], bytes: bodies[$0]) }
        state.withLock { state in
            for (i, info) in zip(missing, fresh) {
                if let known = state.infos[info.digest]?.first(where: { $0.typeURL == typeURL && $0.bytes == info.bytes }) {
                    result[i] = known
                } else {
                    state.infos[info.digest, default: []].append(info)
                    result[i] = info
                }
            }
        }
        return result.map { $0! }
    }

    /// The shared instance for a proxy's resources of one type.
    func intern(_ typeURL: String, _ digests: [String: UInt64], infos: (UInt64) -> ResourceInfo?) -> HeldSet {
        let key = HeldSet.setDigest(digests) ^ stringDigest(typeURL)
        if let known = state.withLock({ $0.sets[key]?.first(where: { $0.typeURL == typeURL && $0.digests == digests }) }) { return known }
        var dependents: Set<String> = []
        var bytes = 0
        for digest in digests.values {
            guard let info = infos(digest) else { continue }
            dependents.formUnion(info.dependents)
            bytes += info.bytes.count
        }
        let set = HeldSet(typeURL: typeURL, digests: digests, dependents: dependents, serializedBytes: bytes)
        return state.withLock { state in
            if let known = state.sets[key]?.first(where: { $0.typeURL == typeURL && $0.digests == digests }) { return known }
            state.sets[key, default: []].append(set)
            return set
        }
    }

    /// The catalogued entry of a digest of one type, if any.
    func info(_ typeURL: String, digest: UInt64) -> ResourceInfo? {
        state.withLock { $0.infos[digest]?.first { $0.typeURL == typeURL } }
    }

    /// Whether some resource of `set` contains `marker` in its bytes (memoized per set).
    func contains(_ set: HeldSet, marker: String) -> Bool {
        if let known = state.withLock({ $0.markerMatches[marker]?[ObjectIdentifier(set)] }) { return known }
        let needle = Data(marker.utf8)
        let found = set.digests.values.contains { digest in
            info(set.typeURL, digest: digest)?.bytes.range(of: needle) != nil
        }
        state.withLock { $0.markerMatches[marker, default: [:]][ObjectIdentifier(set)] = found }
        return found
    }

    /// Whether `held` has every name `wanted` leads to (memoized per pair of interned sets).
    func satisfies(_ held: HeldSet, _ wanted: HeldSet) -> Bool {
        let pair = Pair(wanted: ObjectIdentifier(wanted), held: ObjectIdentifier(held))
        if let known = state.withLock({ $0.satisfied[pair] }) { return known }
        let result = wanted.dependents.allSatisfy { held.digests[$0] != nil }
        state.withLock { $0.satisfied[pair] = result }
        return result
    }
}

/// Per type, what one simulated proxy's stream knows.
private struct ProxyTypeState {
    var names: Set<String>?  // nil: wildcard
    var held: HeldSet?
    var version = ""
    var nonce = ""
    var requested = false
}

/// One simulated proxy: a stream to istiod, reopened after 200 ms when it fails, until cancelled.
struct SimulatedProxy: Sendable {
    let stub: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client<HTTP2ClientTransport.Posix>
    let node: Envoy_Config_Core_V3_Node
    let mode: XDSProtocolMode
    let slot: Int
    let recorder: Recorder
    let catalog: ResourceCatalog

    func run() async {
        while !Task.isCancelled {
            do {
                switch mode {
                case .stateOfTheWorld: try await runSotW()
                case .delta: try await runDelta()
                }
            } catch {
                if Task.isCancelled { return }
                recorder.streamFailed(slot, error)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Applies received resources of a type; returns the dependent type's new names when they changed.
    private func accept(
        _ typeURL: String, version: String, held: HeldSet, types: inout [String: ProxyTypeState]
    ) -> (String, Set<String>)? {
        types[typeURL, default: ProxyTypeState()].held = held
        types[typeURL]!.version = version
        recorder.accepted(slot, typeURL, version: version, held: held, at: clock.now)
        let dependentType: String
        switch typeURL {
        case EnvoyTypeURL.cluster: dependentType = EnvoyTypeURL.clusterLoadAssignment
        case EnvoyTypeURL.listener: dependentType = EnvoyTypeURL.routeConfiguration
        default: return nil
        }
        recorder.wanted(slot, dependentType, by: held)
        guard types[dependentType]?.names != held.dependents else { return nil }
        return (dependentType, held.dependents)
    }

    private static func sotwRequest(_ node: Envoy_Config_Core_V3_Node?, _ typeURL: String, _ state: ProxyTypeState) -> Envoy_Service_Discovery_V3_DiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        if let node { request.node = node }
        request.typeURL = typeURL
        request.versionInfo = state.version
        request.responseNonce = state.nonce
        request.resourceNames = state.names.map { $0.sorted() } ?? []
        return request
    }

    private func runSotW() async throws {
        let (requests, input) = AsyncStream.makeStream(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self)
        let node = self.node
        var initial: [String: ProxyTypeState] = [:]
        for typeURL in [EnvoyTypeURL.cluster, EnvoyTypeURL.listener] {
            initial[typeURL] = ProxyTypeState(names: nil, requested: true)
            input.yield(Self.sotwRequest(typeURL == EnvoyTypeURL.cluster ? node : nil, typeURL, initial[typeURL]!))
        }
        let sent = initial
        let call = StreamingClientRequest(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self) { writer in
            for await message in requests { try await writer.write(message) }
        }
        try await stub.streamAggregatedResources(request: call, options: .defaults) { response in
            defer { input.finish() }
            var types = sent
            for try await message in response.messages {
                let typeURL = message.typeURL
                let infos = catalog.resolve(typeURL, message.resources.map(\.value))
                var digests: [String: UInt64] = [:]
                digests.reserveCapacity(infos.count)
                for info in infos { digests[info.name] = info.digest }
                let byDigest = Dictionary(infos.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
                let held = catalog.intern(typeURL, digests) { byDigest[$0] }
                types[typeURL, default: ProxyTypeState()].nonce = message.nonce
                let dependent = accept(typeURL, version: message.versionInfo, held: held, types: &types)
                input.yield(Self.sotwRequest(nil, typeURL, types[typeURL]!))  // ACK
                if let (dependentType, names) = dependent {
                    types[dependentType, default: ProxyTypeState()].names = names
                    types[dependentType]!.requested = true
                    input.yield(Self.sotwRequest(nil, dependentType, types[dependentType]!))
                }
            }
        }
    }

    private func runDelta() async throws {
        let (requests, input) = AsyncStream.makeStream(of: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest.self)
        for typeURL in [EnvoyTypeURL.cluster, EnvoyTypeURL.listener] {
            var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
            if typeURL == EnvoyTypeURL.cluster { request.node = node }
            request.typeURL = typeURL  // no names: wildcard for CDS and LDS
            input.yield(request)
        }
        let call = StreamingClientRequest(of: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest.self) { writer in
            for await message in requests { try await writer.write(message) }
        }
        try await stub.deltaAggregatedResources(request: call, options: .defaults) { response in
            defer { input.finish() }
            var types: [String: ProxyTypeState] = [
                EnvoyTypeURL.cluster: ProxyTypeState(names: nil, requested: true),
                EnvoyTypeURL.listener: ProxyTypeState(names: nil, requested: true),
            ]
            for try await message in response.messages {
                let typeURL = message.typeURL
                let infos = catalog.resolve(typeURL, message.resources.map(\.resource.value))
                var digests = types[typeURL]?.held?.digests ?? [:]
                for (resource, info) in zip(message.resources, infos) { digests[resource.name] = info.digest }
                for name in message.removedResources { digests[name] = nil }
                let fresh = Dictionary(infos.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
                let held = catalog.intern(typeURL, digests) { fresh[$0] ?? catalog.info(typeURL, digest: $0) }
                let dependent = accept(typeURL, version: message.systemVersionInfo, held: held, types: &types)
                var ack = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
                ack.typeURL = typeURL
                ack.responseNonce = message.nonce
                input.yield(ack)
                if let (dependentType, names) = dependent {
                    let old = types[dependentType]?.names ?? []
                    var change = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
                    change.typeURL = dependentType
                    change.resourceNamesSubscribe = names.subtracting(old).sorted()
                    change.resourceNamesUnsubscribe = old.subtracting(names).sorted()
                    types[dependentType, default: ProxyTypeState()].names = names
                    types[dependentType]!.requested = true
                    input.yield(change)
                }
            }
        }
    }
}
