import Foundation
import MeshCore
import MeshXDS
import SwiftProtobuf

/// What the debug endpoints read: config, pushes and proxy connections.
struct IstiodState: Sendable {
    let store: DirectoryConfigStore
    let producer: IstioSnapshotProducer
    let ads: AggregatedDiscoveryServer
    let mesh: MeshConfig

    func respond(path: String, query: [String: String]) async -> DebugResponse {
        switch path {
        case "/ready":
            return .text("ready\n")
        case "/debug/syncz":
            return json(await syncz())
        case "/debug/adsz":
            return json(await ads.registry.statuses())
        case "/debug/configz":
            return json(await configz())
        case "/debug/config_dump":
            guard let proxyID = query["proxyID"], !proxyID.isEmpty else {
                return .text("proxyID query parameter is required\n", status: .badRequest)
            }
            return await configDump(proxyID)
        default:
            return .text("not found: \(path)\nendpoints: /ready /debug/syncz /debug/adsz /debug/configz /debug/config_dump?proxyID=\n", status: .notFound)
        }
    }

    /// One entry per connected proxy: per type URL, what was sent and what was acknowledged, and the last NACK.
    struct SyncStatus: Encodable {
        var proxy: String
        var connectionID: String
        var types: [String: TypeSync]

        struct TypeSync: Encodable {
            var sent: String?
            var sentNonce: String?
            var acked: String?
            var lastNack: String?
            var lastNackVersion: String?
        }
    }

    func syncz() async -> [SyncStatus] {
        await ads.registry.statuses().map { status in
            SyncStatus(proxy: status.nodeID, connectionID: status.connectionID, types: status.types.mapValues { type in
                SyncStatus.TypeSync(sent: type.lastSentVersion, sentNonce: type.lastSentNonce, acked: type.lastAckedVersion,
                                    lastNack: type.lastNack?.message, lastNackVersion: type.lastNack?.rejectedVersion)
            })
        }
    }

    struct ConfigEntry: Encodable {
        var kind: String
        var apiVersion: String
        var namespace: String
        var name: String
        var source: String?
    }

    struct ConfigReport: Encodable {
        var resources: [ConfigEntry]
        var rejectedFiles: [String: [String]]
    }

    func configz() async -> ConfigReport {
        let resources = await store.all().map {
            ConfigEntry(kind: $0.kind.kind, apiVersion: $0.kind.apiVersion, namespace: $0.meta.namespace, name: $0.meta.name, source: $0.source?.description)
        }
        let rejected = await store.diagnostics.mapValues { $0.map(\.description) }
        return ConfigReport(resources: resources, rejectedFiles: rejected)
    }

    func configDump(_ proxyID: String) async -> DebugResponse {
        let known = await producer.connectedProxies
        guard let nodeID = known.first(where: { $0 == proxyID || $0.contains("~\(proxyID)~") }) else {
            return .text("proxy \(proxyID) is not connected; connected: \(known.joined(separator: ", "))\n", status: .notFound)
        }
        guard let dump = await producer.configDump(nodeID) else {
            return .text("no configuration generated yet for \(nodeID)\n", status: .notFound)
        }
        return .json(dump)
    }

    private func json<T: Encodable>(_ value: T) -> DebugResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            return .json(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
        } catch {
            return .text("encoding failed: \(error)\n", status: .internalServerError)
        }
    }
}
