import Foundation
import Testing
import MeshCore

/// Table tests for cross-resource analysis, driven by files under `testdata/analysis/`.
///
/// Each file is one config set (YAML, several documents). Its `# expect: ` lines list every
/// message the standard analyzers must report, written as `istioctl analyze` prints them but
/// without the file location, e.g.
/// `# expect: Error [IST0101] (VirtualService default/reviews) Referenced host not found: "ratingz"`.
/// Nothing else may be reported (schema warnings included). A file with no expectations must analyze clean.
/// An optional `# mesh: key: value` line sets MeshConfig fields (one per line, YAML).
@Suite struct AnalysisFixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata/analysis")

    static func fixtures() -> [String] {
        let fm = FileManager.default
        guard let enumerator = fm.enumerator(atPath: root.path) else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test(arguments: fixtures())
    func fixture(_ relativePath: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(relativePath), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let expected = lines.filter { $0.hasPrefix("# expect: ") }.map { String($0.dropFirst("# expect: ".count)) }
        let meshYAML = lines.filter { $0.hasPrefix("# mesh: ") }.map { String($0.dropFirst("# mesh: ".count)) }.joined(separator: "\n")
        let mesh = meshYAML.isEmpty ? MeshConfig() : try MeshConfig.load(meshYAML, file: "mesh")
        let output = ConfigDecoder(mesh: mesh).decode(text, file: relativePath)
        let messages = ConfigAnalysis().report([output], mesh: mesh)
        let actual = messages.map { message -> String in
            var m = message
            m.location = nil
            return m.description
        }
        #expect(actual.sorted() == expected.sorted(), "\nexpected:\n\(expected.sorted().joined(separator: "\n"))\nactual:\n\(actual.sorted().joined(separator: "\n"))")
    }
}
