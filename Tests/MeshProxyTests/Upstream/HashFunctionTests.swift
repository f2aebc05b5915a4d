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
