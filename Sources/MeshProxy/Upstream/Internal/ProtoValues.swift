import MeshXDS
import SwiftProtobuf
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversions from protobuf well-known types used by the upstream conversions.
enum ProtoValues {
    /// A protobuf duration as a Swift `Duration`, or nil when seconds and nanos disagree in sign
    /// or nanos are out of range (protobuf's own validity rule).
    static func duration(_ value: Google_Protobuf_Duration) -> Duration? {
        guard abs(value.nanos) < 1_000_000_000 else { return nil }
        if value.seconds > 0 && value.nanos < 0 || value.seconds < 0 && value.nanos > 0 { return nil }
        return .seconds(value.seconds) + .nanoseconds(Int64(value.nanos))
    }
}

/// IPv4 and IPv6 literal checks with the platform's `inet_pton`.
enum IPAddressLiteral {
    /// Whether `host` is an IPv4 dotted quad or an IPv6 literal (without brackets).
    static func isValid(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return host.withCString { pointer in
            inet_pton(AF_INET, pointer, &v4) == 1 || inet_pton(AF_INET6, pointer, &v6) == 1
        }
    }
}

extension Duration {
    /// Whole milliseconds, for stats and logs.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
