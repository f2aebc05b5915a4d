import Foundation
import MeshCore
import SwiftProtobuf
import Testing
@testable import MeshXDS

/// Gateway credentials over SDS: listeners and clusters refer to `kubernetes://` secrets over
/// ADS, the secret generator serves them only to a router verified in their namespace, and the
/// producer keeps secrets out of the plaintext server's cache.
@Suite(.timeLimit(.minutes(1))) struct GatewaySecretTranslationTests {
    static func pem(_ label: String, _ content: String) -> String {
        "-----BEGIN \(label)-----\n\(Data(content.utf8).base64EncodedString())\n-----END \(label)-----\n"
    }
    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static func config(serial: String = "v1") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: web, namespace: edge}
        spec:
          hosts: [web.edge.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 443, name: https, protocol: HTTPS}]
          endpoints: [{address: 127.0.0.50}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: web, namespace: edge}
        spec:
          host: web.edge.svc.cluster.local
          trafficPolicy: {tls: {mode: MUTUAL, credentialName: upstream-client}}
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: edge}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: [secure.example.com]
            tls: {mode: SIMPLE, credentialName: web-cert}
          - port: {number: 8443, name: https-mtls, protocol: HTTPS}
            hosts: [mtls.example.com]
            tls: {mode: MUTUAL, credentialName: partner, subjectAltNames: [client.example.com]}
          - port: {number: 8443, name: https-foreign, protocol: HTTPS}
            hosts: [foreign.example.com]
            tls: {mode: SIMPLE, credentialName: foreign}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: edge}
        spec:
          hosts: [secure.example.com, mtls.example.com, foreign.example.com]
          gateways: [edge]
          http: [{route: [{destination: {host: web.edge.svc.cluster.local, port: {number: 443}}}]}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: web-cert, namespace: edge}
        type: kubernetes.io/tls
        data: {tls.crt: \(b64(pem("CERTIFICATE", "web \(serial)"))), tls.key: \(b64(pem("PRIVATE KEY", "web key \(serial)")))}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: partner, namespace: edge}
        data: {cert: \(b64(pem("CERTIFICATE", "partner"))), key: \(b64(pem("PRIVATE KEY", "partner key"))), cacert: \(b64(pem("CERTIFICATE", "partner ca")))}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: upstream-client, namespace: edge}
        data: {cert: \(b64(pem("CERTIFICATE", "client"))), key: \(b64(pem("PRIVATE KEY", "client key"))), cacert: \(b64(pem("CERTIFICATE", "upstream ca")))}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: foreign, namespace: other}
        type: kubernetes.io/tls
        data: {tls.crt: \(b64(pem("CERTIFICATE", "foreign"))), tls.key: \(b64(pem("PRIVATE KEY", "foreign key")))}
        """
    }

    static func resources(_ yaml: String) throws -> [AnyResource] {
        let output = ConfigDecoder().decode(yaml, file: "gateway.yaml")
        try #require(!output.hasErrors, "\(output.errors)")
        return output.resources
    }

    static let node: Envoy_Config_Core_V3_Node = .with {
        $0.id = "router~127.0.0.60~ingressgateway-0.edge~edge.svc.cluster.local"
        $0.metadata = .init(fields: [
            "NAMESPACE": .init(stringValue: "edge"),
            "LABELS": .init(structValue: .init(fields: ["istio": .init(stringValue: "ingressgateway")])),
        ])
    }
    static let identity = VerifiedProxyIdentity(trustDomain: "cluster.local", namespace: "edge", serviceAccount: "ingressgateway")

    func request(verified: Bool) throws -> GenerationRequest {
        var proxy = try ProxyView(node: Self.node)
        if verified { proxy.verifiedIdentity = Self.identity }
        return GenerationRequest(snapshot: MeshSnapshot(resources: try Self.resources(Self.config())), proxy: proxy, options: TranslationOptions())
    }

    @Test func verifiedGatewayGetsSDSOverADSForItsNamespaceOnly() throws {
        let request = try request(verified: true)
        let listeners = ListenerGenerator().generate(request).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener }
        let chains = try #require(listeners.first { $0.name.hasSuffix("8443") }?.filterChains)
        let names = chains.map(\.filterChainMatch.serverNames)
        #expect(names == [["secure.example.com"], ["mtls.example.com"]], "the foreign server is left out")
        let mutual = try Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(unpackingAny: chains[1].transportSocket.typedConfig)
        #expect(mutual.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["kubernetes://partner"])
        if case .ads? = mutual.commonTlsContext.tlsCertificateSdsSecretConfigs[0].sdsConfig.configSourceSpecifier {} else {
            Issue.record("the certificate is fetched over ADS")
        }
        #expect(mutual.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name == "kubernetes://partner-cacert")
        #expect(mutual.requireClientCertificate.value)

        let secrets = SecretGenerator().generate(request)
        #expect(secrets.map(\.name) == ["kubernetes://partner", "kubernetes://partner-cacert", "kubernetes://upstream-client", "kubernetes://upstream-client-cacert", "kubernetes://web-cert"])
        let web = try #require(secrets.last?.message as? Envoy_Extensions_TransportSockets_Tls_V3_Secret)
        #expect(String(decoding: web.tlsCertificate.certificateChain.inlineBytes, as: UTF8.self) == Self.pem("CERTIFICATE", "web v1"))
        let ca = try #require(secrets[1].message as? Envoy_Extensions_TransportSockets_Tls_V3_Secret)
        #expect(String(decoding: ca.validationContext.trustedCa.inlineBytes, as: UTF8.self) == Self.pem("CERTIFICATE", "partner ca"))

        let problems = GatewayListenerBuilder.problems(snapshot: request.snapshot, proxy: request.proxy, options: request.options).map(\.description)
        #expect(problems == ["Gateway edge/edge: spec.servers[2].tls.credentialName: Secret edge/foreign not found (namespace other has one; a gateway reads secrets of its own namespace only)"])
        // The gateway's cluster originates MUTUAL with the secret over ADS.
        let cluster = try #require(ClusterGenerator().generate(request).compactMap { $0.message as? Envoy_Config_Cluster_V3_Cluster }.first { $0.name == "outbound|443||web.edge.svc.cluster.local" })
        let upstream = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: cluster.transportSocket.typedConfig)
        #expect(SecretGenerator.istiodSecretNames(upstream.commonTlsContext) == ["kubernetes://upstream-client", "kubernetes://upstream-client-cacert"])
    }

    @Test func unverifiedGatewayGetsNoSecretsAndNoSDSServers() throws {
        let request = try request(verified: false)
        #expect(SecretGenerator().generate(request).isEmpty)
        let listeners = ListenerGenerator().generate(request).compactMap { $0.message as? Envoy_Config_Listener_V3_Listener }
        #expect(listeners.first { $0.name.hasSuffix("8443") } == nil, "every server of the port needs a secret")
        let problems = GatewayListenerBuilder.problems(snapshot: request.snapshot, proxy: request.proxy, options: request.options)
        #expect(problems.count == 3 && problems.allSatisfy { $0.message.contains("connect to istiod's secure port") })
        // A sidecar never gets gateway secrets, even verified.
        var sidecar = try ProxyView(node: .with { $0.id = "sidecar~127.0.0.61~web-0.edge~edge.svc.cluster.local" })
        sidecar.verifiedIdentity = Self.identity
        #expect(SecretGenerator().generate(GenerationRequest(snapshot: request.snapshot, proxy: sidecar, options: request.options)).isEmpty)
    }

    /// The producer: secrets only in the verified cache, a certificate edit changes SDS and
    /// nothing else, an identity of another namespace gets none.
    @Test func producerServesSecretsOnlyToVerifiedConnections() async throws {
        let store = InMemoryConfigStore(try Self.resources(Self.config()))
        let cache = SnapshotCache(), verified = SnapshotCache()
        let producer = IstioSnapshotProducer(store: store, cache: cache, quietPeriod: .milliseconds(10), maximumDelay: .seconds(1), verifiedCache: verified)
        let running = Task { await producer.run() }
        defer { running.cancel() }
        let node = Self.node
        let secure = producer.verifiedCallbacks { connection in connection.peer == "good" ? Self.identity : VerifiedProxyIdentity(trustDomain: "cluster.local", namespace: "other", serviceAccount: "x") }
        producer.callbacks.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "plain", mode: .stateOfTheWorld, peer: "p", node: node))
        secure.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "tls", mode: .stateOfTheWorld, peer: "good", node: node))
        func waitUntil(_ condition: () async -> Bool) async -> Bool {
            for _ in 0..<500 {
                if await condition() { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
        #expect(await waitUntil {
            let plain = await cache.snapshot(for: node.id)
            let secured = await verified.snapshot(for: node.id)
            return plain != nil && secured != nil
        })
        #expect(await cache.snapshot(for: node.id)?.resources[EnvoyTypeURL.secret]?.count == 0, "plaintext: no secrets")
        let before = try #require(await verified.snapshot(for: node.id))
        #expect(before.resources[EnvoyTypeURL.secret]?.names.contains("kubernetes://web-cert") == true)

        // Rotation: only the Secret type's version moves.
        let rotated = try Self.resources(Self.config(serial: "v2")).first { $0.meta.name == "web-cert" }!
        await store.apply(rotated)
        #expect(await waitUntil { await verified.snapshot(for: node.id)?.resources[EnvoyTypeURL.secret]?.version != before.resources[EnvoyTypeURL.secret]?.version })
        let after = try #require(await verified.snapshot(for: node.id))
        for type in [EnvoyTypeURL.listener, EnvoyTypeURL.cluster, EnvoyTypeURL.routeConfiguration, EnvoyTypeURL.clusterLoadAssignment] {
            #expect(after.resources[type]?.version == before.resources[type]?.version, "\(type) unchanged")
        }

        // istiod's config dump shows the secrets without their private keys.
        producer.callbacks.streamClosed(XDSConnectionInfo(connectionID: "plain", mode: .stateOfTheWorld, peer: "p", node: node), error: nil)
        #expect(await waitUntil { await cache.snapshot(for: node.id) == nil })
        let dump = try #require(await producer.configDump(node.id))
        #expect(dump.contains("kubernetes://web-cert") && dump.contains("[redacted]"))
        #expect(!dump.contains(Self.b64(Self.pem("PRIVATE KEY", "web key v2"))), "no key material in the dump")

        // A certificate for another namespace than the node claims: no secrets.
        let other = Envoy_Config_Core_V3_Node.with {
            $0.id = "router~127.0.0.62~ingressgateway-1.edge~edge.svc.cluster.local"
            $0.metadata = node.metadata
        }
        secure.requestReceived(.init(), on: XDSConnectionInfo(connectionID: "tls2", mode: .stateOfTheWorld, peer: "bad", node: other))
        #expect(await waitUntil { await verified.snapshot(for: other.id) != nil })
        #expect(await verified.snapshot(for: other.id)?.resources[EnvoyTypeURL.secret]?.count == 0)
        await producer.finish()
    }
}
