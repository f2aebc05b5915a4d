import ArgumentParser
import Foundation
import MeshCore

/// Exit status contract: 0 clean, 1 findings of error severity, 2 usage or I/O error.
enum ExitStatus {
    static let clean: Int32 = 0
    static let findings: Int32 = 1
    static let usage: Int32 = 2
}

struct MeshCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Inspect SwiftMesh and Istio configuration.",
        subcommands: [Validate.self, Analyze.self]
    )
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct InputOptions: ParsableArguments {
    @Option(name: .customLong("mesh-config"), help: "Istio MeshConfig file used for validation and analysis.")
    var meshConfig: String?

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Argument(help: "Files or folders of Istio YAML/JSON ('-' reads standard input).")
    var paths: [String]

    /// Loads the mesh config and decodes every input file.
    func load() throws(CommandFailure) -> (mesh: MeshConfig, files: [(String, ConfigDecoder.Output)]) {
        var mesh = MeshConfig()
        if let meshConfig {
            guard let text = try? String(contentsOfFile: meshConfig, encoding: .utf8) else {
                throw CommandFailure("\(meshConfig): cannot read file")
            }
            do {
                mesh = try MeshConfig.load(text, file: meshConfig)
            } catch {
                throw CommandFailure(error.description)
            }
        }
        let files: [String]
        do {
            files = try ConfigFiles.expand(paths)
        } catch {
            throw CommandFailure(error.description)
        }
        let decoder = ConfigDecoder(mesh: mesh)
        var outputs: [(String, ConfigDecoder.Output)] = []
        for file in files {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CommandFailure("\(file): cannot read file")
                }
                text = String(decoding: data, as: UTF8.self)
            }
            outputs.append((file == "-" ? "<stdin>" : file, decoder.decode(text, file: file == "-" ? "<stdin>" : file)))
        }
        return (mesh, outputs)
    }
}

struct CommandFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check Istio documents against Istio's validation rules.",
        discussion: "Exit status: 0 when every Istio document is valid, 1 when any is invalid, 2 on a usage or I/O error."
    )

    @OptionGroup var input: InputOptions

    func run() throws {
        let (_, files) = try input.load()
        let diagnostics = files.flatMap(\.1.diagnostics)
        let resources = files.reduce(0) { $0 + $1.1.resources.count }
        switch input.output {
        case .text:
            for d in diagnostics { print(d.description) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            let warnings = diagnostics.filter { $0.severity == .warning }.count
            FileHandle.standardError.write(Data("\(files.count) file(s), \(resources) valid resource(s), \(errors) error(s), \(warnings) warning(s)\n".utf8))
        case .json:
            try printJSON(ValidateReport(files: files.map(\.0), validResources: resources, findings: diagnostics.map(JSONFinding.init)))
        }
        if diagnostics.contains(where: { $0.severity == .error }) { throw ExitCode(ExitStatus.findings) }
    }
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze Istio configuration across resources, with Istio's IST0xxx message codes.",
        discussion: "Exit status: 0 when no Error is found, 1 when any is, 2 on a usage or I/O error."
    )

    @OptionGroup var input: InputOptions

    func run() throws {
        let (mesh, files) = try input.load()
        let messages = ConfigAnalysis().report(files.map(\.1), mesh: mesh)
        switch input.output {
        case .text:
            if messages.isEmpty {
                FileHandle.standardError.write(Data("✔ No validation issues found when analyzing \(files.count) file(s).\n".utf8))
            }
            for m in messages { print(m.description) }
        case .json:
            try printJSON(messages.map(JSONAnalysisMessage.init))
        }
        if messages.contains(where: { $0.severity == .error }) { throw ExitCode(ExitStatus.findings) }
    }
}

struct ValidateReport: Encodable {
    var files: [String]
    var validResources: Int
    var findings: [JSONFinding]
}

struct JSONFinding: Encodable {
    var severity: String
    var file: String?
    var line: Int?
    var kind: String?
    var namespace: String?
    var name: String?
    var path: String?
    var message: String

    init(_ d: Diagnostic) {
        severity = d.severity.rawValue
        file = d.location?.file
        line = d.location?.line
        kind = d.resource?.kind.kind
        namespace = d.resource?.namespace
        name = d.resource?.name
        path = d.path.components.isEmpty ? nil : d.path.description
        message = d.message
    }
}

struct JSONAnalysisMessage: Encodable {
    var code: String
    var name: String
    var level: String
    var kind: String?
    var namespace: String?
    var resourceName: String?
    var origin: String?
    var path: String?
    var message: String

    init(_ m: AnalysisMessage) {
        code = m.type.code
        name = m.type.name
        level = m.type.severity.rawValue
        kind = m.resource?.kind.kind
        namespace = m.resource?.namespace
        resourceName = m.resource?.name
        origin = m.location?.description
        path = m.path.components.isEmpty ? nil : m.path.description
        message = m.message
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

// Argument parsing errors and I/O failures exit with 2; findings with 1.
do {
    var command = try MeshCtl.parseAsRoot()
    try command.run()
} catch let failure as CommandFailure {
    FileHandle.standardError.write(Data("meshctl: \(failure.message)\n".utf8))
    exit(ExitStatus.usage)
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    let status = MeshCtl.exitCode(for: error)
    if status == .success {
        print(MeshCtl.fullMessage(for: error))
        exit(ExitStatus.clean)
    }
    FileHandle.standardError.write(Data((MeshCtl.fullMessage(for: error) + "\n").utf8))
    exit(ExitStatus.usage)
}
