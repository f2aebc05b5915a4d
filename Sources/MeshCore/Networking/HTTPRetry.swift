/// Istio's `HTTPRetry` message (shared by several kinds).
public struct HTTPRetry: Sendable, Hashable, Codable {
    public init() {}
}
