import Foundation
import MeshCA
@testable import MeshProxy
import MeshXDS
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import SwiftProtobuf
import Testing
import X509

/// A throwaway mesh CA issuing SPIFFE workload certificates, for TLS tests.
struct TestPKI {
    let authority: MeshCertificateAuthority

    init() throws { authority = try MeshCertificateAuthority.selfSigned().authority }

    var rootSecret: ProxySecret { .trustedCA(pem: authority.trustBundle.pem) }

    func workload(_ serviceAccount: String, namespace: String = "default") throws -> ProxySecret {
        let identity = SPIFFEIdentity(namespace: namespace, serviceAccount: serviceAccount)
        let (keyPEM, csrPEM) = try WorkloadCSR.make(identity: identity)
        let issued = try authority.sign(try CertificateSigningRequest(pemEncoded: csrPEM), options: SigningOptions(identity: identity))
        return .certificate(chainPEM: issued.pem, privateKeyPEM: keyPEM)
    }
}

/// Collects what reaches the end of a pipeline.
final class InboundCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var received = ByteBuffer()
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
    }
}

/// TLS in the Swift proxy: the TLS inspector, handshakes between the proxy's client and server
/// contexts (mutual TLS with SPIFFE SAN checks), secret rotation and NACKs of unusable TLS config.
@Suite struct TLSTests {
    static let serverURI = "spiffe://cluster.local/ns/default/sa/server"
    static let clientURI = "spiffe://cluster.local/ns/default/sa/client"

    /// Moves bytes between two in-memory channels until neither has anything to send.
    static func interact(_ a: EmbeddedChannel, _ b: EmbeddedChannel) {
        for _ in 0..<64 {
            var moved = false
            while let data = try? a.readOutbound(as: ByteBuffer.self) { _ = try? b.writeInbound(data); moved = true }
            while let data = try? b.readOutbound(as: ByteBuffer.self) { _ = try? a.writeInbound(data); moved = true }
            if !moved { return }
        }
    }

    static func serverConfiguration(requireClient: Bool = true, alpn: [String] = ["h2", "http/1.1"]) -> DownstreamTLSConfiguration {
        var validation = UpstreamTLSConfiguration.Validation()
        validation.trustBundleSecretName = "ROOTCA"
        return DownstreamTLSConfiguration(
            certificate: .sds(secretName: "default"), validation: validation, requireClientCertificate: requireClient,
            alpnProtocols: alpn, minimumVersion: .tls1_2, maximumVersion: .tls1_3, cipherSuites: [], ecdhCurves: [])
    }

    static func clientConfiguration(expecting uri: String?, certificate: Bool = true, alpn: [String] = ["h2"]) -> UpstreamTLSConfiguration {
        var validation = UpstreamTLSConfiguration.Validation(trustBundleSecretName: "ROOTCA")
        if let uri { validation.subjectAltNameMatchers = [SubjectAltNameMatcher(sanType: .uri, pattern: .exact(uri, ignoreCase: false))] }
        return UpstreamTLSConfiguration(
            sni: "outbound_.9080_._.reviews.default.svc.cluster.local", alpnProtocols: alpn,
            certificates: certificate ? [.sds(secretName: "default")] : [], validation: validation)
    }

    final class Handshake {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        var clientReady: Result<UpstreamTLSIdentities, any Error>?
        var serverInfo: DownstreamTLSInfo?
        var serverFailed = false
        var clientHandshakes = 0
        let collector = InboundCollector()

        init(serverSource: TLSContextSource, clientSource: TLSContextSource) throws {
            let built = try serverSource.context()
            try server.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: built.context))
            try server.pipeline.syncOperations.addHandler(DownstreamTLSHandshakeHandler(
                serverName: "outbound_.9080_._.reviews.default.svc.cluster.local", localURISANs: built.localURISANs, validation: serverSource.validation,
                established: { [unowned self] context, info in
                    self.serverInfo = info
                    try context.pipeline.syncOperations.addHandler(self.collector)
                },
                failed: { [unowned self] in self.serverFailed = true }))
            let ready = try client.pipeline.syncOperations.addUpstreamTLS(clientSource, onHandshake: { [unowned self] in self.clientHandshakes += 1 }, onError: {})
            ready.assumeIsolated().whenComplete { [unowned self] result in self.clientReady = result }
            _ = try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 15006)).wait()
            _ = try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 15006)).wait()
            TLSTests.interact(client, server)
        }

        /// The server certificate's fingerprint as the client saw it.
        var serverCertificateHash: String? {
            (try? client.pipeline.syncOperations.nioSSL_peerCertificate()).flatMap { $0 }.map { TLSPeerCertificate($0).sha256Hex }
        }
    }

    static func stores(_ pki: TestPKI) throws -> (server: SecretStore, client: SecretStore) {
        let server = SecretStore(), client = SecretStore()
        server.replace(owned: nil, with: ["default": try pki.workload("server"), "ROOTCA": pki.rootSecret])
        client.replace(owned: nil, with: ["default": try pki.workload("client"), "ROOTCA": pki.rootSecret])
        return (server, client)
    }

    @Test func mutualTLSHandshakeReportsThePeersSPIFFEIdentity() throws {
        let pki = try TestPKI()
        let (serverSecrets, clientSecrets) = try Self.stores(pki)
        let handshake = try Handshake(
            serverSource: TLSContextSource(downstream: Self.serverConfiguration(), resource: "inbound", secrets: serverSecrets),
            clientSource: TLSContextSource(upstream: Self.clientConfiguration(expecting: Self.serverURI), resource: "cluster reviews", alpnFallback: [], secrets: clientSecrets))
        guard case .success(let identities)? = handshake.clientReady else { Issue.record("client not ready: \(String(describing: handshake.clientReady))"); return }
        // The client learns both identities too (outbound `destination_principal` and `source_principal`).
        #expect(identities == UpstreamTLSIdentities(peer: Self.serverURI, local: Self.clientURI))
        let info = try #require(handshake.serverInfo)
        #expect(info.peerCertificatePresented)
        #expect(info.peerURISANs == [Self.clientURI])
        #expect(info.peerPrincipal == Self.clientURI)
        #expect(info.localURISANs == [Self.serverURI])
        #expect(info.negotiatedProtocol == "h2")
        #expect(info.serverName == "outbound_.9080_._.reviews.default.svc.cluster.local")
        #expect(info.peerCertificateSHA256.count == 64)
        #expect(handshake.clientHandshakes == 1)
        // Application bytes flow once the handshake is done.
        try handshake.client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")).wait()
        Self.interact(handshake.client, handshake.server)
        #expect(String(buffer: handshake.collector.received) == "GET / HTTP/1.1\r\n\r\n")
    }

    @Test func upstreamRefusesAServerWhoseSANDoesNotMatch() throws {
        let pki = try TestPKI()
        let (serverSecrets, clientSecrets) = try Self.stores(pki)
        let handshake = try Handshake(
            serverSource: TLSContextSource(downstream: Self.serverConfiguration(), resource: "inbound", secrets: serverSecrets),
            clientSource: TLSContextSource(upstream: Self.clientConfiguration(expecting: "spiffe://cluster.local/ns/default/sa/other"), resource: "cluster reviews", alpnFallback: [], secrets: clientSecrets))
        guard case .failure(let error)? = handshake.clientReady else { Issue.record("a server with the wrong identity was accepted"); return }
        #expect("\(error)".contains("SAN"), "\(error)")
        #expect(handshake.clientHandshakes == 0)
    }

    @Test func requiredClientCertificateRefusesAClientWithout() throws {
        let pki = try TestPKI()
        let (serverSecrets, clientSecrets) = try Self.stores(pki)
        let handshake = try Handshake(
            serverSource: TLSContextSource(downstream: Self.serverConfiguration(requireClient: true), resource: "inbound", secrets: serverSecrets),
            clientSource: TLSContextSource(upstream: Self.clientConfiguration(expecting: nil, certificate: false), resource: "cluster reviews", alpnFallback: [], secrets: clientSecrets))
        #expect(handshake.serverInfo == nil)
        #expect(handshake.serverFailed)
        if case .success? = handshake.clientReady {
            // TLS 1.3 clients finish before the server checks their (missing) certificate; the
            // server then aborts, so nothing can be exchanged.
            #expect(!handshake.client.isActive || handshake.serverInfo == nil)
        }
    }

    @Test func optionalClientCertificateAcceptsPlainTLSClients() throws {
        let pki = try TestPKI()
        let (serverSecrets, clientSecrets) = try Self.stores(pki)
        let handshake = try Handshake(
            serverSource: TLSContextSource(downstream: Self.serverConfiguration(requireClient: false), resource: "gateway", secrets: serverSecrets),
            clientSource: TLSContextSource(upstream: Self.clientConfiguration(expecting: Self.serverURI, certificate: false, alpn: []), resource: "client", alpnFallback: ["http/1.1"], secrets: clientSecrets))
        let info = try #require(handshake.serverInfo)
        #expect(!info.peerCertificatePresented && info.peerPrincipal == nil)
        #expect(info.negotiatedProtocol == "http/1.1", "the HTTP/1.1 pool's ALPN fallback")
    }

    @Test func rotatedSecretsServeNewHandshakesAndLeaveEstablishedConnections() throws {
        let pki = try TestPKI()
        let (serverSecrets, clientSecrets) = try Self.stores(pki)
        let serverSource = TLSContextSource(downstream: Self.serverConfiguration(), resource: "inbound", secrets: serverSecrets)
        let clientSource = TLSContextSource(upstream: Self.clientConfiguration(expecting: Self.serverURI), resource: "cluster reviews", alpnFallback: [], secrets: clientSecrets)
        let first = try serverSource.context()
        #expect(try serverSource.context().context === first.context, "unchanged secrets reuse the built context")
        let before = try Handshake(serverSource: serverSource, clientSource: clientSource)
        let oldHash = try #require(before.serverCertificateHash)

        let rotated = try pki.workload("server")
        serverSecrets.replace(owned: ["default", "ROOTCA"], with: ["default": rotated, "ROOTCA": pki.rootSecret])
        let second = try serverSource.context()
        #expect(second.context !== first.context && second.versions != first.versions)
        let after = try Handshake(serverSource: serverSource, clientSource: clientSource)
        let newHash = try #require(after.serverCertificateHash)
        #expect(newHash != oldHash, "a new handshake presents the rotated certificate")
        guard case .certificate(let chain, _) = rotated else { Issue.record("the rotated workload secret is not a certificate: \(rotated)"); return }
        #expect(newHash == TLSPeerCertificate(try NIOSSLCertificate.fromPEMBytes(Array(chain.utf8))[0]).sha256Hex)

        // The connection established before the rotation keeps working.
        try before.client.writeAndFlush(ByteBuffer(string: "still here")).wait()
        Self.interact(before.client, before.server)
        #expect(String(buffer: before.collector.received) == "still here")
    }

    @Test func aContextWaitsForItsSecrets() throws {
        let secrets = SecretStore()
        let source = TLSContextSource(downstream: Self.serverConfiguration(), resource: "inbound", secrets: secrets)
        #expect(!source.isWarm)
        do { _ = try source.context(); Issue.record("built without secrets") } catch {
            guard case .missingSecret(let name) = error else { Issue.record("\(error)"); return }
            #expect(name == "default")
        }
        let pki = try TestPKI()
        secrets.replace(owned: nil, with: ["default": try pki.workload("server"), "ROOTCA": pki.rootSecret])
        #expect(source.isWarm)
        _ = try source.context()
    }

    @Test func publisherDeliversTheCurrentSnapshotThenChanges() async throws {
        let publisher = ProxySecretPublisher(secretNames: ["default", "ROOTCA"])
        publisher.publish(["ROOTCA": .trustedCA(pem: "a")])
        var updates = publisher.updates().makeAsyncIterator()
        #expect(await updates.next() == ["ROOTCA": .trustedCA(pem: "a")])
        publisher.publish(["ROOTCA": .trustedCA(pem: "b")])
        #expect(await updates.next() == ["ROOTCA": .trustedCA(pem: "b")])
    }

    // MARK: TLS inspector

    /// A real ClientHello, from NIOSSL's client.
    static func clientHello(serverName: String?, alpn: [String]) throws -> ByteBuffer {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = alpn
        configuration.certificateVerification = .none
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration), serverHostname: serverName))
        _ = try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        var hello = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { hello.writeBuffer(&part) }
        return hello
    }

    @Test func inspectorReadsSNIAndALPNFromAClientHello() throws {
        let hello = try Self.clientHello(serverName: "Reviews.Default.svc", alpn: ["istio-peer-exchange", "istio"])
        #expect(ClientHelloParser.parse(hello.readableBytesView) == .clientHello(.init(serverName: "reviews.default.svc", applicationProtocols: ["istio-peer-exchange", "istio"])))
        #expect(ClientHelloParser.parse(hello.readableBytesView.prefix(20)) == .needMoreData)
        let anonymous = try Self.clientHello(serverName: nil, alpn: [])
        #expect(ClientHelloParser.parse(anonymous.readableBytesView) == .clientHello(.init(serverName: nil, applicationProtocols: [])))
        #expect(ClientHelloParser.parse(ByteBuffer(string: "GET / HTTP/1.1\r\n").readableBytesView) == .notTLS)
        #expect(ClientHelloParser.parse(ByteBuffer(string: "PRI * HTTP/2.0\r\n").readableBytesView) == .notTLS)
        // A handshake record that is not a ClientHello (a ServerHello).
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]).readableBytesView) == .invalid)
    }

    @Test func inspectorHandlerDecidesOnceAndReplaysEveryByte() throws {
        let hello = try Self.clientHello(serverName: "api.example.com", alpn: ["h2"])
        let channel = EmbeddedChannel()
        var decisions: [ClientHelloSummary?] = []
        let collector = InboundCollector()
        try channel.pipeline.syncOperations.addHandler(ListenerInspectorHandler(timeout: nil, continueOnTimeout: false) { context, inspection in
            decisions.append(inspection.tls)
            try context.pipeline.syncOperations.addHandler(collector)
        })
        var first = hello
        let head = first.readSlice(length: 7)!
        try channel.writeInbound(head)
        #expect(decisions.isEmpty)
        try channel.writeInbound(first)
        #expect(decisions.count == 1)
        #expect(decisions.first??.serverName == "api.example.com")
        #expect(decisions.first??.applicationProtocols == ["h2"])
        try channel.writeInbound(ByteBuffer(string: "after"))
        var expected = hello
        expected.writeString("after")
        #expect(collector.received == expected)
        #expect((try? channel.pipeline.syncOperations.handler(type: ListenerInspectorHandler.self)) == nil, "the inspector removed itself")

        let plain = EmbeddedChannel()
        var plainDecision: ClientHelloSummary?? = .none
        try plain.pipeline.syncOperations.addHandler(ListenerInspectorHandler(timeout: nil, continueOnTimeout: false) { _, inspection in plainDecision = .some(inspection.tls) })
        try plain.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(plainDecision == .some(nil), "plaintext is decided as raw_buffer")
    }

    /// `http_inspector`: plaintext HTTP/1.x and h2c are told apart from other bytes, also when
    /// they arrive a few bytes at a time; TLS still goes to the TLS inspector.
    @Test func httpInspectorDetectsTheProtocolOfPlaintextConnections() throws {
        func detect(_ chunks: [String]) throws -> ListenerInspection?? {
            let channel = EmbeddedChannel()
            var found: ListenerInspection?? = .none
            try channel.pipeline.syncOperations.addHandler(ListenerInspectorHandler(inspectsHTTP: true, timeout: nil, continueOnTimeout: false) { _, inspection in
                found = .some(inspection)
            })
            for chunk in chunks where found == nil { try channel.writeInbound(ByteBuffer(string: chunk)) }
            return found
        }
        #expect(try detect(["GE", "T /index.html HT", "TP/1.1\r\nhost: a\r\n\r\n"])??.httpProtocol == "http/1.1")
        #expect(try detect(["POST /x HTTP/1.0\r\n"])??.httpProtocol == "http/1.0")
        #expect(try detect(["PRI * HTTP/2.0\r\n", "\r\nSM\r\n\r\n"])??.httpProtocol == "h2c")
        #expect(try detect(["SSH-2.0-OpenSSH_9.2\r\n"]).map { $0?.httpProtocol } == .some(nil), "not HTTP")
        #expect(try detect(["GET /x HTTP/2.0\r\n"]).map { $0?.httpProtocol } == .some(nil))
        #expect(try detect(["GET /x"]) == nil, "waits for the rest of the request line")
        #expect(HTTPInspection.detect(Array("\u{16}\u{03}".utf8)) == .detected(nil))
    }

    @Test func istioPermissiveChainsSelectOnTransportAndALPN() throws {
        let mutualMatch: (inout Envoy_Config_Listener_V3_FilterChainMatch) -> Void = {
            $0.transportProtocol = "tls"
            $0.applicationProtocols = ["istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]
        }
        let configuration = try ListenerConfiguration(ListenerConfigurationTests.listener([
            ListenerConfigurationTests.chain(mutualMatch, cluster: "mutual"),
            ListenerConfigurationTests.chain({ $0.transportProtocol = "raw_buffer" }, cluster: "plaintext"),
        ]))
        #expect(ListenerConfigurationTests.selected(configuration, .init(destinationPort: 15006, transportProtocol: "tls", applicationProtocols: ["istio"])) == "mutual")
        #expect(ListenerConfigurationTests.selected(configuration, .init(destinationPort: 15006, transportProtocol: "raw_buffer")) == "plaintext")
        #expect(ListenerConfigurationTests.selected(configuration, .init(destinationPort: 15006, transportProtocol: "tls", applicationProtocols: ["h2"])) == nil,
                "the application's own TLS matches neither chain")
    }

    // MARK: NACKs

    static func tlsListener(_ configure: (inout Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext) -> Void) -> Envoy_Config_Listener_V3_Listener {
        var chain = ListenerConfigurationTests.chain({ $0.transportProtocol = "tls" }, cluster: "backend")
        var context = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        configure(&context)
        chain.transportSocket.name = "envoy.transport_sockets.tls"
        chain.transportSocket.typedConfig = try! Google_Protobuf_Any(message: context)
        return ListenerConfigurationTests.listener([chain])
    }

    @Test func unusableDownstreamTLSIsRefusedNamingTheField() throws {
        let badPEM = Self.tlsListener {
            $0.commonTlsContext.tlsCertificates = [.with {
                $0.certificateChain.inlineString = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
                $0.privateKey.inlineString = "nope"
            }]
        }
        do { _ = try ListenerConfiguration(badPEM); Issue.record("accepted a bad PEM") } catch {
            #expect(error.code == .invalid && error.resourceName == "virtual")
            #expect(error.field == "filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain", "\(error)")
        }
        let badCipher = Self.tlsListener {
            $0.commonTlsContext.tlsCertificateSdsSecretConfigs = [.with { $0.name = "default" }]
            $0.commonTlsContext.tlsParams.cipherSuites = ["ECDHE-RSA-AES128-GCM-SHA256", "NOT-A-CIPHER"]
        }
        do { _ = try ListenerConfiguration(badCipher); Issue.record("accepted an unknown cipher") } catch {
            #expect(error.code == .invalid)
            #expect(error.field == "filter_chains[0].transport_socket.typed_config.common_tls_context.tls_params.cipher_suites[1]", "\(error)")
            #expect(error.description.contains("NOT-A-CIPHER"))
        }
        let noCertificate = Self.tlsListener { $0.requireClientCertificate = .init(true) }
        do { _ = try ListenerConfiguration(noCertificate); Issue.record("accepted a server without a certificate") } catch {
            #expect(error.field == "filter_chains[0].transport_socket.typed_config.common_tls_context")
        }
        let mutual = Self.tlsListener {
            $0.commonTlsContext.tlsCertificateSdsSecretConfigs = [.with { $0.name = "default" }]
            $0.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name = "ROOTCA"
            $0.commonTlsContext.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames = [.with {
                $0.sanType = .uri
                $0.matcher.prefix = "spiffe://cluster.local/"
            }]
            $0.commonTlsContext.alpnProtocols = ["h2", "http/1.1"]
            $0.requireClientCertificate = .init(true)
        }
        let accepted = try ListenerConfiguration(mutual)
        let tls = try #require(accepted.filterChains[0].tls)
        #expect(tls.requireClientCertificate && tls.sdsSecretNames == ["default", "ROOTCA"] && tls.alpnProtocols == ["h2", "http/1.1"])
        #expect(tls.validation?.subjectAltNameMatchers == [SubjectAltNameMatcher(sanType: .uri, pattern: .prefix("spiffe://cluster.local/", ignoreCase: false))])
        #expect(accepted.sdsSecretNames == ["default", "ROOTCA"])
    }

    @Test func unusableSDSSecretsAreRefusedNamingTheField() throws {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = "kubernetes://bad"
        secret.tlsCertificate.certificateChain.inlineString = "garbage"
        secret.tlsCertificate.privateKey.inlineString = "garbage"
        do { _ = try ProxySecret(secret); Issue.record("accepted a bad secret") } catch {
            #expect(error.resourceType == "Secret" && error.resourceName == "kubernetes://bad")
            #expect(error.field == "tls_certificate.certificate_chain")
        }
        let pki = try TestPKI()
        var ca = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        ca.name = "kubernetes://good-cacert"
        ca.validationContext.trustedCa.inlineString = pki.authority.trustBundle.pem
        #expect(try ProxySecret(ca) == pki.rootSecret)
    }
}
