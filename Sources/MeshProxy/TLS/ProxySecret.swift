import Foundation
import MeshXDS
import NIOSSL
import Synchronization
import X509

/// A TLS secret as the proxy uses it: the parts of Envoy's `Secret` resource it honours.
public enum ProxySecret: Sendable, Hashable {
    /// `tls_certificate`: a PEM certificate chain (leaf first) and its PEM private key.
    case certificate(chainPEM: String, privateKeyPEM: String)
    /// `validation_context.trusted_ca`: PEM CA certificates that verify peers.
    case trustedCA(pem: String)
}

/// Secrets the embedding process hands the proxy directly, in place of an SDS server: what
/// Istio's node agent serves over the `sds-grpc` cluster (the workload certificate `default` and
/// the trust bundle `ROOTCA`). Secrets named by listeners and clusters that the provider does not
/// list in ``secretNames`` are requested from the control plane over the ADS stream (SDS over ADS,
/// as istiod serves `kubernetes://NAME` gateway credentials).
///
/// ```swift
/// let secrets = ProxySecretPublisher(secretNames: ["default", "ROOTCA"])
/// secrets.publish(["default": .certificate(chainPEM: chain, privateKeyPEM: key), "ROOTCA": .trustedCA(pem: roots)])
/// var configuration = ProxyServer.Configuration(node: node, xdsHost: host, xdsPort: port, adminHost: ip, adminPort: 15000)
/// configuration.secrets = secrets
/// let proxy = ProxyServer(configuration: configuration, logger: logger)
/// ```
public protocol ProxySecretProvider: Sendable {
    /// The names this provider serves; the proxy never asks the control plane for them.
    var secretNames: Set<String> { get }
    /// Snapshots of every secret the provider currently has (the newest first when subscribing,
    /// then one per change). A name missing from a snapshot is removed.
    func updates() -> AsyncStream<[String: ProxySecret]>
}

/// A ``ProxySecretProvider`` the embedder pushes secrets into (the sidecar agent publishes each
/// renewed workload certificate here). New snapshots reach the proxy at once; connections that
/// already completed their handshake keep the certificate they started with.
public final class ProxySecretPublisher: ProxySecretProvider {
    public let secretNames: Set<String>
    private struct State {
        var current: [String: ProxySecret]?
        var subscribers: [Int: AsyncStream<[String: ProxySecret]>.Continuation] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    /// - Parameter secretNames: The names this publisher serves.
    public init(secretNames: Set<String>) { self.secretNames = secretNames }

    /// Replaces the provided secrets.
    /// - Parameter secrets: Every secret the provider now has, by name.
    public func publish(_ secrets: [String: ProxySecret]) {
        let subscribers = state.withLock { state in
            state.current = secrets
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(secrets) }
    }

    public func updates() -> AsyncStream<[String: ProxySecret]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [String: ProxySecret].self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            if let current = state.current { continuation.yield(current) }
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return stream
    }
}

/// The secrets the proxy holds, from the embedder's provider and from SDS over ADS. Each change
/// bumps the secret's version; TLS contexts are rebuilt lazily when a version they used changed,
/// so new handshakes use the new secret and established connections are left alone.
final class SecretStore: Sendable {
    struct Entry: Sendable {
        var secret: ProxySecret
        var version: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var counter: UInt64 = 0
        var watchers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    /// The secret `name`, if it has arrived.
    func entry(_ name: String) -> Entry? { state.withLock { $0.entries[name] } }

    /// Every secret held.
    func all() -> [String: Entry] { state.withLock { $0.entries } }

    /// Whether every name has arrived.
    func hasAll(_ names: some Sequence<String>) -> Bool {
        state.withLock { state in names.allSatisfy { state.entries[$0] != nil } }
    }

    /// Replaces the secrets of one source: `names` are the names that source owns; those absent
    /// from `secrets` are removed.
    func replace(owned names: Set<String>?, with secrets: [String: ProxySecret]) {
        let watchers = state.withLock { state -> [AsyncStream<Void>.Continuation] in
            var changed = false
            for (name, secret) in secrets where state.entries[name]?.secret != secret {
                state.counter += 1
                state.entries[name] = Entry(secret: secret, version: state.counter)
                changed = true
            }
            if let names {
                for name in names where secrets[name] == nil && state.entries[name] != nil {
                    state.entries[name] = nil
                    changed = true
                }
            }
            return changed ? Array(state.watchers.values) : []
        }
        for watcher in watchers { watcher.yield(()) }
    }

    /// A signal per change of any secret.
    func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) } }
        return stream
    }
}

extension ProxySecret {
    /// Compiles an SDS `Secret` resource, checking that its PEM parses (a secret the proxy cannot
    /// use is NACKed with the field named).
    init(_ secret: Envoy_Extensions_TransportSockets_Tls_V3_Secret) throws(ProxyConfigurationError) {
        let context = ConfigurationContext(resourceType: "Secret", resourceName: secret.name)
        switch secret.type {
        case .tlsCertificate(let certificate)?:
            guard certificate.hasCertificateChain, certificate.hasPrivateKey else {
                throw context.error(.invalid, "tls_certificate", "needs certificate_chain and private_key")
            }
            let chain = try TLSMaterial.bytes(of: certificate.certificateChain, field: "tls_certificate.certificate_chain", context: context)
            let key = try TLSMaterial.bytes(of: certificate.privateKey, field: "tls_certificate.private_key", context: context)
            try TLSMaterial.checkPair(chain: chain, key: key, chainField: "tls_certificate.certificate_chain", keyField: "tls_certificate.private_key", context: context)
            self = .certificate(chainPEM: String(decoding: chain, as: UTF8.self), privateKeyPEM: String(decoding: key, as: UTF8.self))
        case .validationContext(let validation)?:
            guard validation.hasTrustedCa else {
                throw context.error(.unsupported, "validation_context", "only trusted_ca is supported in an SDS validation context")
            }
            if !validation.matchTypedSubjectAltNames.isEmpty || !validation.verifyCertificateHash.isEmpty || !validation.verifyCertificateSpki.isEmpty {
                throw context.error(.unsupported, "validation_context", "SAN matchers and pins in an SDS validation context are not supported; put them in the referencing context")
            }
            let pem = try TLSMaterial.bytes(of: validation.trustedCa, field: "validation_context.trusted_ca", context: context)
            _ = try TLSMaterial.certificates(pem, field: "validation_context.trusted_ca", context: context)
            self = .trustedCA(pem: String(decoding: pem, as: UTF8.self))
        case .sessionTicketKeys?:
            throw context.error(.unsupported, "session_ticket_keys", "session ticket key secrets are not supported")
        case .genericSecret?:
            throw context.error(.unsupported, "generic_secret", "generic secrets are not supported")
        case nil:
            throw context.error(.invalid, "type", "the secret carries no tls_certificate or validation_context")
        }
    }
}

/// Reading and checking PEM material from Envoy data sources.
enum TLSMaterial {
    static func bytes(of source: Envoy_Config_Core_V3_DataSource, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> [UInt8] {
        switch source.specifier {
        case .inlineBytes(let data)?: return Array(data)
        case .inlineString(let string)?: return Array(string.utf8)
        case .filename(let path)?: return try read(path, field: "\(field).filename", context: context)
        case .environmentVariable(let name)?:
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw context.error(.invalid, "\(field).environment_variable", "environment variable \(name) is not set")
            }
            return Array(value.utf8)
        case nil:
            throw context.error(.invalid, field, "a data source needs filename, inline_bytes, inline_string or environment_variable")
        }
    }

    static func bytes(of source: UpstreamTLSConfiguration.DataSource, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> [UInt8] {
        switch source {
        case .inlineBytes(let data): return Array(data)
        case .inlineString(let string): return Array(string.utf8)
        case .file(let path): return try read(path, field: "\(field).filename", context: context)
        case .environmentVariable(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw context.error(.invalid, "\(field).environment_variable", "environment variable \(name) is not set")
            }
            return Array(value.utf8)
        }
    }

    private static func read(_ path: String, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw context.error(.invalid, field, "cannot read \(path)")
        }
        return Array(data)
    }

    static func certificates(_ pem: [UInt8], field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMBytes(pem) } catch {
            throw context.error(.invalid, field, "is not a PEM certificate: \(error)")
        }
        guard !certificates.isEmpty else { throw context.error(.invalid, field, "holds no PEM certificate") }
        return certificates
    }

    /// Checks that a chain and key parse and belong together (Envoy refuses a key of another certificate).
    static func checkPair(chain: [UInt8], key: [UInt8], chainField: String, keyField: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        let certificates = try certificates(chain, field: chainField, context: context)
        let privateKey = try privateKey(key, field: keyField, context: context)
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw context.error(.invalid, keyField, "does not match the certificate of \(chainField): \(error)")
        }
    }

    static func privateKey(_ pem: [UInt8], field: String, context: ConfigurationContext) throws(ProxyConfigurationError) -> NIOSSLPrivateKey {
        do { return try NIOSSLPrivateKey(bytes: pem, format: .pem) } catch {
            throw context.error(.invalid, field, "is not a PEM private key: \(error)")
        }
    }
}

extension SecretStore {
    /// Envoy's `/certs` shape: one entry per certificate secret, with every trust bundle as
    /// `ca_cert`; each certificate with its serial number, SANs and expiry.
    func certsJSON() -> String {
        let entries = all()
        var caCerts: [String] = []
        var chains: [String] = []
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            switch entry.secret {
            case .trustedCA(let pem):
                caCerts += CertificateDetails.json(pem: pem, path: name)
            case .certificate(let chain, _):
                if let leaf = CertificateDetails.json(pem: chain, path: name).first { chains.append(leaf) }
            }
        }
        let contexts = chains.map { "  {\n   \"ca_cert\": [\(caCerts.joined(separator: ","))],\n   \"cert_chain\": [\($0)]\n  }" }
        return "{\n \"certificates\": [\n\(contexts.joined(separator: ",\n"))\n ]\n}\n"
    }
}

/// A certificate as Envoy's `/certs` describes it.
enum CertificateDetails {
    static func json(pem: String, path: String) -> [String] {
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)) else { return [] }
        return certificates.compactMap { certificate -> String? in
            guard let der = try? certificate.toDERBytes(), let parsed = try? X509.Certificate(derEncoded: der) else { return nil }
            let serial = parsed.serialNumber.bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            let peer = TLSPeerCertificate(certificate)
            var sans = peer.uriSANs.map { "{\"uri\": \"\(escape($0))\"}" }
            sans += peer.dnsSANs.map { "{\"dns\": \"\(escape($0))\"}" }
            sans += peer.ipSANs.map { "{\"ip_address\": \"\(escape($0))\"}" }
            let formatter = ISO8601DateFormatter()
            let days = Int(parsed.notValidAfter.timeIntervalSinceNow / 86400)
            return "{\"path\": \"\(escape(path))\", \"serial_number\": \"\(serial)\", \"subject_alt_names\": [\(sans.joined(separator: ", "))], "
                + "\"days_until_expiration\": \"\(days)\", \"valid_from\": \"\(formatter.string(from: parsed.notValidBefore))\", "
                + "\"expiration_time\": \"\(formatter.string(from: parsed.notValidAfter))\"}"
        }
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
