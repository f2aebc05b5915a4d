/// Envoy's response flags: why a request ended the way it did, as access logs and Istio's
/// `response_flags` metric label show them (`UH`, `UF`, `UO`, `NR`, `URX`, `DC`, `UT`, ...).
public struct ResponseFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// No healthy upstream host.
    public static let noHealthyUpstream = ResponseFlags(rawValue: 1 << 0)
    /// Upstream connection failure.
    public static let upstreamConnectionFailure = ResponseFlags(rawValue: 1 << 1)
    /// Upstream overflow (circuit breaking).
    public static let upstreamOverflow = ResponseFlags(rawValue: 1 << 2)
    /// No route configured.
    public static let noRouteFound = ResponseFlags(rawValue: 1 << 3)
    /// Upstream retry limit exceeded.
    public static let upstreamRetryLimitExceeded = ResponseFlags(rawValue: 1 << 4)
    /// Downstream connection termination.
    public static let downstreamConnectionTermination = ResponseFlags(rawValue: 1 << 5)
    /// Upstream request timeout.
    public static let upstreamRequestTimeout = ResponseFlags(rawValue: 1 << 6)
    /// Upstream remote reset.
    public static let upstreamRemoteReset = ResponseFlags(rawValue: 1 << 7)
    /// Upstream connection termination.
    public static let upstreamConnectionTermination = ResponseFlags(rawValue: 1 << 8)
    /// Local reset.
    public static let localReset = ResponseFlags(rawValue: 1 << 9)
    /// Delay injected by the fault filter.
    public static let delayInjected = ResponseFlags(rawValue: 1 << 10)
    /// Abort injected by the fault filter.
    public static let faultInjected = ResponseFlags(rawValue: 1 << 11)
    /// No cluster found for the route.
    public static let noClusterFound = ResponseFlags(rawValue: 1 << 12)
    /// Stream idle timeout.
    public static let streamIdleTimeout = ResponseFlags(rawValue: 1 << 13)
    /// Unauthorized by an external service or filter.
    public static let unauthorizedExternalService = ResponseFlags(rawValue: 1 << 14)
    /// Request rejected by RBAC.
    public static let rbacDenied = ResponseFlags(rawValue: 1 << 15)
    /// Max stream duration reached.
    public static let durationTimeout = ResponseFlags(rawValue: 1 << 16)
    /// Downstream protocol error.
    public static let downstreamProtocolError = ResponseFlags(rawValue: 1 << 17)

    /// In the order of Envoy's flag enum. Envoy 1.40 prints flags in the order they were set,
    /// so a combination can read differently there (`URX,UF` where this prints `UF,URX`).
    static let names: [(ResponseFlags, String)] = [
        (.noHealthyUpstream, "UH"), (.upstreamRequestTimeout, "UT"), (.localReset, "LR"), (.upstreamRemoteReset, "UR"),
        (.upstreamConnectionFailure, "UF"), (.upstreamConnectionTermination, "UC"), (.upstreamOverflow, "UO"),
        (.noRouteFound, "NR"), (.delayInjected, "DI"), (.faultInjected, "FI"), (.unauthorizedExternalService, "UAEX"),
        (.rbacDenied, "RBAC"), (.downstreamConnectionTermination, "DC"), (.upstreamRetryLimitExceeded, "URX"),
        (.streamIdleTimeout, "SI"), (.downstreamProtocolError, "DPE"), (.durationTimeout, "DT"), (.noClusterFound, "NC"),
    ]

    /// Envoy's short form: codes joined by commas, or `-` when none.
    public var description: String {
        let codes = Self.names.filter { contains($0.0) }.map(\.1)
        return codes.isEmpty ? "-" : codes.joined(separator: ",")
    }
}
