/// Where a resource was read from.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file path as given by the caller, or a label such as `<stdin>`.
    public var file: String
    /// The 1-based line the document (or the field in question) starts on.
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}
