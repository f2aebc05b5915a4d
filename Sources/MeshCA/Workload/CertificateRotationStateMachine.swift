public import Foundation

/// The node agent's certificate lifecycle as a pure state machine: no I/O, no clock of its own
/// (the caller passes `now`), no randomness of its own (the caller passes the jitter sample).
///
/// - With no certificate it asks for one at once.
/// - After a certificate is issued it waits until the renewal time: `notValidAfter` minus
///   `lifetime × (graceRatio + jitter × graceRatioJitter)`.
/// - After a failure it waits the backoff (initial × multiplier^(failures−1), capped), and
///   keeps serving the certificate it has until that expires.
public struct CertificateRotationStateMachine: Sendable {
    /// What the agent should do next.
    public enum Action: Sendable, Hashable {
        /// Send a CSR now.
        case request
        /// Nothing to do before this time.
        case wait(until: Date)
    }

    /// The rotation policy.
    public let policy: CertificateRotationPolicy
    /// The newest certificate issued (it may have expired).
    public private(set) var current: WorkloadCertificate?
    /// When the current certificate is due for renewal.
    public private(set) var renewalTime: Date?
    /// Consecutive failed requests since the last success.
    public private(set) var consecutiveFailures = 0
    /// When the next attempt may be made after a failure.
    public private(set) var retryTime: Date?

    /// A machine with no certificate.
    /// - Parameter policy: The rotation policy.
    public init(policy: CertificateRotationPolicy = CertificateRotationPolicy()) {
        self.policy = policy
    }

    /// The next action at `now`.
    /// - Parameter now: The current time.
    public func nextAction(now: Date) -> Action {
        if let retryTime, now < retryTime { return .wait(until: retryTime) }
        guard current != nil, let renewalTime else { return .request }
        return now >= renewalTime ? .request : .wait(until: renewalTime)
    }

    /// Records an issued certificate.
    /// - Parameters:
    ///   - certificate: The new certificate.
    ///   - jitter: A sample in `-1...1` (the caller's randomness), scaled by `graceRatioJitter`.
    /// - Returns: The renewal time.
    @discardableResult
    public mutating func issued(_ certificate: WorkloadCertificate, jitter: Double) -> Date {
        let leaf = certificate.leaf
        let lifetime = leaf.notValidAfter.timeIntervalSince(leaf.notValidBefore)
        let sample = max(-1, min(1, jitter))
        let ratio = max(0, min(1, policy.graceRatio + sample * policy.graceRatioJitter))
        let renewal = leaf.notValidAfter.addingTimeInterval(-lifetime * ratio)
        current = certificate
        renewalTime = renewal
        consecutiveFailures = 0
        retryTime = nil
        return renewal
    }

    /// Records a failed request at `now`.
    /// - Parameter now: The current time.
    /// - Returns: When to try again.
    @discardableResult
    public mutating func failed(now: Date) -> Date {
        consecutiveFailures += 1
        let retry = now.addingTimeInterval(backoff(afterFailures: consecutiveFailures).seconds)
        retryTime = retry
        return retry
    }

    /// The delay before the next attempt after `failures` consecutive failures.
    /// - Parameter failures: The number of failures, at least 1.
    public func backoff(afterFailures failures: Int) -> Duration {
        let initial = policy.initialBackoff.seconds, cap = policy.maxBackoff.seconds
        let exponent = Double(max(0, failures - 1))
        let delay = min(cap, initial * pow(max(1, policy.backoffMultiplier), min(exponent, 64)))
        return .milliseconds(Int64((delay * 1000).rounded()))
    }

    /// The certificate to serve at `now`: the newest one until it expires (a failed renewal leaves
    /// the old certificate serving), `nil` before the first or after expiry.
    /// - Parameter now: The current time.
    public func serving(now: Date) -> WorkloadCertificate? {
        guard let current, now < current.notValidAfter else { return nil }
        return current
    }
}
