import MeshCore
import SwiftProtobuf

/// The TLS pieces Istio's sidecars use: SDS references to the node agent's `default` workload
/// certificate and `ROOTCA` trust bundle, TLS parameters, transport sockets and SPIFFE names.
enum TLSContexts {
    typealias CommonTlsContext = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext
    typealias UpstreamTlsContext = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext
    typealias DownstreamTlsContext = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext
    typealias SanMatcher = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher

    /// The secret holding the workload's certificate chain and key.
    static let workloadCertificate = "default"
    /// The secret holding the trusted roots.
    static let rootCertificate = "ROOTCA"
    /// The bootstrap cluster that reaches the node agent's SDS server.
    static let sdsCluster = "sds-grpc"
    /// ALPN a sidecar offers on Istio mutual TLS.
    static let istioALPN = ["istio"]
    /// ALPN values inbound chains accept as Istio mutual TLS (Istio's inbound filter chain match).
    static let istioInboundALPN = ["istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]
    /// Istio's default cipher suites for inbound mutual TLS (TLS 1.2; TLS 1.3 suites are fixed).
    static let inboundCipherSuites = [
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "AES256-GCM-SHA384", "AES128-GCM-SHA256",
    ]

    /// The operating system's CA bundle (Debian, Ubuntu, Alpine, Fedora's compat path), trusted
    /// where a TLS origination names no CA. Envoy only verifies SANs against an explicit bundle.
    static let systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

    /// SDS over gRPC to `sds-grpc`, as Istio's sidecars fetch secrets from their agent.
    static var sdsConfigSource: Envoy_Config_Core_V3_ConfigSource {
        .with {
            $0.apiConfigSource = .with {
                $0.apiType = .grpc
                $0.transportApiVersion = .v3
                $0.setNodeOnFirstMessageOnly = true
                $0.grpcServices = [.with { $0.envoyGrpc = .with { $0.clusterName = sdsCluster } }]
            }
            $0.initialFetchTimeout = Proto.zeroDuration
            $0.resourceApiVersion = .v3
        }
    }

    static func sdsSecret(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        .with { $0.name = name; $0.sdsConfig = sdsConfigSource }
    }

    static var tlsParameters: Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters {
        .with { $0.tlsMinimumProtocolVersion = .tlsv12; $0.tlsMaximumProtocolVersion = .tlsv13 }
    }

    /// Istio mutual TLS material: the workload certificate and the `ROOTCA` bundle, checking the
    /// peer's SANs against `subjectAltNames` when any are given.
    static func istioMutualCommon(subjectAltNames: [String], alpn: [String]) -> CommonTlsContext {
        .with {
            $0.tlsParams = tlsParameters
            $0.tlsCertificateSdsSecretConfigs = [sdsSecret(workloadCertificate)]
            $0.combinedValidationContext = .with {
                $0.defaultValidationContext = .with { $0.matchTypedSubjectAltNames = subjectAltNames.map(sanMatcher) }
                $0.validationContextSdsSecretConfig = sdsSecret(rootCertificate)
            }
            $0.alpnProtocols = alpn
        }
    }

    /// A SAN matcher of the type the value looks like: URI for `spiffe://` and other URIs,
    /// IP for addresses, DNS otherwise.
    static func sanMatcher(_ value: String) -> SanMatcher {
        .with {
            if value.contains("://") {
                $0.sanType = .uri
            } else if IPAddress(value) != nil {
                $0.sanType = .ipAddress
            } else {
                $0.sanType = .dns
            }
            $0.matcher = .with { $0.exact = value }
        }
    }

    /// The server side of Istio mutual TLS: a client certificate is required and verified
    /// against `ROOTCA`; identities are checked by authorization, not here.
    static func downstreamMutual(alpn: [String]) -> DownstreamTlsContext {
        .with {
            $0.commonTlsContext = istioMutualCommon(subjectAltNames: [], alpn: alpn)
            $0.commonTlsContext.tlsParams.cipherSuites = inboundCipherSuites
            $0.requireClientCertificate = .init(true)
        }
    }

    static func transportSocket(_ context: UpstreamTlsContext) -> Envoy_Config_Core_V3_TransportSocket {
        .with { $0.name = "envoy.transport_sockets.tls"; $0.typedConfig = Proto.any(context) }
    }

    static func transportSocket(_ context: DownstreamTlsContext) -> Envoy_Config_Core_V3_TransportSocket {
        .with { $0.name = "envoy.transport_sockets.tls"; $0.typedConfig = Proto.any(context) }
    }

    static var rawBuffer: Envoy_Config_Core_V3_TransportSocket {
        .with {
            $0.name = "envoy.transport_sockets.raw_buffer"
            $0.typedConfig = Proto.any(Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer())
        }
    }

    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`; an account that is already
    /// a SPIFFE URI is kept.
    static func spiffeID(trustDomain: String, namespace: String, serviceAccount: String) -> String {
        if serviceAccount.hasPrefix("spiffe://") { return serviceAccount }
        return "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)"
    }

    /// The same identities under every trust domain of the bundle (Istio's trust domain aliases):
    /// a SPIFFE ID in the mesh's trust domain or an alias is repeated for each of them.
    static func withAliases(_ ids: [String], trustDomain: String, aliases: [String]) -> [String] {
        guard !aliases.isEmpty else { return ids }
        let domains = [trustDomain] + aliases
        var out: [String] = []
        for id in ids {
            out.append(id)
            guard id.hasPrefix("spiffe://") else { continue }
            let rest = id.dropFirst("spiffe://".count)
            guard let slash = rest.firstIndex(of: "/"), domains.contains(String(rest[..<slash])) else { continue }
            for domain in domains { out.append("spiffe://\(domain)\(rest[slash...])") }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }
}

extension TLSContexts {
    /// `envoy.transport_socket_match: {tlsMode: istio}` for an endpoint whose workload carries a
    /// mesh certificate (label `security.istio.io/tlsMode: istio`), which auto mutual TLS matches on.
    static func endpointMetadata(_ instance: WorkloadInstance) -> Envoy_Config_Core_V3_Metadata? {
        guard instance.labels[InboundFilterChainBuilder.tlsModeLabel] == "istio" else { return nil }
        return .with {
            $0.filterMetadata = ["envoy.transport_socket_match": .init(fields: ["tlsMode": .init(stringValue: "istio")])]
        }
    }
}
