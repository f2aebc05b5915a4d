public import Foundation
public import Logging
@_spi(FixedExpiryValidationTime) import X509

/// The node agent's certificate loop: generates a key, sends a CSR through a
/// ``CertificateIssuer``, checks and keeps the answer, and renews on the schedule of a
/// ``CertificateRotationStateMachine``; it retries with backoff while the CA is away, and the old
/// certificate keeps serving meanwhile. Subscribers (the SDS server) get every new certificate.
///
/// `run()` loops until its task is cancelled. Time and jitter are injected.
public actor CertificateRotator {
    /// The identity certificates are requested for.
    public nonisolated let identity: SPIFFEIdentity
    private let issuer: any CertificateIssuer
    private let lifetime: Duration
    private let keyAlgorithm: KeyAlgorithm
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let jitter: @Sendable () -> Double
    private var machine: CertificateRotationStateMachine
    private var roots: TrustBundle
    private var subscribers: [UUID: AsyncStream<WorkloadCertificate>.Continuation] = [:]

    /// Creates a rotator.
    /// - Parameters:
    ///   - identity: The workload's identity.
    ///   - issuer: The CA.
    ///   - trustBundle: The roots an issued chain must verify against (the roots of the answer are
    ///     added when the answer verifies through the TLS channel, as Istio's agent does).
    ///   - lifetime: The lifetime asked for.
    ///   - keyAlgorithm: The workload key type.
    ///   - policy: When to renew and how to back off.
    ///   - logger: Where issuance and failures are logged.
    ///   - now: The clock.
    ///   - jitter: A random sample in `-1...1` per issued certificate.
    public init(
        identity: SPIFFEIdentity,
        issuer: any CertificateIssuer,
        trustBundle: TrustBundle,
        lifetime: Duration = .seconds(24 * 3600),
        keyAlgorithm: KeyAlgorithm = .ecdsaP256,
        policy: CertificateRotationPolicy = CertificateRotationPolicy(),
        logger: Logger = Logger(label: "meshca.agent"),
        now: @escaping @Sendable () -> Date = { Date() },
        jitter: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }
    ) {
        self.identity = identity
        self.issuer = issuer
        self.roots = trustBundle
        self.lifetime = lifetime
        self.keyAlgorithm = keyAlgorithm
        self.machine = CertificateRotationStateMachine(policy: policy)
        self.logger = logger
        self.now = now
        self.jitter = jitter
    }

    /// The certificate to serve now (the newest until it expires).
    public var current: WorkloadCertificate? { machine.serving(now: now()) }

    /// The roots to trust: the configured ones plus the root of the newest answer.
    public var trustBundle: TrustBundle { roots }

    /// The state machine, for inspection.
    public var state: CertificateRotationStateMachine { machine }

    /// A stream of certificates: the current one first (when there is one), then each new one.
    /// It ends when the rotator is deinitialised or the subscriber stops iterating.
    public func updates() -> AsyncStream<WorkloadCertificate> {
        let (stream, continuation) = AsyncStream.makeStream(of: WorkloadCertificate.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        subscribers[id] = continuation
        if let current { continuation.yield(current) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    /// Runs the loop until cancelled.
    public func run() async {
        while !Task.isCancelled {
            switch machine.nextAction(now: now()) {
            case .request:
                await attempt()
            case .wait(let until):
                let delay = until.timeIntervalSince(now())
                if delay > 0 {
                    do { try await Task.sleep(for: .milliseconds(Int64((delay * 1000).rounded(.up)))) } catch { return }
                }
            }
        }
    }

    /// One request: CSR, issue, verify, keep. Failures are recorded in the state machine.
    public func attempt() async {
        do {
            let (keyPEM, csrPEM) = try WorkloadCSR.make(identity: identity, keyAlgorithm: keyAlgorithm)
            let pems = try await issuer.issue(csrPEM: csrPEM, lifetime: lifetime, current: machine.serving(now: now()))
            let certificate = try await verify(pems, keyPEM: keyPEM)
            let renewal = machine.issued(certificate, jitter: jitter())
            if let root = certificate.root, !roots.contains(root) { roots = roots.adding(root) }
            logger.info("workload certificate issued", metadata: [
                "identity": "\(identity)", "serial": "\(certificate.leaf.serialNumber)",
                "notAfter": "\(certificate.notValidAfter)", "renewal": "\(renewal)",
            ])
            for continuation in subscribers.values { continuation.yield(certificate) }
        } catch {
            let retry = machine.failed(now: now())
            logger.warning("workload certificate request failed; retrying", metadata: [
                "identity": "\(identity)", "error": "\(error)", "failures": "\(machine.consecutiveFailures)", "retry": "\(retry)",
            ])
        }
    }

    /// Why `chain` does not verify against `roots` for `identity` at `date`, or `nil` when it does.
    static func chainFailure(_ chain: [Certificate], roots: TrustBundle, identity: SPIFFEIdentity, at date: Date) async -> String? {
        guard let leaf = chain.first else { return "empty chain" }
        var verifier = Verifier(rootCertificates: CertificateStore(roots.roots)) {
            RFC5280Policy(fixedExpiryValidationTime: date)
            SPIFFEPolicy(expected: identity)
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst())) {
        case .validCertificate: return nil
        case .couldNotValidate(let failures): return "\(failures.map { "\($0.policyFailureReason)" })"
        }
    }

    /// Checks an answer: it parses, the leaf holds our key and only our identity, and the chain
    /// verifies against the trust bundle now.
    private func verify(_ pems: [String], keyPEM: String) async throws -> WorkloadCertificate {
        var chain: [Certificate] = []
        for (index, pem) in pems.enumerated() {
            chain += try PEM.certificates(pem, source: "cert_chain[\(index)]")
        }
        guard let leaf = chain.first else { throw CAError(.signing, "the CA answered an empty chain") }
        let key = try PEM.privateKey(keyPEM, source: "workload key")
        guard leaf.publicKey == key.publicKey else { throw CAError(.signing, "the issued certificate is not for the workload's key") }
        guard leaf.spiffeIdentities == [identity] else {
            throw CAError(.signing, "the issued certificate names \(leaf.spiffeIdentities.map(\.uri)), expected \(identity)")
        }
        if let failure = await Self.chainFailure(chain, roots: roots, identity: identity, at: now()) {
            throw CAError(.signing, "the issued chain does not verify against the trusted roots: \(failure)")
        }
        return WorkloadCertificate(chain: chain, privateKeyPEM: keyPEM)
    }
}
