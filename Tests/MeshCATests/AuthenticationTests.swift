import Foundation
@testable import MeshCA
import Testing
import X509

@Suite struct BootstrapTokenTests {
    let file = """
        # bootstrap tokens
        aaaaaaaaaaaaaaaa-reviews spiffe://cluster.local/ns/bookinfo/sa/reviews

        bbbbbbbbbbbbbbbb-bookinfo\tspiffe://cluster.local/ns/bookinfo/sa/*
        """

    @Test func tokenMapsToItsIdentityOrNamespace() async throws {
        let tokens = try BootstrapTokenAuthenticator(tokenFile: file)
        #expect(tokens.count == 2)
        let reviews = try #require(try await tokens.authenticate(CallerCredentials(bearerToken: "aaaaaaaaaaaaaaaa-reviews")))
        #expect(reviews.authorization.singleIdentity == SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews"))
        #expect(!reviews.authorization.permits(SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "ratings")))
        let namespace = try #require(try await tokens.authenticate(CallerCredentials(bearerToken: "bbbbbbbbbbbbbbbb-bookinfo")))
        #expect(namespace.authorization.permits(SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "ratings")))
        #expect(!namespace.authorization.permits(SPIFFEIdentity(namespace: "default", serviceAccount: "ratings")))
        #expect(try await tokens.authenticate(CallerCredentials()) == nil, "no token: not this authenticator's kind")
        await #expect(throws: CAError.self) { try await tokens.authenticate(CallerCredentials(bearerToken: "wrong-token-wrong-token")) }
    }

    @Test(arguments: [
        ("short spiffe://cluster.local/ns/a/sa/b", "at least 16"),
        ("aaaaaaaaaaaaaaaa", "expected"),
        ("aaaaaaaaaaaaaaaa spiffe://cluster.local/ns/a", "expected spiffe"),
        ("aaaaaaaaaaaaaaaa spiffe://cluster.local/ns/a/sa/b\naaaaaaaaaaaaaaaa spiffe://cluster.local/ns/a/sa/c", "listed twice"),
    ])
    func malformedLinesAreRefusedWithTheirLocation(text: String, message: String) throws {
        #expect { try BootstrapTokenAuthenticator(tokenFile: text, source: "tokens.txt") } throws: { error in
            "\(error)".contains("tokens.txt:") && "\(error)".contains(message)
        }
    }
}

@Suite struct ClientCertificateAuthenticatorTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    @Test func certificateFromThisCAAuthenticatesItsIdentity() async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned(now: { testEpoch })
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        let authenticator = ClientCertificateAuthenticator(trustBundle: { ca.trustBundle }, now: { testEpoch.addingTimeInterval(60) })
        let caller = try await authenticator.authenticate(CallerCredentials(peerCertificateChain: [issued.leaf]))
        #expect(caller?.authorization.singleIdentity == identity)
        #expect(try await authenticator.authenticate(CallerCredentials()) == nil)
    }

    @Test func certificateFromAnotherCAOrExpiredIsRefused() async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned(now: { testEpoch })
        let (other, _) = try MeshCertificateAuthority.selfSigned(now: { testEpoch })
        let foreign = try other.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        let authenticator = ClientCertificateAuthenticator(trustBundle: { ca.trustBundle }, now: { testEpoch.addingTimeInterval(60) })
        await #expect(throws: CAError.self) { try await authenticator.authenticate(CallerCredentials(peerCertificateChain: [foreign.leaf])) }

        let own = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity, requestedLifetime: .seconds(600)))
        let later = ClientCertificateAuthenticator(trustBundle: { ca.trustBundle }, now: { testEpoch.addingTimeInterval(3600) })
        await #expect(throws: CAError.self) { try await later.authenticate(CallerCredentials(peerCertificateChain: [own.leaf])) }
    }
}
