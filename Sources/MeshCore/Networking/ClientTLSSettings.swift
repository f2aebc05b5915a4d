/// Istio's `ClientTLSSettings` message (shared by several kinds).
public struct ClientTLSSettings: Sendable, Hashable, Codable {
    public init() {}
}
