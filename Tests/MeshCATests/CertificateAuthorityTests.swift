import Foundation
@testable import MeshCA
import SwiftASN1
import Testing
import X509

@Suite struct CertificateAuthorityTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    func makeCA(_ configuration: MeshCertificateAuthority.Configuration = .init()) throws -> MeshCertificateAuthority {
        try MeshCertificateAuthority.selfSigned(configuration: configuration, now: { testEpoch }).authority
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func selfSignedRootIsATenYearCA(algorithm: KeyAlgorithm) throws {
        let ca = try makeCA(.init(rootKeyAlgorithm: algorithm))
        let root = ca.signingCertificate
        #expect(root.issuer == root.subject)
        #expect(root.notValidBefore == testEpoch)
        #expect(root.notValidAfter == testEpoch.addingTimeInterval(10 * 365 * 86400))
        #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        let usage = try #require(try root.extensions.keyUsage)
        #expect(usage.keyCertSign && usage.cRLSign)
        #expect(try root.extensions.subjectKeyIdentifier != nil)
        #expect(ca.trustBundle.roots == [root])
        #expect(root.signatureAlgorithm == (algorithm == .ecdsaP256 ? .ecdsaWithSHA256 : .sha256WithRSAEncryption))
    }

    @Test func workloadCertificateHasIstiosExtensions() throws {
        let ca = try makeCA()
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        let leaf = issued.leaf
        #expect(issued.chain == [leaf, ca.signingCertificate], "leaf first, root last")
        #expect(leaf.subject == DistinguishedName())
        #expect(leaf.issuer == ca.signingCertificate.subject)
        #expect(leaf.spiffeIdentities == [identity])
        let san = try #require(leaf.extensions[oid: .X509ExtensionID.subjectAlternativeName])
        #expect(san.critical, "SAN is critical when the subject is empty")
        let usage = try #require(try leaf.extensions.keyUsage)
        #expect(usage.digitalSignature && usage.keyEncipherment && !usage.keyCertSign)
        #expect(try leaf.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        let extended = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(Array(extended) == [.serverAuth, .clientAuth])
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier == ca.signingCertificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(try leaf.extensions.subjectKeyIdentifier?.keyIdentifier == SubjectKeyIdentifier(hash: leaf.publicKey).keyIdentifier)
        #expect(ca.signingCertificate.publicKey.isValidSignature(leaf.signature, for: leaf))
    }

    @Test(arguments: [
        (nil, 86400.0),  // default 24 h
        (0, 86400.0),
        (3600, 3600.0),
        (200 * 86400, 90 * 86400.0),  // capped at 90 days
    ] as [(Int64?, Double)])
    func lifetimeIsRequestedDefaultedAndCapped(requested: Int64?, expected: Double) throws {
        let ca = try makeCA()
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity, requestedLifetime: requested.map { .seconds($0) }))
        #expect(issued.leaf.notValidBefore == testEpoch)
        #expect(issued.leaf.notValidAfter.timeIntervalSince(testEpoch) == expected)
    }

    @Test func lifetimeNeverOutlivesTheSigningCertificate() throws {
        let ca = try makeCA(.init(rootLifetime: .seconds(7200)))
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        #expect(issued.leaf.notValidAfter == ca.signingCertificate.notValidAfter)
    }

    @Test func csrForAnotherIdentityIsRefused() throws {
        let ca = try makeCA()
        let forged = try makeCSR(uri: "spiffe://cluster.local/ns/bookinfo/sa/admin")
        #expect {
            try ca.sign(forged, options: SigningOptions(identity: identity))
        } throws: { ($0 as? CAError)?.code == .permissionDenied && "\($0)".contains("sa/admin") }
    }

    @Test func identityOutsideTheTrustDomainIsRefused() throws {
        let ca = try makeCA()
        let other = SPIFFEIdentity(trustDomain: "other.domain", namespace: "ns", serviceAccount: "sa")
        #expect { try ca.sign(try makeCSR(uri: nil), options: SigningOptions(identity: other)) } throws: { ($0 as? CAError)?.code == .permissionDenied }
    }

    @Test func csrWithBadSignatureIsRefused() throws {
        let ca = try makeCA()
        var serializer = DER.Serializer()
        try serializer.serialize(try makeCSR(uri: identity.uri))
        var der = serializer.serializedBytes
        // Change the last byte of the ECDSA signature's s: still DER, no longer a valid signature.
        der[der.count - 1] ^= 0x01
        let tampered = try CertificateSigningRequest(derEncoded: der)
        #expect { try ca.sign(tampered, options: SigningOptions(identity: identity)) } throws: { ($0 as? CAError)?.code == .invalidCSR }
    }

    @Test func serverCertificateCarriesDNSAndIPNames() throws {
        let ca = try makeCA()
        let server = try ca.issueServerCertificate(dnsNames: ["istiod.istio-system.svc"], ipAddresses: ["127.0.0.1"])
        let names = try #require(try server.leaf.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("istiod.istio-system.svc")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(server.leaf.spiffeIdentities.isEmpty)
    }

    @Test func trustBundleHoldsOldAndNewRootsDuringRotation() throws {
        let old = try makeCA(), new = try makeCA()
        var bundle = old.trustBundle.adding(new.signingCertificate)
        #expect(bundle.roots == [old.signingCertificate, new.signingCertificate])
        let parsed = try TrustBundle(pem: bundle.pem)
        #expect(parsed == bundle)
        bundle = bundle.adding(old.signingCertificate)
        #expect(bundle.roots.count == 2, "duplicates are dropped")
        #expect(bundle.removing(old.signingCertificate).roots == [new.signingCertificate])
        #expect(bundle.removingExpired(at: testEpoch.addingTimeInterval(11 * 365 * 86400)).roots.isEmpty)
        // A CA signing with the new root hands out the bundle with both, the old one still trusted.
        let (newCA, newKey) = try MeshCertificateAuthority.selfSigned(now: { testEpoch })
        let rotating = try MeshCertificateAuthority(
            signingChain: newCA.signingChain, signingKey: newKey, trustBundle: old.trustBundle, now: { testEpoch })
        #expect(rotating.trustBundle.roots == [newCA.signingCertificate, old.signingCertificate])
    }
}
