import Foundation
import MeshCore
import MeshXDS
import SwiftProtobuf

/// One golden-file case under `testdata/translation/<name>/`: `config.yaml` (Istio config),
/// `node.json` (the proxy's `Node`, protobuf JSON) and the expected `{cds,eds,lds,rds}.golden.json`.
struct TranslationCase: CustomStringConvertible {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata/translation")
    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
    static let types: [(file: String, typeURL: String)] = [
        ("cds", EnvoyTypeURL.cluster), ("eds", EnvoyTypeURL.clusterLoadAssignment),
        ("lds", EnvoyTypeURL.listener), ("rds", EnvoyTypeURL.routeConfiguration),
    ]

    let name: String
    var directory: URL { Self.root.appendingPathComponent(name) }
    var description: String { name }

    /// The generation request the case describes.
    func request() throws -> GenerationRequest {
        let configFile = directory.appendingPathComponent("config.yaml")
        let output = ConfigDecoder().decode(try String(contentsOf: configFile, encoding: .utf8), file: configFile.path)
        if output.hasErrors { throw CaseError(message: output.errors.map(\.description).joined(separator: "\n")) }
        EnvoyAnyTypes.register()
        let node = try Envoy_Config_Core_V3_Node(jsonString: String(contentsOf: directory.appendingPathComponent("node.json"), encoding: .utf8))
        var proxy = try ProxyView(node: node)
        // `verified-identity.txt`: the SPIFFE ID the proxy's xDS connection proved (gateway secrets).
        if let text = try? String(contentsOf: directory.appendingPathComponent("verified-identity.txt"), encoding: .utf8) {
            proxy.verifiedIdentity = VerifiedProxyIdentity(spiffeURI: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // `mesh.yaml`: a MeshConfig over Istio's defaults (access logs, say).
        var options = TranslationOptions()
        if let text = try? String(contentsOf: directory.appendingPathComponent("mesh.yaml"), encoding: .utf8) {
            options = TranslationOptions(mesh: try MeshConfig.load(text, file: "\(name)/mesh.yaml"))
        }
        return GenerationRequest(snapshot: MeshSnapshot(resources: output.resources), proxy: proxy, options: options)
    }

    /// Every type's resources, by golden file name.
    func generate() throws -> [String: [GeneratedResource]] {
        let request = try request()
        let registry = GeneratorRegistry.standard
        var out: [String: [GeneratedResource]] = [:]
        for (file, typeURL) in Self.types { out[file] = registry.generate(typeURL, request) ?? [] }
        return out
    }

    struct CaseError: Error, CustomStringConvertible { var message: String; var description: String { message } }
}

/// Stable, readable protobuf JSON: Envoy's snake_case field names, sorted keys, two-space indent.
enum GoldenJSON {
    static func object(_ message: any SwiftProtobuf.Message) throws -> Any {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return try JSONSerialization.jsonObject(with: Data(message.jsonString(options: options).utf8))
    }

    static func render(_ resources: [GeneratedResource]) throws -> String {
        let array = try resources.map { try object($0.message) }
        let data = try JSONSerialization.data(withJSONObject: array, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
