/// xxHash64 (Yann Collet's specification), the hash Envoy uses for ring hash and maglev host
/// placement (`HashUtil::xxHash64`, seed 0 unless stated).
enum XXHash64 {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }

    @inline(__always) private static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* p1 &+ p4
    }

    /// The 64-bit hash of `string`'s UTF-8 bytes.
    static func hash(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var copy = string
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    /// The 64-bit hash of `bytes`.
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = bytes.count
        var offset = 0
        func read64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func read32(_ at: Int) -> UInt64 { UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        var h: UInt64
        if count >= 32 {
            var v1 = seed &+ p1 &+ p2
            var v2 = seed &+ p2
            var v3 = seed
            var v4 = seed &- p1
            while offset + 32 <= count {
                v1 = round(v1, read64(offset))
                v2 = round(v2, read64(offset + 8))
                v3 = round(v3, read64(offset + 16))
                v4 = round(v4, read64(offset + 24))
                offset += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(count)
        while offset + 8 <= count {
            h ^= round(0, read64(offset))
            h = rotl(h, 27) &* p1 &+ p4
            offset += 8
        }
        if offset + 4 <= count {
            h ^= read32(offset) &* p1
            h = rotl(h, 23) &* p2 &+ p3
            offset += 4
        }
        while offset < count {
            h ^= UInt64(bytes[offset]) &* p5
            h = rotl(h, 11) &* p1
            offset += 1
        }
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }
}

/// MurmurHash64A as libstdc++'s `std::_Hash_bytes` computes it on 64-bit platforms, with the seed
/// Envoy passes (`MurmurHash::STD_HASH_SEED`, 0xc70f6907): ring hash's `MURMUR_HASH_2`.
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
