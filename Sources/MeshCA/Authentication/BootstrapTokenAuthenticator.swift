import Crypto
import Foundation

/// Authenticates a caller by a bootstrap bearer token the operator configured, so a workload
/// without a certificate can get its first one (the role Kubernetes service-account tokens play
/// in Istio).
///
/// The token file holds one token per line: the token, white space, and what it may obtain —
/// either one identity or every service account of a namespace:
///
/// ```
/// # token                          identity
/// 3f9c2e7a1b8d4c6f0e5a9b2d7c1f8e4a spiffe://cluster.local/ns/bookinfo/sa/reviews
/// 9b1d5e3f7a2c8e4b6d0f1a9c3e7b5d2f spiffe://cluster.local/ns/bookinfo/sa/*
/// ```
///
/// Blank lines and lines starting with `#` are skipped. Tokens are at least 16 characters, have
/// no white space and appear once. The caller sends `authorization: Bearer <token>`. Tokens are
/// compared by their SHA-256 digests, so lookups take the same time whatever the token.
public struct BootstrapTokenAuthenticator: CallerAuthenticator {
    private let grants: [SHA256Digest: CallerAuthorization]

    /// The number of tokens configured.
    public var count: Int { grants.count }

    /// Parses a token file's text.
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - source: The file name, used in errors.
    /// - Throws: ``CAError`` `.invalidArgument` naming the file and line of a malformed entry.
    public init(tokenFile text: String, source: String = "token file") throws(CAError) {
        var grants: [SHA256Digest: CallerAuthorization] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let location = "\(source):\(index + 1)"
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count == 2 else {
                throw CAError(.invalidArgument, "\(location): expected \"TOKEN spiffe://<trust-domain>/ns/<namespace>/sa/<service-account or *>\"")
            }
            let token = fields[0], target = fields[1]
            guard token.count >= 16 else { throw CAError(.invalidArgument, "\(location): the token must be at least 16 characters") }
            let authorization: CallerAuthorization
            if target.hasSuffix("/sa/*") {
                let identity: SPIFFEIdentity
                do { identity = try SPIFFEIdentity(uri: String(target.dropLast()) + "x") } catch {
                    throw CAError(.invalidArgument, "\(location): \(error.description.replacingOccurrences(of: "/sa/x", with: "/sa/*"))")
                }
                authorization = .namespace(identity.namespace, trustDomain: identity.trustDomain)
            } else {
                do { authorization = .identity(try SPIFFEIdentity(uri: target)) } catch {
                    throw CAError(.invalidArgument, "\(location): \(error)")
                }
            }
            let digest = SHA256.hash(data: Data(token.utf8))
            guard grants[digest] == nil else { throw CAError(.invalidArgument, "\(location): the token is listed twice") }
            grants[digest] = authorization
        }
        self.grants = grants
    }

    /// Reads and parses a token file.
    /// - Parameter path: The file.
    public init(contentsOfFile path: String) throws(CAError) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CAError(.storage, "cannot read bootstrap token file \(path): \(error)")
        }
        try self.init(tokenFile: text, source: path)
    }

    public func authenticate(_ credentials: CallerCredentials) async throws(CAError) -> AuthenticatedCaller? {
        guard let token = credentials.bearerToken else { return nil }
        guard let authorization = grants[SHA256.hash(data: Data(token.utf8))] else {
            throw CAError(.unauthenticated, "the bearer token is not a configured bootstrap token")
        }
        return AuthenticatedCaller(authorization: authorization, method: "bootstrap-token")
    }
}
