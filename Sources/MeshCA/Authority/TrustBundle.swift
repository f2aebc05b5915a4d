public import Foundation
public import X509

/// The root certificates workloads trust: usually one, two while a root is being rotated
/// (the old root stays until every certificate it issued has expired).
///
/// Distributed to proxies as the `ROOTCA` SDS secret and written as `root-cert.pem`.
public struct TrustBundle: Sendable, Hashable {
    /// The roots, in the order they were added, without duplicates.
    public private(set) var roots: [Certificate]

    /// A bundle of `roots` (duplicates dropped, first occurrence kept).
    public init(roots: [Certificate]) {
        self.roots = []
        for root in roots where !self.roots.contains(root) { self.roots.append(root) }
    }

    /// A bundle from concatenated PEM certificates.
    /// - Parameters:
    ///   - pem: One or more `CERTIFICATE` PEM blocks.
    ///   - source: Where the text came from, named in errors.
    public init(pem: String, source: String = "trust bundle") throws(CAError) {
        let certificates = try PEM.certificates(pem, source: source)
        guard !certificates.isEmpty else { throw CAError(.invalidCACertificates, "\(source): no CERTIFICATE block") }
        self.init(roots: certificates)
    }

    /// The bundle with `root` added (at the end), as at the start of a root rotation.
    public func adding(_ root: Certificate) -> TrustBundle { TrustBundle(roots: roots + [root]) }

    /// The bundle without `root`, as at the end of a root rotation.
    public func removing(_ root: Certificate) -> TrustBundle { TrustBundle(roots: roots.filter { $0 != root }) }

    /// The bundle without roots that have expired at `date`.
    public func removingExpired(at date: Date) -> TrustBundle { TrustBundle(roots: roots.filter { $0.notValidAfter > date }) }

    /// Whether `certificate` is one of the roots.
    public func contains(_ certificate: Certificate) -> Bool { roots.contains(certificate) }

    /// The roots as concatenated PEM blocks.
    public var pem: String { roots.map(PEM.encode).joined() }
}
