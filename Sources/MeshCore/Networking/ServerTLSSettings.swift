/// Istio's `ServerTLSSettings` message (shared by several kinds).
public struct ServerTLSSettings: Sendable, Hashable, Codable {
    public init() {}
}
