public import Foundation

/// Finds the executables `swift build` made, for tests that run the real binaries.
public enum ExampleBinary {
    /// The package's root directory (this file is `Sources/MeshTestSupport/ExampleBinary.swift`).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built executable `name`: `$<NAME>_BIN` (upper-cased, `-` as `_`) when set, else the
    /// products directory the test bundle sits in, else `.build/debug`.
    public static func url(named name: String) -> URL {
        let variable = name.uppercased().replacingOccurrences(of: "-", with: "_") + "_BIN"
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent(name),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name),
            repositoryRoot.appendingPathComponent(".build/debug/\(name)"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[candidates.count - 1]
    }
}
