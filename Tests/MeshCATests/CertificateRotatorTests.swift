import Foundation
@testable import MeshCA
import Synchronization
import Testing
import X509

/// An issuer backed by an in-process CA that fails its first `failures` calls.
final class FlakyIssuer: CertificateIssuer, Sendable {
    let ca: MeshCertificateAuthority
    let remainingFailures: Mutex<Int>
    let calls = Mutex(0)
    let substituteKey: Bool

    init(ca: MeshCertificateAuthority, failures: Int, substituteKey: Bool = false) {
        self.ca = ca
        self.remainingFailures = Mutex(failures)
        self.substituteKey = substituteKey
    }

    struct Unavailable: Error {}

    func issue(csrPEM: String, lifetime: Duration, current: WorkloadCertificate?) async throws -> [String] {
        calls.withLock { $0 += 1 }
        if remainingFailures.withLock({ f in defer { f -= 1 }; return f > 0 }) { throw Unavailable() }
        var csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        if substituteKey {
            csr = try CertificateSigningRequest(pemEncoded: try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")).csrPEM)
        }
        return try ca.sign(csr, options: SigningOptions(identity: SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews"), requestedLifetime: lifetime)).pemChain
    }
}

@Suite struct CertificateRotatorTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    @Test func failedAttemptIsRetriedAndTheIssuedCertificateIsPublished() async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        let issuer = FlakyIssuer(ca: ca, failures: 1)
        let rotator = CertificateRotator(identity: identity, issuer: issuer, trustBundle: ca.trustBundle, lifetime: .seconds(3600), jitter: { 0 })
        let updates = await rotator.updates()
        await rotator.attempt()
        #expect(await rotator.current == nil)
        #expect(await rotator.state.consecutiveFailures == 1)
        await rotator.attempt()
        let current = try #require(await rotator.current)
        #expect(current.leaf.spiffeIdentities == [identity])
        let key = try Certificate.PrivateKey(pemEncoded: current.privateKeyPEM)
        #expect(key.publicKey == current.leaf.publicKey, "the key generated in the agent matches the certificate")
        var iterator = updates.makeAsyncIterator()
        #expect(await iterator.next() == current)
        #expect(await rotator.state.consecutiveFailures == 0)
    }

    @Test func certificateForAnotherKeyIsRejected() async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        let rotator = CertificateRotator(
            identity: identity, issuer: FlakyIssuer(ca: ca, failures: 0, substituteKey: true), trustBundle: ca.trustBundle, jitter: { 0 })
        await rotator.attempt()
        #expect(await rotator.current == nil)
        #expect(await rotator.state.consecutiveFailures == 1)
    }

    @Test func chainFromAnUntrustedRootIsRejected() async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        let (other, _) = try MeshCertificateAuthority.selfSigned()
        let rotator = CertificateRotator(identity: identity, issuer: FlakyIssuer(ca: ca, failures: 0), trustBundle: other.trustBundle, jitter: { 0 })
        await rotator.attempt()
        #expect(await rotator.current == nil)
    }
}
