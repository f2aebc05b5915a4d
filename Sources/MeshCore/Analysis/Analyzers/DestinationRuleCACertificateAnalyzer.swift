/// Istio's `destinationrule.CaCertificateAnalyzer`: SIMPLE or MUTUAL TLS to a destination
/// without `caCertificates`, so the server's certificate is not verified (IST0128 for the
/// rule's traffic policy, IST0129 for a port-level setting).
///
/// A `credentialName` counts as verification only when the rule has a `workloadSelector`
/// (it then applies to a gateway that can read the secret), as in Istio.
public struct DestinationRuleCACertificateAnalyzer: ConfigAnalyzer {
    public init() {}

    public var name: String { "destinationrule.CaCertificateAnalyzer" }

    public var reports: [AnalysisMessageType] {
        [.noServerCertificateVerificationDestinationLevel, .noServerCertificateVerificationPortLevel]
    }

    public func analyze(_ context: AnalysisContext) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for rule in context.resources(DestinationRule.self).sorted(by: { $0.key < $1.key }) {
            let ruleName = "\(rule.meta.namespace)/\(rule.meta.name)"
            let ns = rule.meta.namespace
            let host = rule.spec.host ?? ""
            let hasSelector = rule.spec.workloadSelector != nil
            let policy = rule.spec.trafficPolicy
            if let mode = Self.unverifiedMode(policy?.tls, hasSelector: hasSelector) {
                messages.append(AnalysisMessage(
                    .noServerCertificateVerificationDestinationLevel, resource: rule.key, location: rule.source,
                    path: "spec.trafficPolicy.tls.caCertificates",
                    message: "DestinationRule \(ruleName) in namespace \(ns) has TLS mode set to \(mode.rawValue) but no caCertificates are set to validate server identity for host: \(host)"))
            }
            for (i, settings) in (policy?.portLevelSettings ?? []).enumerated() {
                guard let mode = Self.unverifiedMode(settings.tls, hasSelector: hasSelector) else { continue }
                let port = settings.port?.number.map { "number:\($0)" } ?? ""
                messages.append(AnalysisMessage(
                    .noServerCertificateVerificationPortLevel, resource: rule.key, location: rule.source,
                    path: FieldPath("spec.trafficPolicy.portLevelSettings")[i] / "tls" / "caCertificates",
                    message: "DestinationRule \(ruleName) in namespace \(ns) has TLS mode set to \(mode.rawValue) but no caCertificates are set to validate server identity for host: \(host) at port \(port)"))
            }
        }
        return messages
    }

    /// The mode, when `tls` originates TLS without a way to verify the server.
    private static func unverifiedMode(_ tls: ClientTLSSettings?, hasSelector: Bool) -> ClientTLSSettings.TLSmode? {
        guard let tls, let mode = tls.mode, mode == .SIMPLE || mode == .MUTUAL else { return nil }
        if !(tls.caCertificates ?? "").isEmpty { return nil }
        if !(tls.credentialName ?? "").isEmpty && hasSelector { return nil }
        return mode
    }
}
