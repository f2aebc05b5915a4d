public import GRPCCore
public import Logging
import Foundation
import SwiftProtobuf
import X509

/// `istio.v1.auth.IstioCertificateService`, wire-compatible with istiod's: `CreateCertificate`
/// takes a PEM CSR and a validity in seconds and answers the PEM chain, leaf first, root last.
///
/// Each call is authenticated by the ``CallerAuthenticator``s in order (a TLS client certificate
/// from this CA, a bootstrap bearer token in `authorization: Bearer …`): no credentials is
/// `unauthenticated`; a CSR for an identity the caller does not hold is `permissionDenied`; a CSR
/// that does not parse or verify is `invalidArgument`.
///
/// With a token that authorises a whole namespace (`…/sa/*`), the identity is the CSR's URI SAN;
/// otherwise it is the caller's identity, and the CSR's URI SAN, when present, must equal it.
public struct IstioCertificateService: Istio_V1_Auth_IstioCertificateService.ServiceProtocol {
    private let authority: any CertificateAuthority
    private let authenticators: [any CallerAuthenticator]
    private let peerCertificates: PeerCertificateRegistry?
    private let logger: Logger

    /// Creates the service.
    /// - Parameters:
    ///   - authority: The CA that signs.
    ///   - authenticators: Tried in order for each call.
    ///   - peerCertificates: Where the TLS transport records client certificates (see
    ///     ``SecureListenerFactory``); `nil` when the service is not served over such a transport.
    ///   - logger: Where issued and refused requests are logged.
    public init(
        authority: any CertificateAuthority,
        authenticators: [any CallerAuthenticator],
        peerCertificates: PeerCertificateRegistry? = nil,
        logger: Logger = Logger(label: "meshca")
    ) {
        self.authority = authority
        self.authenticators = authenticators
        self.peerCertificates = peerCertificates
        self.logger = logger
    }

    public func createCertificate(
        request: ServerRequest<Istio_V1_Auth_IstioCertificateRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Istio_V1_Auth_IstioCertificateResponse> {
        let credentials = CallerCredentials(
            bearerToken: Self.bearerToken(request.metadata),
            peerCertificateChain: peerCertificates?.chain(forPeer: context.remotePeer) ?? [])
        do {
            let issued = try await issue(request.message, credentials: credentials)
            return ServerResponse(message: .with { $0.certChain = issued.pemChain })
        } catch {
            logger.notice("CreateCertificate refused", metadata: ["peer": "\(context.remotePeer)", "reason": "\(error.message)"])
            throw error
        }
    }

    /// Authenticates, authorises and signs one request; the gRPC method without the transport.
    /// - Parameters:
    ///   - request: Istio's request message.
    ///   - credentials: What the caller presented.
    /// - Returns: The issued certificate and its chain.
    public func issue(_ request: Istio_V1_Auth_IstioCertificateRequest, credentials: CallerCredentials) async throws(CAError) -> IssuedCertificate {
        var caller: AuthenticatedCaller?
        var refusal: CAError?
        for authenticator in authenticators {
            do {
                if let found = try await authenticator.authenticate(credentials) {
                    caller = found
                    break
                }
            } catch {
                refusal = refusal ?? error
            }
        }
        guard let caller else {
            throw refusal ?? CAError(.unauthenticated, "no credentials: present a client certificate issued by this CA or a bootstrap token (authorization: Bearer <token>)")
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pemEncoded: request.csr) } catch {
            throw CAError(.invalidCSR, "csr: not a PEM CERTIFICATE REQUEST: \(error)")
        }
        let requested = try MeshCertificateAuthority.requestedURIs(csr)
        let identity: SPIFFEIdentity
        if let own = caller.authorization.singleIdentity {
            identity = own
        } else if requested.count == 1, let parsed = try? SPIFFEIdentity(uri: requested[0]) {
            identity = parsed
        } else {
            throw CAError(.invalidCSR, "csr: the caller may obtain \(caller.authorization), so the CSR must name exactly one SPIFFE URI SAN")
        }
        guard caller.authorization.permits(identity) else {
            throw CAError(.permissionDenied, "the CSR asks for \(identity) but the caller (\(caller.method)) may obtain only \(caller.authorization)")
        }
        for uri in requested where uri != identity.uri {
            throw CAError(.permissionDenied, "the CSR asks for \(uri) but the caller (\(caller.method)) may obtain only \(caller.authorization)")
        }
        guard request.validityDuration >= 0 else {
            throw CAError(.invalidArgument, "validity_duration must not be negative, got \(request.validityDuration)")
        }
        let lifetime: Duration? = request.validityDuration > 0 ? .seconds(request.validityDuration) : nil
        let issued = try authority.sign(csr, options: SigningOptions(identity: identity, requestedLifetime: lifetime))
        logger.info("issued certificate", metadata: [
            "identity": "\(identity)", "serial": "\(issued.leaf.serialNumber)", "notAfter": "\(issued.leaf.notValidAfter)", "auth": "\(caller.method)",
        ])
        return issued
    }

    static func bearerToken(_ metadata: Metadata) -> String? {
        for value in metadata[stringValues: "authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if !token.isEmpty { return token }
            }
        }
        return nil
    }
}
