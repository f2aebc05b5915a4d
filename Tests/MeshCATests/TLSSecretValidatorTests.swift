import Crypto
import Foundation
import MeshCA
import MeshCore
import Testing
import X509

/// `TLSSecretValidator` with certificates made at test time: it rejects a key that does not
/// match, a certificate that does not parse and a key that does not parse, naming the field and
/// never the value; with a `DirectoryConfigStore` the last good secret stays in force.
@Suite struct TLSSecretValidatorTests {
    struct Pair {
        var certificatePEM: String
        var keyPEM: String
        var serial: String
    }

    static func selfSigned(_ name: String, notAfter: Date = testEpoch.addingTimeInterval(86400)) throws -> Pair {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: testEpoch.addingTimeInterval(-3600),
            notValidAfter: notAfter, issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName(name)]) }, issuerPrivateKey: key)
        return Pair(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: try key.serializeAsPEM().pemString, serial: "\(certificate.serialNumber)")
    }

    static func secretYAML(_ name: String, data: [String: String], type: String = "kubernetes.io/tls") -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: edge}
        type: \(type)
        data:
        \(data.keys.sorted().map { "  \($0): \(Data(data[$0]!.utf8).base64EncodedString())" }.joined(separator: "\n"))
        """
    }

    static var decoder: ConfigDecoder {
        var decoder = ConfigDecoder()
        decoder.validators = [TLSSecretValidator(now: { testEpoch })]
        return decoder
    }

    @Test func acceptsMatchingKeyAndCA() throws {
        let pair = try Self.selfSigned("web.example.com")
        let output = Self.decoder.decode(Self.secretYAML("web", data: ["tls.crt": pair.certificatePEM, "tls.key": pair.keyPEM, "ca.crt": pair.certificatePEM]), file: "web.yaml")
        #expect(!output.hasErrors, "\(output.diagnostics)")
        #expect(output.resources.count == 1)
    }

    @Test func rejectsKeyOfAnotherCertificate() throws {
        let pair = try Self.selfSigned("web.example.com"), other = try Self.selfSigned("other.example.com")
        let output = Self.decoder.decode(Self.secretYAML("web", data: ["cert": pair.certificatePEM, "key": other.keyPEM], type: "Opaque"), file: "web.yaml")
        let text = output.errors.map(\.description).joined(separator: "\n")
        #expect(text.contains("web.yaml") && text.contains("Secret edge/web") && text.contains("data[key]") && text.contains("does not match"), "\(text)")
        #expect(!text.contains(other.keyPEM.split(separator: "\n")[1]), "key material in the message")
        #expect(output.resources.isEmpty)
    }

    @Test func rejectsCertificateAndKeyThatDoNotParse() throws {
        let pair = try Self.selfSigned("web.example.com")
        // Well-formed PEM whose DER is not a certificate / not a key: MeshCore's structural check passes, the parse fails.
        let junk = Data("not a certificate at all, just bytes".utf8).base64EncodedString()
        let badCertificate = "-----BEGIN CERTIFICATE-----\n\(junk)\n-----END CERTIFICATE-----\n"
        let badKey = "-----BEGIN PRIVATE KEY-----\n\(junk)\n-----END PRIVATE KEY-----\n"
        let certificateOutput = Self.decoder.decode(Self.secretYAML("web", data: ["tls.crt": badCertificate, "tls.key": pair.keyPEM]), file: "a.yaml")
        #expect(certificateOutput.errors.map(\.description).contains { $0.contains("data[tls.crt]") && $0.contains("does not parse as X.509") }, "\(certificateOutput.diagnostics)")
        let keyOutput = Self.decoder.decode(Self.secretYAML("web", data: ["tls.crt": pair.certificatePEM, "tls.key": badKey]), file: "b.yaml")
        #expect(keyOutput.errors.map(\.description).contains { $0.contains("data[tls.key]") && $0.contains("private key does not parse") }, "\(keyOutput.diagnostics)")
    }

    @Test func expiredCertificateIsAWarning() throws {
        let pair = try Self.selfSigned("old.example.com", notAfter: testEpoch.addingTimeInterval(-60))
        let output = Self.decoder.decode(Self.secretYAML("old", data: ["tls.crt": pair.certificatePEM, "tls.key": pair.keyPEM]), file: "old.yaml")
        #expect(!output.hasErrors)
        #expect(output.warnings.contains { $0.message.contains("expired") })
    }

    @Test func directoryStoreKeepsTheLastGoodSecret() async throws {
        let folder = try temporaryFolder("secrets")
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try Self.selfSigned("web.example.com"), rotated = try Self.selfSigned("web.example.com")
        let file = folder.appendingPathComponent("web.yaml")
        let store = DirectoryConfigStore(directory: folder.path, validators: [TLSSecretValidator(now: { testEpoch })])
        try Self.secretYAML("web", data: ["tls.crt": good.certificatePEM, "tls.key": good.keyPEM]).write(to: file, atomically: true, encoding: .utf8)
        #expect(await store.reload().acceptedFiles == [file.path])

        // The new certificate with the old key: rejected, the good secret stays.
        try Self.secretYAML("web", data: ["tls.crt": rotated.certificatePEM, "tls.key": good.keyPEM]).write(to: file, atomically: true, encoding: .utf8)
        let report = await store.reload()
        #expect(report.rejectedFiles == [file.path])
        #expect(report.diagnostics.contains { $0.description.contains("Secret edge/web") && $0.path.description == "data[tls.key]" })
        let kept = try #require(await store.list(.secret).first?.typed(as: KubernetesSecret.self))
        #expect(kept.spec.tlsCredential.certificateChain == good.certificatePEM)

        // The right pair is accepted.
        try Self.secretYAML("web", data: ["tls.crt": rotated.certificatePEM, "tls.key": rotated.keyPEM]).write(to: file, atomically: true, encoding: .utf8)
        #expect(await store.reload().acceptedFiles == [file.path])
        let now = try #require(await store.list(.secret).first?.typed(as: KubernetesSecret.self))
        #expect(now.spec.tlsCredential.certificateChain == rotated.certificatePEM)
    }
}
