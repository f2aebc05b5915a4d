/// Istio's `ConnectionPoolSettings` message (shared by several kinds).
public struct ConnectionPoolSettings: Sendable, Hashable, Codable {
    public init() {}
}
