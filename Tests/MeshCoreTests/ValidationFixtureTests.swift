import Foundation
import Testing
import MeshCore

/// Table tests driven by fixture files under `testdata/validation/<kind>/`.
///
/// - `valid-*.yaml`: every document decodes and validates with no errors. `# expect-warning: PATH: TEXT`
///   lines list warnings that must be reported (and no others).
/// - `invalid-*.yaml`: the errors reported are exactly those listed as `# expect-error: PATH: TEXT`
///   (path compared exactly, TEXT must be contained in the message). Warnings may be listed too.
///   An expectation with `-` as the path matches a finding with no field path.
@Suite struct ValidationFixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata/validation")

    static func fixtures() -> [String] {
        let fm = FileManager.default
        guard let enumerator = fm.enumerator(atPath: root.path) else { return [] }
        return enumerator.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }
            .sorted()
    }

    struct Expectation: CustomStringConvertible {
        var severity: Diagnostic.Severity
        var path: String
        var text: String
        var description: String { "\(severity.rawValue) \(path): \(text)" }

        func matches(_ d: Diagnostic) -> Bool {
            let actualPath = d.path.components.isEmpty ? "-" : d.path.description
            return d.severity == severity && actualPath == path && (text.isEmpty || d.message.contains(text))
        }
    }

    static func expectations(in text: String) -> [Expectation] {
        text.split(separator: "\n").compactMap { line in
            for (prefix, severity) in [("# expect-error: ", Diagnostic.Severity.error), ("# expect-warning: ", .warning)] where line.hasPrefix(prefix) {
                let body = line.dropFirst(prefix.count)
                guard let sep = body.range(of: ": ") else { return Expectation(severity: severity, path: String(body), text: "") }
                return Expectation(severity: severity, path: String(body[..<sep.lowerBound]), text: String(body[sep.upperBound...]))
            }
            return nil
        }
    }

    @Test(arguments: fixtures())
    func fixture(_ relativePath: String) throws {
        let url = Self.root.appendingPathComponent(relativePath)
        let text = try String(contentsOf: url, encoding: .utf8)
        let output = ConfigDecoder().decode(text, file: relativePath)
        let expected = Self.expectations(in: text)
        let name = url.lastPathComponent
        if name.hasPrefix("valid") {
            #expect(output.errors.isEmpty, "unexpected errors:\n\(output.errors.map(\.description).joined(separator: "\n"))")
            #expect(!output.resources.isEmpty, "a valid fixture must hold at least one resource")
        } else {
            #expect(name.hasPrefix("invalid"), "fixture names start with valid- or invalid-")
            #expect(expected.contains { $0.severity == .error }, "an invalid fixture must list its expected errors")
        }
        var unmatched = output.diagnostics
        for expectation in expected {
            if let i = unmatched.firstIndex(where: expectation.matches) {
                unmatched.remove(at: i)
            } else {
                Issue.record("expected \(expectation) not reported; got:\n\(output.diagnostics.map(\.description).joined(separator: "\n"))")
            }
        }
        #expect(unmatched.isEmpty, "unexpected findings:\n\(unmatched.map(\.description).joined(separator: "\n"))")
    }
}
