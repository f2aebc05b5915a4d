import Crypto
import Foundation
@testable import MeshCA
import X509

/// A fixed clock for tests.
let testEpoch = Date(timeIntervalSince1970: 1_800_000_000)

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshca-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs a tool (openssl) and returns its status and combined output.
func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Whether openssl is on PATH (it is on the CI machine; the proofs need it).
let hasOpenSSL: Bool = (try? run(["openssl", "version"]).status) == 0

/// Writes a chain and root as files and runs `openssl verify -CAfile root -untrusted <chain without leaf> leaf`.
func opensslVerify(_ issued: IssuedCertificate, roots: TrustBundle, in folder: URL, at date: Date? = nil) throws -> (status: Int32, output: String) {
    let root = folder.appendingPathComponent("root.pem"), chain = folder.appendingPathComponent("chain.pem"), leaf = folder.appendingPathComponent("leaf.pem")
    try roots.pem.write(to: root, atomically: true, encoding: .utf8)
    try issued.pemChain.dropFirst().joined().write(to: chain, atomically: true, encoding: .utf8)
    try issued.pemChain[0].write(to: leaf, atomically: true, encoding: .utf8)
    var arguments = ["openssl", "verify", "-CAfile", root.path, "-untrusted", chain.path]
    if let date { arguments += ["-attime", String(Int(date.timeIntervalSince1970))] }
    arguments += ["-purpose", "sslclient", leaf.path]
    return try run(arguments)
}

/// A CSR for `uri` signed by a new P-256 key.
func makeCSR(uri: String?, key: Certificate.PrivateKey = Certificate.PrivateKey(P256Key.make())) throws -> CertificateSigningRequest {
    var attributes = CertificateSigningRequest.Attributes()
    if let uri {
        let extensions = try Certificate.Extensions { SubjectAlternativeNames([.uniformResourceIdentifier(uri)]) }
        attributes.insert(try .init(ExtensionRequest(extensions: extensions)))
    }
    return try CertificateSigningRequest(version: .v1, subject: DistinguishedName(), privateKey: key, attributes: attributes, signatureAlgorithm: .ecdsaWithSHA256)
}

enum P256Key {
    static func make() -> P256.Signing.PrivateKey { P256.Signing.PrivateKey() }
}

/// An operator's root and intermediate in Istio's cacerts layout, built with swift-certificates
/// (as `istioctl`'s Makefile builds them with openssl).
func writeOperatorCACerts(to folder: URL, now: Date, rootKey: Certificate.PrivateKey = Certificate.PrivateKey(P256Key.make())) throws -> (root: Certificate, intermediate: Certificate) {
    let rootName = try DistinguishedName { OrganizationName("Operator"); CommonName("Operator Root CA") }
    let root = try Certificate(
        version: .v3, serialNumber: .init(), publicKey: rootKey.publicKey, notValidBefore: now.addingTimeInterval(-3600),
        notValidAfter: now.addingTimeInterval(20 * 365 * 86400), issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: rootKey.publicKey)
        }, issuerPrivateKey: rootKey)
    let intermediateKey = Certificate.PrivateKey(P256Key.make())
    let intermediateName = try DistinguishedName { OrganizationName("Operator"); CommonName("Intermediate CA cluster-1") }
    let intermediate = try Certificate(
        version: .v3, serialNumber: .init(), publicKey: intermediateKey.publicKey, notValidBefore: now.addingTimeInterval(-3600),
        notValidAfter: now.addingTimeInterval(5 * 365 * 86400), issuer: rootName, subject: intermediateName, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: intermediateKey.publicKey)
            AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: rootKey.publicKey).keyIdentifier)
        }, issuerPrivateKey: rootKey)
    func pem(_ c: Certificate) throws -> String { try c.serializeAsPEM().pemString + "\n" }
    try pem(intermediate).write(to: folder.appendingPathComponent("ca-cert.pem"), atomically: true, encoding: .utf8)
    try (intermediateKey.serializeAsPEM().pemString + "\n").write(to: folder.appendingPathComponent("ca-key.pem"), atomically: true, encoding: .utf8)
    try pem(root).write(to: folder.appendingPathComponent("root-cert.pem"), atomically: true, encoding: .utf8)
    try (pem(intermediate) + pem(root)).write(to: folder.appendingPathComponent("cert-chain.pem"), atomically: true, encoding: .utf8)
    return (root, intermediate)
}
