/// An IPv4 or IPv6 address, parsed without touching the network.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt16])

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` compression and an embedded IPv4 tail).
    public init?(_ text: String) {
        if let v4 = IPAddress.parseV4(Substring(text)) {
            self = .v4(v4)
        } else if let v6 = IPAddress.parseV6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    private static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let octet = UInt32(part), octet <= 255 else { return nil }
            if part.count > 1, part.first == "0" { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func parseV6(_ text: String) -> [UInt16]? {
        guard text.contains(":") else { return nil }
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseV4(piece) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                } else {
                    guard !piece.isEmpty, piece.count <= 4, let g = UInt16(piece, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 {
            return head.count == 8 ? head : nil
        }
        guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }

    /// Number of bits: 32 or 128.
    public var bitCount: Int {
        if case .v4 = self { return 32 }
        return 128
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let v): return v >> 24 == 127
        case .v6(let g): return g == [0, 0, 0, 0, 0, 0, 0, 1]
        }
    }

    /// True for `0.0.0.0` and `::`.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let v): return v == 0
        case .v6(let g): return g.allSatisfy { $0 == 0 }
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        case .v6(let g):
            return g.map { String($0, radix: 16) }.joined(separator: ":")
        }
    }
}

/// An address range in CIDR notation such as `10.0.0.0/8`; a bare address is a full-length prefix.
public struct CIDRRange: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        self.address = address
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...address.bitCount).contains(length), parts[1].allSatisfy(\.isNumber) else { return nil }
            self.prefixLength = length
        } else {
            self.prefixLength = address.bitCount
        }
    }

    /// True when `ip` falls inside this range.
    public func contains(_ ip: IPAddress) -> Bool {
        switch (address, ip) {
        case (.v4(let net), .v4(let v)):
            if prefixLength == 0 { return true }
            let mask: UInt32 = prefixLength == 32 ? .max : ~(UInt32.max >> UInt32(prefixLength))
            return net & mask == v & mask
        case (.v6(let net), .v6(let v)):
            var remaining = prefixLength
            for i in 0..<8 where remaining > 0 {
                let bits = min(16, remaining)
                let mask: UInt16 = bits == 16 ? .max : ~(UInt16.max >> UInt16(bits))
                if net[i] & mask != v[i] & mask { return false }
                remaining -= bits
            }
            return true
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
