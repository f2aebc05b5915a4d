import Foundation
import GRPCCore
import Logging
import MeshCA
import MeshXDS
import SwiftProtobuf

/// The agent's SDS server (`envoy.service.secret.v3.SecretDiscoveryService`), served to the local
/// Envoy over a Unix domain socket as Istio's agent does. Two secrets:
/// - `default`: the workload certificate chain and key (`tls_certificate`);
/// - `ROOTCA`: the trust bundle (`validation_context.trusted_ca`).
///
/// StreamSecrets is state-of-the-world: Envoy names the secrets it wants; a response carries all
/// of them at the version of the current certificate; ACKs are not answered; NACKs are logged; a
/// new certificate is pushed to every open stream. FetchSecrets answers once; DeltaSecrets is not
/// offered (Envoy uses StreamSecrets for `api_type: GRPC`).
struct SecretDiscoveryServer: Envoy_Service_Secret_V3_SecretDiscoveryService.ServiceProtocol {
    /// The secret names Istio's agent serves.
    static let workloadSecretName = "default"
    static let rootSecretName = "ROOTCA"

    var rotator: CertificateRotator
    var logger: Logger

    func deltaSecrets(
        request: StreamingServerRequest<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse> {
        throw RPCError(code: .unimplemented, message: "the agent serves SDS state-of-the-world (StreamSecrets) only")
    }

    func fetchSecrets(
        request: ServerRequest<Envoy_Service_Discovery_V3_DiscoveryRequest>, context: ServerContext
    ) async throws -> ServerResponse<Envoy_Service_Discovery_V3_DiscoveryResponse> {
        guard let certificate = await rotator.current else {
            throw RPCError(code: .unavailable, message: "no workload certificate yet")
        }
        let roots = await rotator.trustBundle
        return ServerResponse(message: try Self.response(names: request.message.resourceNames, certificate: certificate, roots: roots, nonce: UUID().uuidString))
    }

    func streamSecrets(
        request: StreamingServerRequest<Envoy_Service_Discovery_V3_DiscoveryRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Envoy_Service_Discovery_V3_DiscoveryResponse> {
        StreamingServerResponse { writer in
            try await self.serve(requests: request.messages, writer: writer, peer: context.remotePeer)
            return [:]
        }
    }

    private enum Event: Sendable {
        case request(Envoy_Service_Discovery_V3_DiscoveryRequest)
        case certificate(WorkloadCertificate)
        case requestsEnded
    }

    private func serve(
        requests: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        writer: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        peer: String
    ) async throws {
        let updates = await rotator.updates()
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { sink.yield(.requestsEnded) }
                for try await message in requests { sink.yield(.request(message)) }
            }
            group.addTask {
                for await certificate in updates { sink.yield(.certificate(certificate)) }
            }
            var stream = SDSStreamState()
            for await event in events {
                switch event {
                case .requestsEnded:
                    group.cancelAll()
                    return
                case .request(let message):
                    if message.hasErrorDetail {
                        logger.warning("Envoy rejected secrets", metadata: [
                            "names": "\(message.resourceNames)", "version": "\(message.versionInfo)", "error": "\(message.errorDetail.message)",
                        ])
                    }
                    stream.requested(message.resourceNames)
                case .certificate(let certificate):
                    stream.certificate = certificate
                }
                if let (names, certificate) = stream.pending() {
                    let roots = await rotator.trustBundle
                    let response = try Self.response(names: names, certificate: certificate, roots: roots, nonce: UUID().uuidString)
                    try await writer.write(response)
                    stream.sent(names: names, version: response.versionInfo)
                    logger.debug("pushed secrets", metadata: ["names": "\(names)", "version": "\(response.versionInfo)", "peer": "\(peer)"])
                }
            }
        }
    }

    /// The response for `names`: each known name as a `Secret`, at the certificate's version.
    static func response(
        names: [String], certificate: WorkloadCertificate, roots: TrustBundle, nonce: String
    ) throws -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = EnvoyTypeURL.secret
        response.versionInfo = version(of: certificate, roots: roots)
        response.nonce = nonce
        for name in names {
            guard let secret = secret(named: name, certificate: certificate, roots: roots) else { continue }
            response.resources.append(try Google_Protobuf_Any(message: secret))
        }
        return response
    }

    /// The secret `name`: `default` or `ROOTCA`; `nil` for any other name.
    static func secret(named name: String, certificate: WorkloadCertificate, roots: TrustBundle) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret? {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = name
        switch name {
        case workloadSecretName:
            secret.tlsCertificate = .with {
                $0.certificateChain = .with { $0.inlineBytes = Data(certificate.certificateChainPEM.utf8) }
                $0.privateKey = .with { $0.inlineBytes = Data(certificate.privateKeyPEM.utf8) }
            }
        case rootSecretName:
            secret.validationContext = .with {
                $0.trustedCa = .with { $0.inlineBytes = Data(roots.pem.utf8) }
            }
        default:
            return nil
        }
        return secret
    }

    /// The version of the secrets: the leaf's serial and the number of roots.
    static func version(of certificate: WorkloadCertificate, roots: TrustBundle) -> String {
        "\(certificate.leaf.serialNumber)-\(roots.roots.count)"
    }
}

/// One SDS stream's state: what Envoy asked for, what was sent, and the newest certificate.
struct SDSStreamState: Sendable {
    var names: [String] = []
    var certificate: WorkloadCertificate?
    var sentNames: [String]?
    var sentVersion: String?

    /// Records a request's resource names (an ACK repeats them and changes nothing).
    mutating func requested(_ resourceNames: [String]) { names = resourceNames }

    /// What to send now, if anything: the names and certificate when either changed since the last send.
    func pending() -> ([String], WorkloadCertificate)? {
        guard let certificate, !names.isEmpty else { return nil }
        let version = "\(certificate.leaf.serialNumber)"
        if sentNames == names, sentVersion?.hasPrefix(version + "-") == true { return nil }
        return (names, certificate)
    }

    mutating func sent(names: [String], version: String) {
        sentNames = names
        sentVersion = version
    }
}
