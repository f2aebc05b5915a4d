/// Istio's mesh-wide configuration (the `mesh` file istiod reads).
public struct MeshConfig: Sendable, Hashable, Codable {
    /// The namespace whose policies apply mesh-wide; `istio-system` when unset.
    public var rootNamespace: String?

    public init() {}
}
