public import Foundation
public import X509

/// A CA folder in Istio's `cacerts` layout:
///
/// | file | holds |
/// |---|---|
/// | `ca-cert.pem` | the signing certificate (an operator's intermediate, or the self-signed root) |
/// | `ca-key.pem` | its private key (written owner-only, `0600`) |
/// | `root-cert.pem` | the trusted root(s); several during a root rotation |
/// | `cert-chain.pem` | the signing certificate's chain, `ca-cert.pem` first, root last |
///
/// ``loadOrCreate(configuration:now:)`` loads an operator CA when the four files are present, and
/// creates and persists a self-signed root when none of them is.
public struct CADirectory: Sendable, Hashable {
    /// The folder.
    public var url: URL

    /// The signing certificate's file name.
    public static let caCertificateFile = "ca-cert.pem"
    /// The signing key's file name.
    public static let caKeyFile = "ca-key.pem"
    /// The trusted roots' file name.
    public static let rootCertificateFile = "root-cert.pem"
    /// The signing certificate chain's file name.
    public static let certificateChainFile = "cert-chain.pem"
    static let allFiles = [caCertificateFile, caKeyFile, rootCertificateFile, certificateChainFile]

    /// A CA folder at `url`.
    /// - Parameter url: The folder; it need not exist yet.
    public init(url: URL) { self.url = url }

    /// Whether a CA was loaded from the folder or created in it.
    public enum Origin: Sendable, Hashable {
        /// The folder held an operator's CA (`ca-cert.pem` is an intermediate or a root).
        case loaded
        /// The folder was empty: a self-signed root was created and written.
        case created
    }

    /// Loads the CA from the folder, or creates a self-signed root there when the folder is
    /// missing or holds none of the CA files.
    /// - Parameters:
    ///   - configuration: Trust domain, lifetimes and the key type of a created root.
    ///   - now: The clock.
    /// - Returns: The CA and whether it was loaded or created.
    /// - Throws: ``CAError`` naming the file when the folder holds some CA files but not all,
    ///   when a file does not parse, or when a file cannot be written.
    public func loadOrCreate(
        configuration: MeshCertificateAuthority.Configuration = .init(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CAError) -> (authority: MeshCertificateAuthority, origin: Origin) {
        let present = Self.allFiles.filter { FileManager.default.fileExists(atPath: path($0)) }
        if present.isEmpty {
            let (authority, key) = try MeshCertificateAuthority.selfSigned(configuration: configuration, now: now)
            try write(authority: authority, key: key)
            return (authority, .created)
        }
        return (try load(configuration: configuration, now: now), .loaded)
    }

    /// Loads the CA from the four files.
    /// - Parameters:
    ///   - configuration: Trust domain and lifetimes.
    ///   - now: The clock.
    /// - Throws: ``CAError`` naming the missing or invalid file.
    public func load(
        configuration: MeshCertificateAuthority.Configuration = .init(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CAError) -> MeshCertificateAuthority {
        for file in Self.allFiles where !FileManager.default.fileExists(atPath: path(file)) {
            throw CAError(.invalidCACertificates, "\(path(file)) is missing: a CA folder needs \(Self.allFiles.joined(separator: ", ")), or none of them to create a self-signed root")
        }
        let caCertificates = try PEM.certificates(try read(Self.caCertificateFile), source: path(Self.caCertificateFile))
        guard let caCertificate = caCertificates.first else {
            throw CAError(.invalidCACertificates, "\(path(Self.caCertificateFile)): no CERTIFICATE block")
        }
        let key = try PEM.privateKey(try read(Self.caKeyFile), source: path(Self.caKeyFile))
        let bundle = try TrustBundle(pem: try read(Self.rootCertificateFile), source: path(Self.rootCertificateFile))
        var chain = try PEM.certificates(try read(Self.certificateChainFile), source: path(Self.certificateChainFile))
        if chain.first != caCertificate { chain.insert(caCertificate, at: 0) }
        if let last = chain.last, last.issuer != last.subject {
            // cert-chain.pem may stop below the root: complete it from root-cert.pem.
            if let root = bundle.roots.first(where: { $0.subject == last.issuer && $0.publicKey.isValidSignature(last.signature, for: last) }) {
                chain.append(root)
            }
        }
        guard let root = chain.last, bundle.contains(root) else {
            throw CAError(.invalidCACertificates, "\(path(Self.certificateChainFile)) does not end with a root listed in \(path(Self.rootCertificateFile))")
        }
        do {
            return try MeshCertificateAuthority(signingChain: chain, signingKey: key, trustBundle: bundle, configuration: configuration, now: now)
        } catch {
            throw CAError(error.code, "\(url.path): \(error.message)")
        }
    }

    /// Writes a CA to the folder (creating it): the key owner-only (`0600`), certificates `0644`.
    /// - Parameters:
    ///   - authority: The CA whose certificates are written.
    ///   - key: Its signing key.
    public func write(authority: MeshCertificateAuthority, key: Certificate.PrivateKey) throws(CAError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CAError(.storage, "cannot create CA folder \(url.path): \(error)")
        }
        try SecureFile.write(try PEM.encode(key), to: path(Self.caKeyFile), mode: 0o600)
        try SecureFile.write(PEM.encode(authority.signingCertificate), to: path(Self.caCertificateFile), mode: 0o644)
        try SecureFile.write(authority.trustBundle.pem, to: path(Self.rootCertificateFile), mode: 0o644)
        try SecureFile.write(authority.signingChain.map(PEM.encode).joined(), to: path(Self.certificateChainFile), mode: 0o644)
    }

    func path(_ file: String) -> String { url.appendingPathComponent(file).path }

    private func read(_ file: String) throws(CAError) -> String {
        do { return try String(contentsOfFile: path(file), encoding: .utf8) } catch {
            throw CAError(.storage, "cannot read \(path(file)): \(error)")
        }
    }
}
