public import SwiftASN1
public import X509

/// A swift-certificates `VerifierPolicy` for workload certificates, composed with `RFC5280Policy`:
/// the leaf must carry exactly one SPIFFE URI SAN, in `trustDomain`, and equal `expected` when
/// given. It handles the (critical) subject alternative name extension of Istio's certificates.
public struct SPIFFEPolicy: VerifierPolicy {
    /// The trust domain the identity must belong to, or `nil` for any.
    public var trustDomain: String?
    /// The identity the leaf must have, or `nil` for any.
    public var expected: SPIFFEIdentity?

    /// Creates the policy.
    /// - Parameters:
    ///   - trustDomain: The required trust domain, or `nil`.
    ///   - expected: The required identity, or `nil`.
    public init(trustDomain: String? = nil, expected: SPIFFEIdentity? = nil) {
        self.trustDomain = trustDomain
        self.expected = expected
    }

    public let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    public func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let identities = chain.leaf.spiffeIdentities
        guard identities.count == 1, let identity = identities.first else {
            return .failsToMeetPolicy(reason: "the leaf must carry exactly one SPIFFE URI SAN, found \(identities.count)")
        }
        if let trustDomain, identity.trustDomain != trustDomain {
            return .failsToMeetPolicy(reason: "\(identity) is not in trust domain \(trustDomain)")
        }
        if let expected, identity != expected {
            return .failsToMeetPolicy(reason: "the leaf is \(identity), expected \(expected)")
        }
        return .meetsPolicy
    }
}
