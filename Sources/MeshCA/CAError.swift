public import GRPCCore

/// Why the certificate authority refused a request, or could not load, create or use its keys.
///
/// Errors carry a ``Code`` (extensible: new codes can be added without breaking callers), a
/// message that names the file, field or identity concerned, and map to a gRPC status through
/// `RPCErrorConvertible`, so a service can throw them as they are.
public struct CAError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable {
            case invalidCSR, permissionDenied, unauthenticated, invalidArgument, storage, invalidCACertificates, signing, unavailable
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The CSR could not be parsed or its signature does not verify.
        public static let invalidCSR = Code(.invalidCSR)
        /// The caller asked for an identity it does not hold.
        public static let permissionDenied = Code(.permissionDenied)
        /// The caller presented no credentials, or credentials this CA does not accept.
        public static let unauthenticated = Code(.unauthenticated)
        /// A request field or a configuration value is unusable.
        public static let invalidArgument = Code(.invalidArgument)
        /// A CA file could not be read or written.
        public static let storage = Code(.storage)
        /// The CA certificates or key in a folder are inconsistent or unusable.
        public static let invalidCACertificates = Code(.invalidCACertificates)
        /// Building or signing a certificate failed.
        public static let signing = Code(.signing)
        /// The CA could not be reached.
        public static let unavailable = Code(.unavailable)

        public var description: String { String(describing: wrapped) }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, naming the file, field or identity concerned.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension CAError: RPCErrorConvertible {
    /// The gRPC status this error is reported with.
    public var rpcErrorCode: RPCError.Code {
        switch code {
        case .invalidCSR, .invalidArgument: .invalidArgument
        case .permissionDenied: .permissionDenied
        case .unauthenticated: .unauthenticated
        case .unavailable: .unavailable
        default: .internalError
        }
    }

    /// The message sent with the gRPC status.
    public var rpcErrorMessage: String { message }
}
