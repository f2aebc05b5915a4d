import MeshXDS
import NIOHTTP1

extension HTTPConnectionManagerRuntime {
    /// Envoy's `x-forwarded-client-cert` handling (`forward_client_cert_details` with
    /// `set_current_client_cert_details`): removed unless the connection is mutual TLS (except
    /// with ALWAYS_FORWARD_ONLY); on mutual TLS, FORWARD_ONLY keeps it, APPEND_FORWARD appends
    /// this hop's element and SANITIZE_SET replaces it. The element is `By=<local URI SAN>`,
    /// `Hash=<peer certificate SHA-256>`, then `Subject="..."`, `URI=...` and `DNS=...` as
    /// configured, joined by `;`.
    func applyForwardedClientCert(_ headers: inout HTTPHeaders, connection: DownstreamConnectionInfo) {
        let mode = configuration.forwardClientCertDetails
        if mode == .alwaysForwardOnly { return }
        guard mode != .sanitize, let tls = connection.tls, tls.peerCertificatePresented else {
            headers.remove(name: "x-forwarded-client-cert")
            return
        }
        if mode == .forwardOnly { return }
        let details = configuration.source.setCurrentClientCertDetails
        var parts: [String] = tls.localURISANs.map { "By=\($0)" }
        if !tls.peerCertificateSHA256.isEmpty { parts.append("Hash=\(tls.peerCertificateSHA256)") }
        if configuration.source.hasSetCurrentClientCertDetails {
            if details.hasSubject, details.subject.value { parts.append("Subject=\"\(tls.peerSubject)\"") }
            if details.uri { parts += tls.peerURISANs.map { "URI=\($0)" } }
            if details.dns { parts += tls.peerDNSSANs.map { "DNS=\($0)" } }
        }
        // Certificate fields are the peer's text: control characters never reach a header.
        let element = String(parts.joined(separator: ";").unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F })
        switch mode {
        case .appendForward:
            if let existing = headers.first(name: "x-forwarded-client-cert"), !existing.isEmpty {
                headers.replaceOrAdd(name: "x-forwarded-client-cert", value: "\(existing),\(element)")
            } else if !element.isEmpty {
                headers.replaceOrAdd(name: "x-forwarded-client-cert", value: element)
            }
        default:  // SANITIZE_SET
            if element.isEmpty { headers.remove(name: "x-forwarded-client-cert") } else { headers.replaceOrAdd(name: "x-forwarded-client-cert", value: element) }
        }
    }
}
