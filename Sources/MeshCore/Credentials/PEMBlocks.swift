public import Foundation

/// The blocks of a PEM text (`-----BEGIN LABEL-----` … `-----END LABEL-----`), each with its
/// label and decoded DER; the structural check MeshCore can make without a crypto library.
public struct PEMBlocks: Sendable, Hashable {
    /// One block.
    public struct Block: Sendable, Hashable {
        /// The label, e.g. `CERTIFICATE`, `PRIVATE KEY`, `EC PRIVATE KEY`.
        public var label: String
        /// The decoded body.
        public var der: Data
    }

    /// The blocks in order.
    public var blocks: [Block]

    /// Labels of private keys (PKCS#8, SEC1 and PKCS#1).
    public static let privateKeyLabels: Set<String> = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]

    /// Why a PEM text does not parse; the message never quotes the content.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses `text`; text outside blocks is ignored, as OpenSSL does.
    /// - Throws: ``ParseError`` for a block without its END line, a mismatched END label, a body
    ///   that is not base64, or no block at all.
    public init(_ text: String) throws(ParseError) {
        var blocks: [Block] = []
        var label: String?
        var body = ""
        var lineNumber = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let current = label {
                if line.hasPrefix("-----END "), line.hasSuffix("-----") {
                    let end = String(line.dropFirst("-----END ".count).dropLast(5))
                    guard end == current else {
                        throw ParseError(message: "PEM block \(current) ends with END \(end) at line \(lineNumber)")
                    }
                    guard let der = Data(base64Encoded: body), !der.isEmpty else {
                        throw ParseError(message: "the body of PEM block \(current) ending at line \(lineNumber) is not base64")
                    }
                    blocks.append(Block(label: current, der: der))
                    label = nil
                    body = ""
                } else if line.hasPrefix("-----") {
                    throw ParseError(message: "PEM block \(current) is not closed before line \(lineNumber)")
                } else if !line.contains(":") {
                    // RFC 1421 headers (Proc-Type: ...) are skipped; the rest is the body.
                    body += line
                }
            } else if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst("-----BEGIN ".count).dropLast(5))
            }
        }
        if let label { throw ParseError(message: "PEM block \(label) has no END line") }
        guard !blocks.isEmpty else { throw ParseError(message: "no PEM block found") }
        self.blocks = blocks
    }

    /// The blocks labelled `label`.
    public func blocks(labelled label: String) -> [Block] { blocks.filter { $0.label == label } }
}
