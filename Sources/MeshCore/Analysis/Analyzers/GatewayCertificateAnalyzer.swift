/// Istio's `gateway.CertificateAnalyzer`: the same certificate (`credentialName`, or the same
/// `serverCertificate` and `privateKey` files) served by several Gateways for overlapping
/// workloads (IST0138), which can make HTTP/2 clients reuse a connection for the wrong host.
///
/// A Gateway is compared with every other Gateway whose selector includes all of its own
/// selector's labels (any Gateway, when its selector is empty).
public struct GatewayCertificateAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "gateway.CertificateAnalyzer" }

    public var reports: [AnalysisMessageType] { [.gatewayDuplicateCertificate] }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        let gateways = context.resources(Gateway.self).sorted(by: { $0.key < $1.key })
        var messages: [AnalysisMessage] = []
        for gateway in gateways {
            let selector = gateway.spec.selector ?? [:]
            let name = "\(gateway.meta.namespace)/\(gateway.meta.name)"
            for other in gateways where other.key != gateway.key {
                let otherSelector = other.spec.selector ?? [:]
                guard selector.allSatisfy({ otherSelector[$0.key] == $0.value }) else { continue }
                let shared = (gateway.spec.servers ?? []).contains { server in
                    (other.spec.servers ?? []).contains { Self.sameCertificate(server.tls, $0.tls) }
                }
                guard shared else { continue }
                let otherName = "\(other.meta.namespace)/\(other.meta.name)"
                messages.append(AnalysisMessage(
                    .gatewayDuplicateCertificate, resource: gateway.key, location: gateway.source, path: "metadata.name",
                    message: "Duplicate certificate in multiple gateways \(PolicyAnalysisSupport.list([name, otherName])) may cause 404s if clients re-use HTTP2 connections."))
            }
        }
        return messages
    }

    private static func sameCertificate(_ a: ServerTLSSettings?, _ b: ServerTLSSettings?) -> Bool {
        guard let a, let b else { return false }
        let credentialA = a.credentialName ?? "", credentialB = b.credentialName ?? ""
        if !credentialA.isEmpty && !credentialB.isEmpty { return credentialA == credentialB }
        guard credentialA.isEmpty && credentialB.isEmpty else { return false }
        let certA = a.serverCertificate ?? "", certB = b.serverCertificate ?? ""
        let keyA = a.privateKey ?? "", keyB = b.privateKey ?? ""
        return !certA.isEmpty && certA == certB && !keyA.isEmpty && keyA == keyB
    }
}
