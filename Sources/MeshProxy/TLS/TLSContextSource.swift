import Crypto
import NIOCore
import NIOSSL
import NIOTLS
import SwiftASN1
import Synchronization
import X509

/// Why a TLS context cannot be built for a handshake right now.
enum TLSUnavailable: Error, CustomStringConvertible {
    /// A referenced SDS secret has not arrived (Envoy keeps such a listener or cluster warming).
    case missingSecret(String)
    /// The secret or configuration cannot be used (for example, a key that does not match).
    case invalid(String)

    var description: String {
        switch self {
        case .missingSecret(let name): "secret \"\(name)\" has not arrived"
        case .invalid(let reason): reason
        }
    }
}

/// The NIOSSL context of one TLS configuration (a filter chain's or a cluster transport
/// socket's), built from static material and the current secrets, and rebuilt when a secret it
/// used changes: new handshakes use the new secret, connections already established keep theirs.
/// Compared by identity (it keys connection pools).
final class TLSContextSource: Sendable, Hashable {
    enum Role: Sendable, Equatable {
        case server(requireClientCertificate: Bool)
        case client(serverName: String?)
    }

    /// A built context with what handshakes report about the local side.
    struct Built: @unchecked Sendable {
        let context: NIOSSLContext
        let localURISANs: [String]
        let versions: [UInt64]
    }

    let role: Role
    let resource: String
    private let certificates: [UpstreamTLSConfiguration.Certificate]
    let validation: UpstreamTLSConfiguration.Validation?
    private let alpnProtocols: [String]
    private let minimumVersion: UpstreamTLSConfiguration.TLSVersion?
    private let maximumVersion: UpstreamTLSConfiguration.TLSVersion?
    private let cipherSuites: [String]
    private let ecdhCurves: [String]
    private let secrets: SecretStore
    private let cache = Mutex<Built?>(nil)

    /// The server side of a filter chain.
    init(downstream: DownstreamTLSConfiguration, resource: String, secrets: SecretStore) {
        role = .server(requireClientCertificate: downstream.requireClientCertificate)
        self.resource = resource
        certificates = [downstream.certificate]
        validation = downstream.validation
        alpnProtocols = downstream.alpnProtocols
        minimumVersion = downstream.minimumVersion
        maximumVersion = downstream.maximumVersion
        cipherSuites = downstream.cipherSuites
        ecdhCurves = downstream.ecdhCurves
        self.secrets = secrets
    }

    /// The client side of a cluster's transport socket; `alpnFallback` is offered when the
    /// context names no ALPN (`h2` for HTTP/2 clusters, `http/1.1` for HTTP/1.1 ones, as Envoy's pools do).
    init(upstream: UpstreamTLSConfiguration, resource: String, alpnFallback: [String], secrets: SecretStore) {
        // NIOSSL sends SNI only for names, never for IP addresses (as TLS requires).
        let sni = upstream.sni.isEmpty || IPAddressBytes.parse(upstream.sni) != nil ? nil : upstream.sni
        role = .client(serverName: sni)
        self.resource = resource
        certificates = Array(upstream.certificates.prefix(1))
        validation = upstream.validation
        alpnProtocols = upstream.alpnProtocols.isEmpty ? alpnFallback : upstream.alpnProtocols
        minimumVersion = upstream.minimumVersion
        maximumVersion = upstream.maximumVersion
        cipherSuites = upstream.cipherSuites
        ecdhCurves = upstream.ecdhCurves
        self.secrets = secrets
    }

    static func == (lhs: TLSContextSource, rhs: TLSContextSource) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// The SDS secrets this context needs.
    var secretNames: [String] {
        var names: [String] = []
        for case .sds(let name) in certificates { names.append(name) }
        if let name = validation?.trustBundleSecretName { names.append(name) }
        return names
    }

    /// Whether every secret has arrived.
    var isWarm: Bool { secrets.hasAll(secretNames) }

    /// The context for a new handshake.
    func context() throws(TLSUnavailable) -> Built {
        var versions: [UInt64] = []
        for name in secretNames {
            guard let entry = secrets.entry(name) else { throw .missingSecret(name) }
            versions.append(entry.version)
        }
        if let cached = cache.withLock({ $0 }), cached.versions == versions { return cached }
        let built = try build(versions: versions)
        cache.withLock { $0 = built }
        return built
    }

    private func build(versions: [UInt64]) throws(TLSUnavailable) -> Built {
        let context = ConfigurationContext(resourceType: "TLS context", resourceName: resource)
        func material<T>(_ body: () throws -> T) throws(TLSUnavailable) -> T {
            do { return try body() } catch { throw .invalid("\(error)") }
        }
        var chain: [NIOSSLCertificate] = []
        var key: NIOSSLPrivateKey?
        if let certificate = certificates.first {
            switch certificate {
            case .sds(let name):
                guard case .certificate(let chainPEM, let keyPEM)? = secrets.entry(name)?.secret else {
                    throw .invalid("secret \"\(name)\" is not a tls_certificate")
                }
                chain = try material { try TLSMaterial.certificates(Array(chainPEM.utf8), field: "secret \(name) certificate_chain", context: context) }
                key = try material { try TLSMaterial.privateKey(Array(keyPEM.utf8), field: "secret \(name) private_key", context: context) }
            case .static(let chainSource, let keySource):
                chain = try material {
                    try TLSMaterial.certificates(try TLSMaterial.bytes(of: chainSource, field: "certificate_chain", context: context), field: "certificate_chain", context: context)
                }
                key = try material {
                    try TLSMaterial.privateKey(try TLSMaterial.bytes(of: keySource, field: "private_key", context: context), field: "private_key", context: context)
                }
            }
        }
        var roots: [NIOSSLCertificate] = []
        if let validation {
            if let name = validation.trustBundleSecretName {
                guard case .trustedCA(let pem)? = secrets.entry(name)?.secret else {
                    throw .invalid("secret \"\(name)\" is not a validation_context")
                }
                roots += try material { try TLSMaterial.certificates(Array(pem.utf8), field: "secret \(name) trusted_ca", context: context) }
            }
            if let ca = validation.trustedCA {
                roots += try material {
                    try TLSMaterial.certificates(try TLSMaterial.bytes(of: ca, field: "trusted_ca", context: context), field: "trusted_ca", context: context)
                }
            }
        }
        var configuration: TLSConfiguration
        switch role {
        case .server(let requireClientCertificate):
            guard let key else { throw .invalid("a TLS server needs a certificate") }
            configuration = .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            if let validation {
                if validation.acceptUntrusted {
                    configuration.certificateVerification = .none
                } else {
                    configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
                }
            } else {
                configuration.certificateVerification = .none
            }
        case .client:
            configuration = .makeClientConfiguration()
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = key.map { .privateKey($0) }
            if let validation, !validation.acceptUntrusted {
                configuration.certificateVerification = .noHostnameVerification
            } else {
                // Envoy does not verify a server without a validation context.
                configuration.certificateVerification = .none
            }
        }
        configuration.trustRoots = .certificates(roots)
        configuration.minimumTLSVersion = minimumVersion.map(TLSParameterNames.version) ?? .tlsv12
        configuration.maximumTLSVersion = maximumVersion.map(TLSParameterNames.version)
        if !cipherSuites.isEmpty { configuration.cipherSuites = cipherSuites.joined(separator: ":") }
        if !ecdhCurves.isEmpty { configuration.curves = ecdhCurves.compactMap(TLSParameterNames.curve) }
        configuration.applicationProtocols = alpnProtocols
        let sslContext: NIOSSLContext
        do { sslContext = try NIOSSLContext(configuration: configuration) } catch {
            throw .invalid("\(resource): cannot build the TLS context: \(error)")
        }
        let local = chain.first.map { TLSPeerCertificate($0).uriSANs } ?? []
        return Built(context: sslContext, localURISANs: local, versions: versions)
    }
}

/// What the proxy reads from a peer certificate: SANs by type, subject and fingerprint.
struct TLSPeerCertificate: Sendable {
    var uriSANs: [String] = []
    var dnsSANs: [String] = []
    var ipSANs: [String] = []
    var emailSANs: [String] = []
    var subject = ""
    /// Lowercase hex SHA-256 of the DER certificate (Envoy's `Hash=` in x-forwarded-client-cert).
    var sha256Hex = ""

    init(_ certificate: NIOSSLCertificate) {
        guard let der = try? certificate.toDERBytes() else { return }
        sha256Hex = SHA256.hash(data: der).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        guard let parsed = try? Certificate(derEncoded: der) else { return }
        subject = parsed.subject.description
        guard let names = try? parsed.extensions.subjectAlternativeNames else { return }
        for name in names {
            switch name {
            case .uniformResourceIdentifier(let value): uriSANs.append(value)
            case .dnsName(let value): dnsSANs.append(value)
            case .rfc822Name(let value): emailSANs.append(value)
            case .ipAddress(let octets): ipSANs.append(Self.ipString(Array(octets.bytes)))
            default: break
            }
        }
    }

    private static func ipString(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return "" }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }

    /// The SANs with their types, as SAN matchers see them.
    var typedSANs: [(type: SubjectAltNameMatcher.SANType, value: String)] {
        uriSANs.map { (.uri, $0) } + dnsSANs.map { (.dns, $0) } + ipSANs.map { (.ipAddress, $0) } + emailSANs.map { (.email, $0) }
    }

    /// Envoy's checks after the chain verified: a SAN matcher must match (when any are given) and
    /// the fingerprint must be one of `verify_certificate_hash` (when any are given).
    func passes(_ validation: UpstreamTLSConfiguration.Validation) -> Bool {
        guard validation.acceptsSubjectAltNames(typedSANs) else { return false }
        if !validation.certificateHashes.isEmpty {
            return validation.certificateHashes.contains { Self.normalizedHash($0) == sha256Hex }
        }
        return true
    }

    /// A `verify_certificate_hash` value as lowercase hex without colons, or nil when it is not a
    /// SHA-256 fingerprint.
    static func normalizedHash(_ text: String) -> String? {
        let hex = text.lowercased().filter { $0 != ":" }
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        return hex
    }
}

/// After the downstream TLS handshake: records what it established (peer identity, ALPN, SNI),
/// hands it to `established` (which installs the chain's terminal filter after this handler),
/// forwards what was read meanwhile and removes itself. A handshake that fails closes the connection.
final class DownstreamTLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let serverName: String?
    private let localURISANs: [String]
    private let validation: UpstreamTLSConfiguration.Validation?
    private let established: (ChannelHandlerContext, DownstreamTLSInfo) throws -> Void
    private let failed: () -> Void
    private var buffered: [ByteBuffer] = []
    private var done = false

    init(serverName: String?, localURISANs: [String], validation: UpstreamTLSConfiguration.Validation?,
         established: @escaping (ChannelHandlerContext, DownstreamTLSInfo) throws -> Void, failed: @escaping () -> Void) {
        self.serverName = serverName
        self.localURISANs = localURISANs
        self.validation = validation
        self.established = established
        self.failed = failed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        buffered.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !done, case TLSUserEvent.handshakeCompleted(let negotiated)? = event as? TLSUserEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        done = true
        var info = DownstreamTLSInfo(serverName: serverName, negotiatedProtocol: negotiated, localURISANs: localURISANs)
        if let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate() {
            let peer = TLSPeerCertificate(certificate)
            if let validation, !validation.acceptUntrusted, !peer.passes(validation) {
                failed()
                context.close(promise: nil)
                return
            }
            info.peerCertificatePresented = true
            info.peerURISANs = peer.uriSANs
            info.peerDNSSANs = peer.dnsSANs
            info.peerSubject = peer.subject
            info.peerCertificateSHA256 = peer.sha256Hex
        }
        do { try established(context, info) } catch {
            context.close(promise: nil)
            return
        }
        for buffer in buffered { context.fireChannelRead(wrapInboundOut(buffer)) }
        if !buffered.isEmpty { context.fireChannelReadComplete() }
        buffered = []
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done { failed() }
        context.close(promise: nil)
    }
}

/// Holds an upstream connection back until its TLS handshake completes and the server
/// certificate passes the cluster's SAN and fingerprint checks (Envoy fails such a handshake, so
/// no request byte reaches a server with the wrong identity). `ready` fails otherwise.
final class UpstreamTLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let ready: EventLoopPromise<UpstreamTLSIdentities>
    private let localPrincipal: String?
    private let validation: UpstreamTLSConfiguration.Validation?
    private let onHandshake: () -> Void
    private let onError: () -> Void
    private var completed = false

    init(
        ready: EventLoopPromise<UpstreamTLSIdentities>, localPrincipal: String?, validation: UpstreamTLSConfiguration.Validation?,
        onHandshake: @escaping () -> Void, onError: @escaping () -> Void
    ) {
        self.ready = ready
        self.localPrincipal = localPrincipal
        self.validation = validation
        self.onHandshake = onHandshake
        self.onError = onError
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !completed, case TLSUserEvent.handshakeCompleted? = event as? TLSUserEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        completed = true
        let peer = (try? context.pipeline.syncOperations.nioSSL_peerCertificate()).map(TLSPeerCertificate.init)
        if let validation, !validation.acceptUntrusted {
            guard let peer, peer.passes(validation) else {
                onError()
                ready.fail(UpstreamFailure.connectFailed("TLS error: the server certificate failed SAN or fingerprint verification"))
                context.close(promise: nil)
                return
            }
        }
        onHandshake()
        ready.succeed(UpstreamTLSIdentities(peer: peer?.uriSANs.first, local: localPrincipal))
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !completed {
            completed = true
            onError()
            ready.fail(UpstreamFailure.connectFailed("TLS error: \(error)"))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !completed {
            completed = true
            ready.fail(UpstreamFailure.connectFailed("TLS error: the connection closed during the handshake"))
        }
        context.fireChannelInactive()
    }
}

/// Who an upstream TLS connection is between: the server certificate's first URI SAN and ours
/// (their SPIFFE identities), as Istio's stats report them.
struct UpstreamTLSIdentities: Sendable, Hashable {
    var peer: String?
    var local: String?
}

extension ChannelPipeline.SynchronousOperations {
    /// Client TLS for an upstream connection: the NIOSSL handler and the handshake gate, whose
    /// `ready` future completes once the server is verified.
    /// The future carries both sides' SPIFFE identities once the server is verified.
    func addUpstreamTLS(_ source: TLSContextSource, onHandshake: @escaping () -> Void, onError: @escaping () -> Void) throws -> EventLoopFuture<UpstreamTLSIdentities> {
        let built: TLSContextSource.Built
        do { built = try source.context() } catch {
            onError()
            throw UpstreamFailure.connectFailed("TLS error: \(error)")
        }
        var serverName: String?
        if case .client(let name) = source.role { serverName = name }
        try addHandler(try NIOSSLClientHandler(context: built.context, serverHostname: serverName))
        let promise = eventLoop.makePromise(of: UpstreamTLSIdentities.self)
        try addHandler(UpstreamTLSHandshakeHandler(
            ready: promise, localPrincipal: built.localURISANs.first, validation: source.validation, onHandshake: onHandshake, onError: onError))
        return promise.futureResult
    }
}
