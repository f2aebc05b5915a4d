import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
@testable import MeshCA
import Testing
import X509

/// `IstioCertificateService` over a real TLS gRPC connection on loopback.
@Suite(.timeLimit(.minutes(2))) struct CertificateServiceTests {
    static let token = "reviews-bootstrap-token-0001"
    static let namespaceToken = "bookinfo-namespace-token-0002"
    let reviews = SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "reviews")

    /// Runs a CA server on 127.0.0.1 (any port) for the duration of `body`.
    func withCAServer(_ body: (MeshCertificateAuthority, Int) async throws -> Void) async throws {
        let (ca, _) = try MeshCertificateAuthority.selfSigned()
        let tokens = try BootstrapTokenAuthenticator(tokenFile: """
            \(Self.token) spiffe://cluster.local/ns/bookinfo/sa/reviews
            \(Self.namespaceToken) spiffe://cluster.local/ns/bookinfo/sa/*
            """)
        let registry = PeerCertificateRegistry()
        let own = try ca.issueServerCertificate(dnsNames: ["istiod.istio-system.svc"], ipAddresses: ["127.0.0.1"])
        let factory = try SecureListenerFactory(
            host: "127.0.0.1", port: 0,
            identity: .init(certificateChainPEM: own.certificateChainPEM, privateKeyPEM: own.privateKeyPEM),
            clientTrust: ca.trustBundle, registry: registry)
        let service = IstioCertificateService(
            authority: ca, authenticators: [ClientCertificateAuthenticator(trustBundle: { ca.trustBundle }), tokens], peerCertificates: registry)
        let transport = HTTP2ServerTransport.Custom(listenerFactory: factory)
        let server = GRPCServer(transport: transport, services: [service])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let port = try #require(await transport.listeningAddress?.ipv4?.port)
            defer { server.beginGracefulShutdown() }
            try await body(ca, port)
        }
    }

    func client(_ ca: MeshCertificateAuthority, _ port: Int, token: String?) -> IstioCAClient {
        // A generous upper bound: debug-built crypto and TLS share two cores with the Envoy suites.
        IstioCAClient(host: "127.0.0.1", port: port, trustBundle: ca.trustBundle, token: { token }, timeout: .seconds(60))
    }

    func chain(_ pems: [String]) throws -> [Certificate] { try pems.map { try Certificate(pemEncoded: $0) } }

    @Test func tokenCallerGetsItsCertificateThenRenewsWithIt() async throws {
        try await withCAServer { ca, port in
            let (key, csr) = try WorkloadCSR.make(identity: reviews)
            let pems = try await client(ca, port, token: Self.token).issue(csrPEM: csr, lifetime: .seconds(3600), current: nil)
            let issued = try chain(pems)
            #expect(issued.count == 2 && issued.last == ca.signingCertificate)
            #expect(issued[0].spiffeIdentities == [reviews])
            #expect(issued[0].notValidAfter.timeIntervalSince(issued[0].notValidBefore) == 3600)

            // Renewal authenticated by the client certificate alone (no token).
            let current = WorkloadCertificate(chain: issued, privateKeyPEM: key)
            let (_, csr2) = try WorkloadCSR.make(identity: reviews)
            let renewed = try chain(try await client(ca, port, token: nil).issue(csrPEM: csr2, lifetime: .seconds(3600), current: current))
            #expect(renewed[0].spiffeIdentities == [reviews])
            #expect(renewed[0].serialNumber != issued[0].serialNumber)

            // The client certificate does not let it ask for another identity.
            let (_, forged) = try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "ratings"))
            await #expect { _ = try await client(ca, port, token: nil).issue(csrPEM: forged, lifetime: .seconds(60), current: current) } throws: {
                ($0 as? RPCError)?.code == .permissionDenied
            }
        }
    }

    @Test func forgedCSRForAnotherIdentityIsPermissionDenied() async throws {
        try await withCAServer { ca, port in
            let (_, forged) = try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "admin"))
            await #expect {
                _ = try await client(ca, port, token: Self.token).issue(csrPEM: forged, lifetime: .seconds(60), current: nil)
            } throws: { error in
                guard let rpc = error as? RPCError else { return false }
                return rpc.code == .permissionDenied && rpc.message.contains("sa/admin") && rpc.message.contains("sa/reviews")
            }
            // A namespace token may obtain any service account of its namespace, and no other.
            let (_, ratings) = try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "bookinfo", serviceAccount: "ratings"))
            let pems = try await client(ca, port, token: Self.namespaceToken).issue(csrPEM: ratings, lifetime: .seconds(60), current: nil)
            #expect(try chain(pems)[0].spiffeIdentities.map(\.serviceAccount) == ["ratings"])
            let (_, elsewhere) = try WorkloadCSR.make(identity: SPIFFEIdentity(namespace: "default", serviceAccount: "ratings"))
            await #expect {
                _ = try await client(ca, port, token: Self.namespaceToken).issue(csrPEM: elsewhere, lifetime: .seconds(60), current: nil)
            } throws: { ($0 as? RPCError)?.code == .permissionDenied }
        }
    }

    @Test func callerWithoutCredentialsGetsNothing() async throws {
        try await withCAServer { ca, port in
            let (_, csr) = try WorkloadCSR.make(identity: reviews)
            await #expect {
                _ = try await client(ca, port, token: nil).issue(csrPEM: csr, lifetime: .seconds(60), current: nil)
            } throws: { ($0 as? RPCError)?.code == .unauthenticated }
            await #expect {
                _ = try await client(ca, port, token: "not-a-configured-token").issue(csrPEM: csr, lifetime: .seconds(60), current: nil)
            } throws: { ($0 as? RPCError)?.code == .unauthenticated }
            await #expect {
                _ = try await client(ca, port, token: Self.token).issue(csrPEM: "not a csr", lifetime: .seconds(60), current: nil)
            } throws: { ($0 as? RPCError)?.code == .invalidArgument }
        }
    }

    @Test func clientRefusesACAWhoseCertificateItDoesNotTrust() async throws {
        try await withCAServer { _, port in
            let (stranger, _) = try MeshCertificateAuthority.selfSigned()
            let (_, csr) = try WorkloadCSR.make(identity: reviews)
            await #expect(throws: (any Error).self) {
                _ = try await client(stranger, port, token: Self.token).issue(csrPEM: csr, lifetime: .seconds(60), current: nil)
            }
        }
    }
}
