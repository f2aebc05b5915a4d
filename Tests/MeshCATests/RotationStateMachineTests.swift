import Foundation
@testable import MeshCA
import Testing
import X509

@Suite struct RotationStateMachineTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    /// A certificate valid from `start` for `lifetime` seconds.
    func certificate(from start: Date, lifetime: Int64) throws -> WorkloadCertificate {
        let (ca, _) = try MeshCertificateAuthority.selfSigned(now: { start })
        let (key, csr) = try WorkloadCSR.make(identity: identity)
        let issued = try ca.sign(try CertificateSigningRequest(pemEncoded: csr), options: SigningOptions(identity: identity, requestedLifetime: .seconds(lifetime)))
        return WorkloadCertificate(chain: issued.chain, privateKeyPEM: key)
    }

    @Test func requestsAtOnceThenRenewsAtHalfTheLifetime() throws {
        var machine = CertificateRotationStateMachine()
        #expect(machine.nextAction(now: testEpoch) == .request)
        let cert = try certificate(from: testEpoch, lifetime: 86400)
        let renewal = machine.issued(cert, jitter: 0)
        #expect(renewal == testEpoch.addingTimeInterval(43200))
        #expect(machine.nextAction(now: testEpoch.addingTimeInterval(100)) == .wait(until: renewal))
        #expect(machine.nextAction(now: renewal) == .request)
        #expect(machine.serving(now: renewal) == cert)
    }

    @Test(arguments: [(-1.0, 43200.0 + 864), (1.0, 43200.0 - 864), (5.0, 43200.0 - 864)])
    func jitterMovesRenewalByAtMostOnePercentOfTheLifetime(jitter: Double, offset: Double) throws {
        var machine = CertificateRotationStateMachine()
        let renewal = machine.issued(try certificate(from: testEpoch, lifetime: 86400), jitter: jitter)
        #expect(abs(renewal.timeIntervalSince(testEpoch) - offset) < 0.001)
    }

    @Test func failuresBackOffExponentiallyAndTheOldCertificateKeepsServingUntilExpiry() throws {
        var machine = CertificateRotationStateMachine(policy: .init(initialBackoff: .seconds(1), maxBackoff: .seconds(8)))
        let cert = try certificate(from: testEpoch, lifetime: 100)
        machine.issued(cert, jitter: 0)
        var now = testEpoch.addingTimeInterval(50)
        #expect(machine.nextAction(now: now) == .request)
        var delays: [TimeInterval] = []
        for _ in 0..<5 {
            let retry = machine.failed(now: now)
            delays.append(retry.timeIntervalSince(now))
            #expect(machine.nextAction(now: now) == .wait(until: retry))
            now = retry
            #expect(machine.nextAction(now: now) == .request)
        }
        #expect(delays == [1, 2, 4, 8, 8])
        #expect(machine.serving(now: testEpoch.addingTimeInterval(99)) == cert, "the old certificate serves until it expires")
        #expect(machine.serving(now: testEpoch.addingTimeInterval(100)) == nil)
        // Success resets the backoff.
        let next = try certificate(from: now, lifetime: 100)
        machine.issued(next, jitter: 0)
        #expect(machine.consecutiveFailures == 0 && machine.retryTime == nil)
        _ = machine.failed(now: now)
        #expect(machine.retryTime == now.addingTimeInterval(1))
    }
}
