/// Istio's `Destination` message (shared by several kinds).
public struct Destination: Sendable, Hashable, Codable {
    public init() {}
}
