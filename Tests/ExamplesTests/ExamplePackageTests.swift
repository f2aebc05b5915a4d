import Foundation
import MeshTestSupport
import Testing

/// `Examples/stamp-proxy` is a package of its own that a user copies: its manifest must load, ask
/// SwiftMesh for the libraries its sources import, and find the sources the SwiftMesh package
/// itself builds (and so proves compile) as its `stamp-proxy` target.
@Suite struct ExamplePackageTests {
    static let directory = ExampleBinary.repositoryRoot.appendingPathComponent("Examples/stamp-proxy")

    /// `swift` from the toolchain running the tests (`PATH`), or nil.
    static func swift() -> URL? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        return paths.map { URL(fileURLWithPath: String($0)).appendingPathComponent("swift") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test func theExampleManifestLoadsAndNamesItsDependencies() async throws {
        let swift = try #require(Self.swift(), "swift is not on PATH")
        let run = try await ChildProcess.run(swift, ["package", "dump-package", "--package-path", Self.directory.path])
        try #require(run.status == 0, "swift package dump-package failed:\n\(run.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let targets = manifest["targets"] as? [[String: Any]] ?? []
        let target = try #require(targets.first { $0["name"] as? String == "stamp-proxy" }, "no stamp-proxy target")
        // Products it takes from SwiftMesh, as ["product": [name, package, ...]] entries.
        let products = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency -> String? in
            guard let product = dependency["product"] as? [Any], product.count >= 2,
                  let name = product[0] as? String, let package = product[1] as? String else { return nil }
            return "\(package)/\(name)"
        }
        #expect(products.contains("SwiftMesh/MeshProxy") && products.contains("SwiftMesh/MeshXDS"), "\(products)")

        // Every module the sources import is one the manifest provides.
        let sources = Self.directory.appendingPathComponent("Sources/stamp-proxy")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 4, "\(files)")
        var imported: Set<String> = []
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                imported.insert(String(line.dropFirst("import ".count)).trimmingCharacters(in: .whitespaces))
            }
        }
        let provided = Set(products.map { String($0.split(separator: "/").last ?? "") })
        #expect(imported.isSubset(of: provided), "imported but not declared: \(imported.subtracting(provided).sorted())")
    }
}
