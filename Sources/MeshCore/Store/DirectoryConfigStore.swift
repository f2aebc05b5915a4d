import Foundation
public import Logging

/// A ``ConfigStore`` backed by a folder of YAML and JSON files, following edits, additions and deletions.
///
/// Each file is accepted or rejected as a whole: when a file fails to decode or validate, or
/// defines a resource another file already defines, its errors are recorded and logged and the
/// resources it last contributed stay in force. Deleting a file removes its resources.
///
/// Call ``reload()`` to rescan once, or ``run(pollInterval:)`` to keep following the folder.
public actor DirectoryConfigStore: ConfigStore {
    /// The folder being followed.
    public nonisolated let directory: String
    private let decoder: ConfigDecoder
    private let logger: Logger
    private let backing = InMemoryConfigStore()
    private var files: [String: FileState] = [:]

    private struct FileState {
        var modification: Date?
        var size: Int
        var text: String
        /// The resources this file last contributed successfully.
        var accepted: [AnyResource]
        var diagnostics: [Diagnostic]
    }

    /// What one rescan did.
    public struct ReloadReport: Sendable {
        /// Files whose content was decoded and accepted.
        public var acceptedFiles: [String] = []
        /// Files whose new content was rejected (their previous resources stay).
        public var rejectedFiles: [String] = []
        /// Files that disappeared.
        public var removedFiles: [String] = []
        /// Every finding from files that were read this time.
        public var diagnostics: [Diagnostic] = []
    }

    /// - Parameters:
    ///   - directory: the folder to read; sub-folders are included, hidden entries skipped.
    ///   - mesh: mesh settings used for validation.
    ///   - logger: where rejections and reloads are logged.
    ///   - validators: extra checks for decoded resources (see ``ResourceValidator``).
    public init(
        directory: String, mesh: MeshConfig = MeshConfig(), logger: Logger = Logger(label: "swiftmesh.config"),
        validators: [any ResourceValidator] = []
    ) {
        self.directory = directory
        var decoder = ConfigDecoder(mesh: mesh)
        decoder.validators = validators
        self.decoder = decoder
        self.logger = logger
    }

    public func list(_ kind: ResourceKind) async -> [AnyResource] { await backing.list(kind) }
    public func all() async -> [AnyResource] { await backing.all() }
    public func get(_ key: ResourceKey) async -> AnyResource? { await backing.get(key) }
    public func changes() async -> AsyncStream<ConfigEvent> { await backing.changes() }

    /// The latest findings per file (errors of rejected files, warnings of accepted ones).
    public var diagnostics: [String: [Diagnostic]] {
        files.filter { !$0.value.diagnostics.isEmpty }.mapValues(\.diagnostics)
    }

    /// Rescans the folder and applies what changed.
    @discardableResult
    public func reload() async -> ReloadReport {
        var report = ReloadReport()
        let present = Set(ConfigFiles.list(in: directory))
        for removed in files.keys.filter({ !present.contains($0) }).sorted() {
            files[removed] = nil
            report.removedFiles.append(removed)
            logger.info("config file removed", metadata: ["file": "\(removed)"])
        }
        for path in present.sorted() {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modification = attributes?[.modificationDate] as? Date
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            if let state = files[path], state.modification == modification, state.size == size,
               let modification, Date().timeIntervalSince(modification) > 2 {
                continue
            }
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            if var state = files[path], state.text == text {
                state.modification = modification
                state.size = size
                files[path] = state
                continue
            }
            let display = path
            var output = decoder.decode(text, file: display)
            if !output.hasErrors {
                output.diagnostics += conflicts(in: output.resources, of: path)
            }
            report.diagnostics += output.diagnostics
            if output.hasErrors {
                let previous = files[path]?.accepted ?? []
                files[path] = FileState(modification: modification, size: size, text: text, accepted: previous, diagnostics: output.diagnostics)
                report.rejectedFiles.append(display)
                for d in output.errors {
                    logger.error("config rejected, last good version kept: \(d)", metadata: ["file": "\(display)"])
                }
            } else {
                files[path] = FileState(modification: modification, size: size, text: text, accepted: output.resources, diagnostics: output.diagnostics)
                report.acceptedFiles.append(display)
                for d in output.warnings {
                    logger.warning("\(d)", metadata: ["file": "\(display)"])
                }
            }
        }
        await publish()
        return report
    }

    /// Rescans every `pollInterval` until the task is cancelled.
    public func run(pollInterval: Duration = .seconds(1)) async throws {
        while !Task.isCancelled {
            await reload()
            try await Task.sleep(for: pollInterval)
        }
    }

    /// Brings the backing store in line with the union of accepted resources.
    private func publish() async {
        var desired: [ResourceKey: AnyResource] = [:]
        for path in files.keys.sorted() {
            for resource in files[path]!.accepted where desired[resource.key] == nil {
                desired[resource.key] = resource
            }
        }
        for existing in await backing.all() where desired[existing.key] == nil {
            await backing.delete(existing.key)
        }
        for key in desired.keys.sorted() {
            await backing.apply(desired[key]!)
        }
    }

    /// Errors for resources defined twice in a file or already owned by another file.
    private func conflicts(in resources: [AnyResource], of path: String) -> [Diagnostic] {
        var owners: [ResourceKey: (file: String, source: SourceLocation?)] = [:]
        for (other, state) in files where other != path {
            for resource in state.accepted { owners[resource.key] = (other, resource.source) }
        }
        var seen: [ResourceKey: SourceLocation?] = [:]
        var result: [Diagnostic] = []
        for resource in resources {
            if let earlier = seen[resource.key] {
                result.append(Diagnostic(severity: .error, location: resource.source, resource: resource.key,
                                         message: "defined twice in this file (first at line \(earlier?.line ?? 0))"))
            } else if let owner = owners[resource.key] {
                result.append(Diagnostic(severity: .error, location: resource.source, resource: resource.key,
                                         message: "already defined in \(owner.source?.description ?? owner.file)"))
            }
            seen[resource.key] = resource.source
        }
        return result
    }

}
