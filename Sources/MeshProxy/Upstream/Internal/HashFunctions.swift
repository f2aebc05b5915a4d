

// xxHash64 (Envoy's `HashUtil::xxHash64`) is shared with the routing layer: Routing/Internal/XXHash64.swift.

enum MurmurHash2 {
    static let standardSeed: UInt64 = 0xC70F_6907

    static func hash(_ string: String, seed: UInt64 = standardSeed) -> UInt64 {
        let bytes = Array(string.utf8)
        let m: UInt64 = 0xC6A4_A793_5BD1_E995
        func shiftMix(_ v: UInt64) -> UInt64 { v ^ (v >> 47) }
        var h = seed ^ (UInt64(bytes.count) &* m)
        let whole = bytes.count & ~7
        var index = 0
        while index < whole {
            var word: UInt64 = 0
            for byte in 0..<8 { word |= UInt64(bytes[index + byte]) << (8 * UInt64(byte)) }
            h ^= shiftMix(word &* m) &* m
            h = h &* m
            index += 8
        }
        if bytes.count & 7 != 0 {
            var tail: UInt64 = 0
            for byte in stride(from: bytes.count - 1, through: whole, by: -1) { tail = (tail << 8) &+ UInt64(bytes[byte]) }
            h ^= tail
            h = h &* m
        }
        h = shiftMix(h) &* m
        return shiftMix(h)
    }
}
