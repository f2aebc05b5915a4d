/// A `FractionalPercent` decided against a per-request random value, as Envoy's runtime does when
/// the runtime key is absent: admitted when `random % denominator < numerator`.
public struct RuntimeFraction: Sendable, Hashable {
    /// The share admitted, out of ``denominator`` (values above it admit everything).
    public let numerator: UInt32
    /// 100, 10 000 or 1 000 000.
    public let denominator: UInt32

    /// - Parameters:
    ///   - numerator: The share admitted.
    ///   - denominator: 100, 10 000 or 1 000 000.
    public init(numerator: UInt32, denominator: UInt32) {
        self.numerator = numerator
        self.denominator = max(denominator, 1)
    }

    /// Everything admitted.
    public static let all = RuntimeFraction(numerator: 100, denominator: 100)

    /// Whether a request with this random value is admitted.
    public func admits(_ random: UInt64) -> Bool {
        random % UInt64(denominator) < UInt64(min(numerator, denominator))
    }
}
