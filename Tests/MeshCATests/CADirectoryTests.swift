import Foundation
@testable import MeshCA
import Testing
import X509

@Suite struct CADirectoryTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    @Test func emptyFolderGetsAPersistedSelfSignedRootWithAnOwnerOnlyKey() throws {
        let folder = try temporaryFolder("create")
        defer { try? FileManager.default.removeItem(at: folder) }
        let directory = CADirectory(url: folder.appendingPathComponent("cacerts"))
        let (created, origin) = try directory.loadOrCreate(now: { testEpoch })
        #expect(origin == .created)
        for file in ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"] {
            #expect(FileManager.default.fileExists(atPath: directory.path(file)), "\(file) written")
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: directory.path("ca-key.pem"))[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        // A restart loads the same root instead of creating another.
        let (loaded, secondOrigin) = try directory.loadOrCreate(now: { testEpoch })
        #expect(secondOrigin == .loaded)
        #expect(loaded.signingCertificate == created.signingCertificate)
        #expect(loaded.trustBundle == created.trustBundle)
        let issued = try loaded.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        #expect(created.signingCertificate.publicKey.isValidSignature(issued.leaf.signature, for: issued.leaf))
    }

    @Test func partialFolderIsRefusedNamingTheMissingFile() throws {
        let folder = try temporaryFolder("partial")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try writeOperatorCACerts(to: folder, now: testEpoch)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("ca-key.pem"))
        #expect { try CADirectory(url: folder).loadOrCreate(now: { testEpoch }) } throws: {
            ($0 as? CAError)?.code == .invalidCACertificates && "\($0)".contains("ca-key.pem")
        }
    }

    @Test func mismatchedKeyIsRefused() throws {
        let folder = try temporaryFolder("mismatch")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try writeOperatorCACerts(to: folder, now: testEpoch)
        let otherKey = Certificate.PrivateKey(P256Key.make())
        try (otherKey.serializeAsPEM().pemString + "\n").write(to: folder.appendingPathComponent("ca-key.pem"), atomically: true, encoding: .utf8)
        #expect { try CADirectory(url: folder).load(now: { testEpoch }) } throws: { "\($0)".contains("does not match") }
    }

    @Test func operatorIntermediateSignsWithTheFullChain() throws {
        let folder = try temporaryFolder("operator")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (root, intermediate) = try writeOperatorCACerts(to: folder, now: testEpoch)
        let (ca, origin) = try CADirectory(url: folder).loadOrCreate(now: { testEpoch })
        #expect(origin == .loaded)
        #expect(ca.signingCertificate == intermediate)
        #expect(ca.trustBundle.roots == [root])
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        #expect(issued.chain == [issued.leaf, intermediate, root], "leaf, intermediate, root")
        #expect(issued.leaf.issuer == intermediate.subject)
    }
}

/// The proofs with openssl itself: every issued chain verifies against the root, and the SAN
/// reads as the SPIFFE URI.
@Suite(.enabled(if: hasOpenSSL, "needs openssl")) struct OpenSSLProofTests {
    let identity = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    @Test(arguments: KeyAlgorithm.allCases)
    func opensslVerifiesSelfSignedChains(algorithm: KeyAlgorithm) throws {
        let folder = try temporaryFolder("verify")
        defer { try? FileManager.default.removeItem(at: folder) }
        let now = Date()
        let (ca, _) = try MeshCertificateAuthority.selfSigned(configuration: .init(rootKeyAlgorithm: algorithm), now: { now })
        for workloadKey in KeyAlgorithm.allCases {
            let csr = try CertificateSigningRequest(pemEncoded: try WorkloadCSR.make(identity: identity, keyAlgorithm: workloadKey).csrPEM)
            let issued = try ca.sign(csr, options: SigningOptions(identity: identity, requestedLifetime: .seconds(3600)))
            let result = try opensslVerify(issued, roots: ca.trustBundle, in: folder)
            #expect(result.status == 0 && result.output.contains("OK"), "root \(algorithm), workload \(workloadKey): \(result.output)")
        }
    }

    @Test func opensslVerifiesOperatorIntermediateChainsAndShowsTheSPIFFESAN() throws {
        let folder = try temporaryFolder("intermediate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let now = Date()
        _ = try writeOperatorCACerts(to: folder, now: now)
        let ca = try CADirectory(url: folder).load(now: { now })
        let csr = try CertificateSigningRequest(pemEncoded: try WorkloadCSR.make(identity: identity).csrPEM)
        let issued = try ca.sign(csr, options: SigningOptions(identity: identity))
        let result = try opensslVerify(issued, roots: ca.trustBundle, in: folder)
        #expect(result.status == 0 && result.output.contains("OK"), "\(result.output)")

        let text = try run(["openssl", "x509", "-noout", "-text", "-in", folder.appendingPathComponent("leaf.pem").path]).output
        #expect(text.contains("URI:spiffe://cluster.local/ns/bookinfo/sa/reviews"), "\(text)")
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("Digital Signature, Key Encipherment"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(text.contains("X509v3 Subject Key Identifier") && text.contains("X509v3 Authority Key Identifier"))
    }

    @Test func opensslRefusesAChainAgainstAnotherRoot() throws {
        let folder = try temporaryFolder("refuse")
        defer { try? FileManager.default.removeItem(at: folder) }
        let now = Date()
        let (ca, _) = try MeshCertificateAuthority.selfSigned(now: { now })
        let (other, _) = try MeshCertificateAuthority.selfSigned(now: { now })
        let issued = try ca.sign(try makeCSR(uri: identity.uri), options: SigningOptions(identity: identity))
        let result = try opensslVerify(IssuedCertificate(chain: [issued.leaf]), roots: other.trustBundle, in: folder)
        #expect(result.status != 0, "the check can fail: \(result.output)")
    }
}
