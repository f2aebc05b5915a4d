import Foundation
import MeshCore
import Testing

/// Kubernetes `Secret`s as gateway credentials: decoding (top-level `type`/`data`), Istio's two
/// key layouts, the `-cacert` convention, and validation errors that name file, Secret and field.
@Suite struct KubernetesSecretTests {
    /// A structurally valid PEM block (MeshCore checks structure; MeshCA parses the DER).
    static func pem(_ label: String, _ content: String = "test bytes") -> String {
        "-----BEGIN \(label)-----\n\(Data(content.utf8).base64EncodedString())\n-----END \(label)-----\n"
    }
    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func decodesTLSLayout() throws {
        let yaml = """
            apiVersion: v1
            kind: Secret
            metadata: {name: web-cert, namespace: edge}
            type: kubernetes.io/tls
            data:
              tls.crt: \(Self.b64(Self.pem("CERTIFICATE", "leaf")))
              tls.key: \(Self.b64(Self.pem("EC PRIVATE KEY")))
              ca.crt: \(Self.b64(Self.pem("CERTIFICATE", "ca")))
            """
        let output = ConfigDecoder().decode(yaml, file: "web.yaml")
        #expect(!output.hasErrors, "\(output.diagnostics)")
        let secret = try #require(output.resources.first?.typed(as: KubernetesSecret.self))
        #expect(secret.key == ResourceKey(kind: .secret, namespace: "edge", name: "web-cert"))
        let credential = secret.spec.tlsCredential
        #expect(credential.certificateChain == Self.pem("CERTIFICATE", "leaf"))
        #expect(credential.caCertificates == Self.pem("CERTIFICATE", "ca"))
        #expect(credential.sources[.privateKey] == "tls.key")
        #expect(!"\(secret.spec)".contains(Self.b64(Self.pem("EC PRIVATE KEY"))), "the description names keys only")
    }

    @Test func genericLayoutAndCACertConvention() throws {
        let yaml = """
            apiVersion: v1
            kind: Secret
            metadata: {name: partner, namespace: edge}
            stringData:
              cert: |
            \(Self.pem("CERTIFICATE").split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
              key: |
            \(Self.pem("PRIVATE KEY").split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: partner-cacert, namespace: edge}
            data: {cacert: \(Self.b64(Self.pem("CERTIFICATE", "partner ca")))}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: own, namespace: edge}
            data: {cert: \(Self.b64(Self.pem("CERTIFICATE"))), key: \(Self.b64(Self.pem("PRIVATE KEY"))), cacert: \(Self.b64(Self.pem("CERTIFICATE", "own ca")))}
            """
        let output = ConfigDecoder().decode(yaml, file: "partner.yaml")
        #expect(!output.hasErrors, "\(output.diagnostics)")
        let index = MeshSnapshot(resources: output.resources).secrets
        #expect(index.keyPair(namespace: "edge", name: "partner")?.credential.sources[.certificateChain] == "cert")
        // NAME-cacert: its own secret first, else the CA of NAME.
        #expect(index.caCertificates(namespace: "edge", name: "partner-cacert")?.pem == Self.pem("CERTIFICATE", "partner ca"))
        #expect(index.caCertificates(namespace: "edge", name: "own-cacert")?.pem == Self.pem("CERTIFICATE", "own ca"))
        #expect(index.caCertificates(namespace: "other", name: "own-cacert") == nil)
        #expect(index.keyPair(namespace: "edge", name: "partner-cacert") == nil)
    }

    @Test(arguments: [
        ("data: {tls.crt: '%%%not base64', tls.key: \(b64(pem("PRIVATE KEY")))}", "data[tls.crt]", "not valid base64"),
        ("data: {tls.crt: \(b64(pem("CERTIFICATE")))}", "data[tls.key]", "needs tls.key"),
        ("data: {tls.crt: \(b64("just text")), tls.key: \(b64(pem("PRIVATE KEY")))}", "data[tls.crt]", "not valid PEM"),
        ("data: {tls.crt: \(b64(pem("PRIVATE KEY"))), tls.key: \(b64(pem("PRIVATE KEY")))}", "data[tls.crt]", "no CERTIFICATE block"),
        ("data: {tls.crt: \(b64(pem("CERTIFICATE"))), tls.key: \(b64(pem("CERTIFICATE")))}", "data[tls.key]", "exactly one private key"),
        ("data: {tls.crt: \(b64("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n")), tls.key: \(b64(pem("PRIVATE KEY")))}", "data[tls.crt]", "not base64"),
        ("data: {tls.crt: \(b64(pem("CERTIFICATE")))}\nextra: 1", "extra", "unknown field"),
    ])
    func rejects(_ body: String, _ field: String, _ message: String) {
        let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: edge}\ntype: kubernetes.io/tls\n\(body)\n"
        let output = ConfigDecoder().decode(yaml, file: "bad.yaml")
        let text = output.errors.map(\.description)
        #expect(text.contains { $0.hasPrefix("bad.yaml:") && $0.contains("Secret edge/bad") && $0.contains(field) && $0.contains(message) }, "\(text)")
        #expect(output.resources.isEmpty)
    }

    @Test func otherCoreKindsStayPlatformObjects() {
        let output = ConfigDecoder().decode("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: edge}\nspec: {ports: [{port: 80}]}\n", file: "svc.yaml")
        #expect(!output.hasErrors && output.resources.isEmpty && output.skippedDocuments == 1)
    }
}
