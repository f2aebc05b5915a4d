import Testing
import MeshCA

@Suite struct SPIFFEIdentityTests {
    @Test func roundTrips() throws {
        let id = try SPIFFEIdentity(uri: "spiffe://cluster.local/ns/bookinfo/sa/reviews")
        #expect(id == SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews"))
        #expect(id.uri == "spiffe://cluster.local/ns/bookinfo/sa/reviews")
        #expect(id.principal == "cluster.local/ns/bookinfo/sa/reviews")
    }

    @Test(arguments: [
        "http://cluster.local/ns/a/sa/b",
        "spiffe://cluster.local/ns/a",
        "spiffe://cluster.local/namespace/a/sa/b",
        "spiffe://Cluster.Local/ns/a/sa/b",
        "spiffe://cluster.local/ns//sa/b",
        "spiffe://cluster.local/ns/a/sa/b/extra",
    ])
    func rejects(uri: String) {
        #expect(throws: SPIFFEIdentity.ParseError.self) { try SPIFFEIdentity(uri: uri) }
    }
}
