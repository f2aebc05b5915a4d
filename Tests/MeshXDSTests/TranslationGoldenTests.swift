import Foundation
import MeshXDS
import Testing

/// Compares translator output with `testdata/translation/<case>/*.golden.json`.
/// `REFRESH_GOLDEN=1 swift test --filter TranslationGoldenTests` rewrites the files.
@Suite struct TranslationGoldenTests {
    static let refresh = ProcessInfo.processInfo.environment["REFRESH_GOLDEN"] == "1"

    @Test(arguments: TranslationCase.all.map(TranslationCase.init(name:)))
    func matchesGolden(_ testCase: TranslationCase) throws {
        let generated = try testCase.generate()
        for (file, _) in TranslationCase.types {
            let actual = try GoldenJSON.render(generated[file] ?? [])
            let url = testCase.directory.appendingPathComponent("\(file).golden.json")
            if Self.refresh {
                try actual.write(to: url, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOf: url, encoding: .utf8)
            #expect(actual == expected, "\(testCase.name)/\(file).golden.json differs; rerun with REFRESH_GOLDEN=1 and review the diff\n\(firstDifference(expected, actual))")
        }
    }

    @Test func casesExist() {
        #expect(TranslationCase.all.count >= 6, "testdata/translation has \(TranslationCase.all)")
    }

    @Test(arguments: TranslationCase.all.map(TranslationCase.init(name:)))
    func generationIsDeterministic(_ testCase: TranslationCase) throws {
        let first = try testCase.generate()
        let second = try testCase.generate()
        for (file, _) in TranslationCase.types {
            #expect(try GoldenJSON.render(first[file] ?? []) == GoldenJSON.render(second[file] ?? []))
        }
    }

    private func firstDifference(_ a: String, _ b: String) -> String {
        let la = a.split(separator: "\n", omittingEmptySubsequences: false)
        let lb = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(la.count, lb.count) {
            let x = i < la.count ? String(la[i]) : "<end>"
            let y = i < lb.count ? String(lb[i]) : "<end>"
            if x != y { return "line \(i + 1):\n  expected: \(x)\n  actual:   \(y)" }
        }
        return ""
    }
}
