@testable import MeshProxy
import Testing

@Suite struct HashFunctionTests {
    /// Reference values from the xxHash specification's test vectors and python-xxhash's README.
    @Test func xxHash64MatchesReferenceVectors() {
        #expect(XXHash64.hash("") == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(XXHash64.hash("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
    }

    /// Reference values from libstdc++'s `std::hash<std::string>` on x86-64 (what Envoy's
    /// `MURMUR_HASH_2` reproduces), computed with g++.
    @Test func murmurHash2MatchesLibstdcxx() {
        #expect(MurmurHash2.hash("") == 0x553E_9390_1E46_2A6E)
        #expect(MurmurHash2.hash("a") == 0x454D_DEE4_88C1_ED6B)
        #expect(MurmurHash2.hash("abc") == 0x32D8_2BF8_ED3D_BA39)
        #expect(MurmurHash2.hash("10.0.0.1:8080_0") == 0x2812_5CC8_3598_6945)
        #expect(MurmurHash2.hash("Nobody inspects the spammish repetition") == 0xC3B2_3F50_33AD_E0D1)
    }

    @Test func maglevTableSizeMustBePrime() {
        #expect(MaglevTable.isPrime(65537))
        #expect(MaglevTable.isPrime(1031))
        #expect(!MaglevTable.isPrime(65536))
        #expect(!MaglevTable.isPrime(1))
    }

    @Test func edfSchedulerInterleavesByWeight() {
        var scheduler = EDFScheduler<String>()
        scheduler.add("a", weight: 3)
        scheduler.add("b", weight: 1)
        var picks: [String] = []
        for _ in 0..<80 { picks.append(scheduler.pickAndAdd { $0 == "a" ? 3 : 1 }!) }
        #expect(picks.filter { $0 == "a" }.count == 60)
        // Interleaved: b comes up in every run of five picks (floating-point ties may join two periods).
        for start in 0...(picks.count - 5) { #expect(picks[start..<start + 5].contains("b")) }
    }
}
