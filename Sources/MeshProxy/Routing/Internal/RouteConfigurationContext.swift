internal import MeshXDS
internal import SwiftProtobuf

/// What the route-table compiler needs to name a rejection: the resource's name. Every error it
/// throws is a ``ProxyConfigurationError`` with resource type `RouteConfiguration`.
struct RouteConfigurationContext: Sendable {
    static let resourceType = "RouteConfiguration"
    let resourceName: String

    func invalid(_ field: String, _ message: String) -> ProxyConfigurationError {
        ProxyConfigurationError(.invalid, resourceType: Self.resourceType, resourceName: resourceName, field: field, message)
    }

    func unsupported(_ field: String, _ message: String) -> ProxyConfigurationError {
        ProxyConfigurationError(.unsupported, resourceType: Self.resourceType, resourceName: resourceName, field: field, message)
    }

    /// A protobuf duration as a Swift `Duration`; negative or out-of-range values are invalid.
    func duration(_ value: Google_Protobuf_Duration, _ field: String) throws(ProxyConfigurationError) -> Duration {
        guard value.seconds >= 0, value.nanos >= 0, value.nanos < 1_000_000_000, value.seconds <= 315_576_000_000 else {
            throw invalid(field, "duration \(value.seconds)s \(value.nanos)ns is negative or out of range")
        }
        return .seconds(value.seconds) + .nanoseconds(Int64(value.nanos))
    }

    /// Compiles a regular expression once, naming the field when it does not compile.
    func regex(_ matcher: Envoy_Type_Matcher_V3_RegexMatcher, _ field: String) throws(ProxyConfigurationError) -> CompiledRegex {
        do {
            return try CompiledRegex(matcher.regex)
        } catch {
            throw invalid(field + ".regex", "regular expression \"\(matcher.regex)\" does not compile: \(error)")
        }
    }

    /// A fractional percent as a ``RuntimeFraction``.
    func fraction(_ percent: Envoy_Type_V3_FractionalPercent, _ field: String) throws(ProxyConfigurationError) -> RuntimeFraction {
        let denominator: UInt32
        switch percent.denominator {
        case .hundred: denominator = 100
        case .tenThousand: denominator = 10_000
        case .million: denominator = 1_000_000
        case .UNRECOGNIZED(let raw): throw invalid(field + ".denominator", "unknown denominator \(raw)")
        }
        return RuntimeFraction(numerator: percent.numerator, denominator: denominator)
    }
}
