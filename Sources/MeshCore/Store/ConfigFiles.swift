import Foundation

/// Finds configuration files on disk.
public enum ConfigFiles {
    /// Every `.yaml`, `.yml` and `.json` file under `directory` (recursively, hidden entries skipped), sorted.
    public static func list(in directory: String) -> [String] {
        var result: [String] = []
        let fm = FileManager.default
        guard let enumerator = fm.enumerator(atPath: directory) else { return result }
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                enumerator.skipDescendants()
                continue
            }
            let lower = name.lowercased()
            guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower.hasSuffix(".json") else { continue }
            result.append((directory as NSString).appendingPathComponent(relative))
        }
        return result.sorted()
    }

    /// Expands `paths` (files or folders) into config files, in the order given; folders are listed sorted.
    ///
    /// - Throws: ``ConfigFileError`` naming a path that does not exist.
    public static func expand(_ paths: [String]) throws(ConfigFileError) -> [String] {
        var result: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard path == "-" || FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ConfigFileError(diagnostics: [Diagnostic(severity: .error, location: nil, resource: nil, message: "\(path): no such file or directory")])
            }
            result += isDirectory.boolValue ? list(in: path) : [path]
        }
        return result
    }
}
