import Foundation
import SwiftASN1
import X509

/// PEM encoding and decoding of certificates, CSRs and keys, with errors that name their source.
enum PEM {
    static func encode(_ certificate: Certificate) -> String {
        // Serialising a parsed or freshly built certificate cannot fail.
        (try? certificate.serializeAsPEM().pemString).map { $0 + "\n" } ?? ""
    }

    static func certificates(_ text: String, source: String) throws(CAError) -> [Certificate] {
        let documents: [PEMDocument]
        do { documents = try PEMDocument.parseMultiple(pemString: text) } catch {
            throw CAError(.invalidCACertificates, "\(source): not PEM: \(error)")
        }
        var result: [Certificate] = []
        for (index, document) in documents.enumerated() {
            guard document.discriminator == "CERTIFICATE" else {
                throw CAError(.invalidCACertificates, "\(source): block \(index + 1) is \(document.discriminator), expected CERTIFICATE")
            }
            do { result.append(try Certificate(pemDocument: document)) } catch {
                throw CAError(.invalidCACertificates, "\(source): certificate \(index + 1) does not parse: \(error)")
            }
        }
        return result
    }

    static func privateKey(_ text: String, source: String) throws(CAError) -> Certificate.PrivateKey {
        do { return try Certificate.PrivateKey(pemEncoded: text) } catch {
            throw CAError(.invalidCACertificates, "\(source): not a PEM private key (PKCS#8, SEC1 or PKCS#1): \(error)")
        }
    }

    static func encode(_ key: Certificate.PrivateKey) throws(CAError) -> String {
        do { return try key.serializeAsPEM().pemString + "\n" } catch {
            throw CAError(.signing, "cannot serialise private key: \(error)")
        }
    }
}
