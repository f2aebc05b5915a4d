/// Why a Gateway server could not be turned into a listener for a router proxy.
///
/// Translation leaves such a server out (the gateway's other servers still work) and reports
/// the problem through ``GatewayListenerBuilder/problems(snapshot:proxy:options:)``. The message
/// names the gateway and the field path.
public struct GatewayTranslationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case needsSDS, missingCertificate, unsupportedMode, portConflict
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The server takes its certificate from a secret (`credentialName`, `ISTIO_MUTUAL`) that
        /// the proxy cannot be served: the secret is missing or in another namespace, the proxy's
        /// connection proved no identity, or the mode (`ISTIO_MUTUAL`) is not supported at gateways.
        public static let needsSDS = Code(.needsSDS)
        /// A TLS-terminating server names no certificate or key file (or no CA for MUTUAL).
        public static let missingCertificate = Code(.missingCertificate)
        /// The server's TLS mode cannot be used with its port protocol.
        public static let unsupportedMode = Code(.unsupportedMode)
        /// Another server already uses the port with a protocol that cannot share it.
        public static let portConflict = Code(.portConflict)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String
    /// The gateway, `namespace/name`.
    public var gateway: String
    /// The field the problem is in, e.g. `spec.servers[1].tls.credentialName`.
    public var field: String

    public init(code: Code, message: String, gateway: String, field: String) {
        self.code = code
        self.message = message
        self.gateway = gateway
        self.field = field
    }

    public var description: String { "Gateway \(gateway): \(field): \(message)" }
}
