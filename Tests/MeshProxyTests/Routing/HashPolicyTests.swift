import NIOHTTP1
import Testing
@testable import MeshProxy

@Suite("Hash policies")
struct HashPolicyTests {
    /// Reference values from the C xxHash library (XXH64, seed 0).
    static let vectors: [(String, UInt64)] = [
        ("", 0xEF46_DB37_51D8_E999),
        ("abc", 0x44BC_2CF5_AD77_0999),
        ("127.0.0.1", 0xC08B_1587_DF65_B7A7),
        ("The quick brown fox jumps over the lazy dog", 0x0B24_2D36_1FDA_71BC),
        ("user-42", 0x397E_9D3A_76AF_7C81),
        ("ab", 0x65F7_08CA_92D0_4A61),
    ]

    @Test(arguments: vectors)
    func xxHash64MatchesTheReference(_ text: String, _ expected: UInt64) {
        #expect(XXHash64.hash(text) == expected)
    }

    @Test func xxHash64LongInputAndSeed() {
        let bytes = (0..<100).map { UInt8($0) }
        #expect(bytes.withUnsafeBytes { XXHash64.hash($0) } == 0x6AC1_E580_3216_6597)
        #expect(XXHash64.hash("abc", seed: 1) == 0xBEA9_CA81_9932_8908)
    }

    static func policies(_ json: String) throws -> [HashPolicy] {
        let table = try RoutingFixture.table(routes: #"{"match": {"prefix": "/"}, "route": {"cluster": "c", "hash_policy": \#(json)}}"#)
        return try #require(table.route(for: RoutingFixture.request("/"))?.forward?.hashPolicies)
    }

    @Test func eachSourceHashesItsValue() throws {
        let request = RoutingFixture.request("/p?user=user-42&x=1", headers: [("x-user", "user-42"), ("cookie", "a=1; session=abc")])
        let input = HashPolicyInput(request: request, sourceIP: "127.0.0.1", filterStateHashes: ["k": 7])
        #expect(HashPolicy.hash(try Self.policies(#"[{"header": {"header_name": "X-User"}}]"#), input) == 0x397E_9D3A_76AF_7C81)
        #expect(HashPolicy.hash(try Self.policies(#"[{"cookie": {"name": "session", "ttl": "0s"}}]"#), input) == 0x44BC_2CF5_AD77_0999)
        #expect(HashPolicy.hash(try Self.policies(#"[{"connection_properties": {"source_ip": true}}]"#), input) == 0xC08B_1587_DF65_B7A7)
        #expect(HashPolicy.hash(try Self.policies(#"[{"query_parameter": {"name": "user"}}]"#), input) == 0x397E_9D3A_76AF_7C81)
        #expect(HashPolicy.hash(try Self.policies(#"[{"filter_state": {"key": "k"}}]"#), input) == 7)
        #expect(HashPolicy.hash(try Self.policies(#"[{"header": {"header_name": "x-missing"}}]"#), input) == nil)
        #expect(HashPolicy.hash(try Self.policies(#"[{"header": {"header_name": ":path"}}]"#), input) == XXHash64.hash("/p?user=user-42&x=1"))
    }

    @Test func repeatedHeaderValuesAreSortedAndConcatenated() throws {
        let policies = try Self.policies(#"[{"header": {"header_name": "x-v"}}]"#)
        let one = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-v", "b"), ("x-v", "a")]))
        let other = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-v", "a"), ("x-v", "b")]))
        #expect(HashPolicy.hash(policies, one) == 0x65F7_08CA_92D0_4A61)  // xxh64("ab")
        #expect(HashPolicy.hash(policies, one) == HashPolicy.hash(policies, other))
    }

    @Test func headerRegexRewriteAppliesBeforeHashing() throws {
        let policies = try Self.policies(#"[{"header": {"header_name": "x-user", "regex_rewrite": {"pattern": {"regex": "^tenant-([a-z]+)-.*$"}, "substitution": "\\1"}}}]"#)
        let a = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-user", "tenant-abc-1")]))
        let b = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-user", "tenant-abc-2")]))
        #expect(HashPolicy.hash(policies, a) == 0x44BC_2CF5_AD77_0999)
        #expect(HashPolicy.hash(policies, a) == HashPolicy.hash(policies, b))
    }

    @Test func policiesCombineByRotateAndXorAndTerminalStops() throws {
        let input = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-a", "abc"), ("x-b", "ab")]))
        let a: UInt64 = 0x44BC_2CF5_AD77_0999, b: UInt64 = 0x65F7_08CA_92D0_4A61
        let both = try Self.policies(#"[{"header": {"header_name": "x-a"}}, {"header": {"header_name": "x-b"}}]"#)
        #expect(HashPolicy.hash(both, input) == ((a << 1) | (a >> 63)) ^ b)
        let terminal = try Self.policies(#"[{"header": {"header_name": "x-a"}, "terminal": true}, {"header": {"header_name": "x-b"}}]"#)
        #expect(HashPolicy.hash(terminal, input) == a)
        let skipped = try Self.policies(#"[{"header": {"header_name": "x-missing"}, "terminal": true}, {"header": {"header_name": "x-b"}}]"#)
        #expect(HashPolicy.hash(skipped, input) == b)
        // The same policy twice does not cancel out.
        let twice = try Self.policies(#"[{"header": {"header_name": "x-a"}}, {"header": {"header_name": "x-a"}}]"#)
        #expect(HashPolicy.hash(twice, input) != 0)
    }

    @Test func hashesAreStableAcrossTables() throws {
        let json = #"[{"header": {"header_name": "x-user"}}, {"connection_properties": {"source_ip": true}}]"#
        let first = try Self.policies(json), second = try Self.policies(json)
        for i in 0..<50 {
            let input = HashPolicyInput(request: RoutingFixture.request("/", headers: [("x-user", "u\(i)")]), sourceIP: "10.0.0.\(i)")
            #expect(HashPolicy.hash(first, input) == HashPolicy.hash(second, input))
        }
    }
}
