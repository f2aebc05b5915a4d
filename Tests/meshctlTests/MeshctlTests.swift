import Foundation
import Testing

/// Runs the real `meshctl` binary built by `swift build` (Scripts/test builds it first).
@Suite struct MeshctlTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["MESHCTL_BIN"] { return URL(fileURLWithPath: path) }
        // The test bundle sits next to the products it was built with.
        let buildDir = Bundle.main.bundleURL
        for candidate in [buildDir.appendingPathComponent("meshctl"), repoRoot.appendingPathComponent(".build/debug/meshctl")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return repoRoot.appendingPathComponent(".build/debug/meshctl")
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func meshctl(_ arguments: [String], stdin: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = Self.repoRoot
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
    }

    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build meshctl first: swift build (Scripts/test does)")
    }

    @Test func sampleMeshValidatesAndAnalyzesCleanly() throws {
        let validate = try meshctl(["validate", "Examples/config"])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        #expect(validate.stdout.isEmpty, "no findings expected:\n\(validate.stdout)")
        let analyze = try meshctl(["analyze", "--mesh-config", "Examples/mesh-config.yaml", "Examples/config"])
        #expect(analyze.status == 0, "\(analyze.stdout)\(analyze.stderr)")
        #expect(analyze.stdout.isEmpty, "no findings expected:\n\(analyze.stdout)")
    }

    @Test func validateReportsFileLineResourceAndField() throws {
        let run = try meshctl(["validate", Self.testdata.appendingPathComponent("invalid.yaml").path])
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let file = Self.testdata.appendingPathComponent("invalid.yaml").path
        #expect(lines.contains { $0.hasPrefix("\(file):13: VirtualService default/reviews: spec.http[0].route[1].destination.host:") }, "\(lines)")
        #expect(lines.contains("\(file):22: Sidecar default/unknown-field: spec.egres: unknown field \"egres\""), "\(lines)")
    }

    @Test func validateJSONOutput() throws {
        let run = try meshctl(["validate", "-o", "json", Self.testdata.appendingPathComponent("invalid.yaml").path])
        #expect(run.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let findings = object?["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { $0["kind"] as? String == "Sidecar" && $0["path"] as? String == "spec.egres" && $0["line"] as? Int == 22 })
    }

    @Test func validateReadsStandardInputAndSkipsOtherKinds() throws {
        let run = try meshctl(["validate", "-"], stdin: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
        #expect(run.status == 0)
        #expect(run.stdout.isEmpty)
    }

    @Test func usageAndIOErrorsExitTwo() throws {
        #expect(try meshctl(["validate", "/nonexistent/path.yaml"]).status == 2)
        #expect(try meshctl(["validate"]).status == 2)
        #expect(try meshctl(["frobnicate"]).status == 2)
        #expect(try meshctl(["validate", "--output", "xml", "x"]).status == 2)
        #expect(try meshctl(["--help"]).status == 0)
    }

    @Test func analyzeReportsIstioCodes() throws {
        let run = try meshctl(["analyze", Self.testdata.appendingPathComponent("analyze").path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("Error [IST0101] (VirtualService default/reviews "), "\(run.stdout)")
        #expect(run.stdout.contains(#"Referenced host not found: "ratingz""#), "\(run.stdout)")
        let json = try meshctl(["analyze", "-o", "json", Self.testdata.appendingPathComponent("analyze").path])
        let messages = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(messages.contains { $0["code"] as? String == "IST0101" && $0["name"] as? String == "ReferencedResourceNotFound" })
    }
}
