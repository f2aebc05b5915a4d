/// A problem with one EnvoyFilter patch: the patch is skipped and the proxy keeps the rest.
///
/// Reads like `EnvoyFilter bookinfo/add-header: spec.configPatches[1].patch.value.typed_config.server_nam: unknown field`.
public struct EnvoyFilterDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// The EnvoyFilter's namespace.
    public var namespace: String
    /// The EnvoyFilter's name.
    public var name: String
    /// The index of the patch in `spec.configPatches`.
    public var patchIndex: Int
    /// The field path of the problem, from `spec.configPatches[i]`.
    public var field: String
    /// What is wrong.
    public var message: String

    public init(namespace: String, name: String, patchIndex: Int, field: String, message: String) {
        self.namespace = namespace
        self.name = name
        self.patchIndex = patchIndex
        self.field = field
        self.message = message
    }

    public var description: String {
        "EnvoyFilter \(namespace)/\(name): spec.configPatches[\(patchIndex)]\(field.isEmpty ? "" : ".\(field)"): \(message); patch skipped"
    }
}
