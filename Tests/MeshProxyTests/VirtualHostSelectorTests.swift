import Testing
import MeshProxy

@Suite struct VirtualHostSelectorTests {
    let selector = try! VirtualHostSelector<String>([
        (["reviews.default.svc.cluster.local", "reviews", "reviews:9080"], "reviews"),
        (["*.example.com"], "wild-example"),
        (["*.api.example.com"], "wild-api"),
        (["foo.*"], "prefix-foo"),
        (["*"], "catch-all"),
    ])

    @Test(arguments: [
        ("reviews", "reviews"), ("REVIEWS:9080", "reviews"), ("reviews:9081", "catch-all"),
        ("a.example.com", "wild-example"), ("x.api.example.com", "wild-api"), ("example.com", "catch-all"),
        ("foo.bar", "prefix-foo"), ("other", "catch-all"),
    ])
    func selects(authority: String, expected: String) {
        #expect(selector.select(authority: authority) == expected)
    }

    @Test func noFallbackMeansNoMatch() throws {
        let s = try VirtualHostSelector<Int>([(["a"], 1)])
        #expect(s.select(authority: "b") == nil)
    }

    @Test func rejectsDuplicatesAndInnerWildcards() {
        #expect(throws: VirtualHostSelector<Int>.ConfigurationError.self) { try VirtualHostSelector<Int>([(["a"], 1), (["A"], 2)]) }
        #expect(throws: VirtualHostSelector<Int>.ConfigurationError.self) { try VirtualHostSelector<Int>([(["a.*.b"], 1)]) }
    }
}
