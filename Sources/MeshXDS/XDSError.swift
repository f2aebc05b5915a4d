public import GRPCCore

/// An error raised by MeshXDS's cache, server or client.
///
/// Codes are open: new ones can be added without breaking callers that switch over known ones.
/// Errors thrown out of an RPC handler map to a gRPC status through `RPCErrorConvertible`.
public struct XDSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case inconsistentSnapshot, invalidResource, invalidRequest, unknownTypeURL, streamClosed, rejected
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A snapshot references a resource it does not hold (an EDS cluster without its
        /// ClusterLoadAssignment, or an RDS listener without its RouteConfiguration).
        public static let inconsistentSnapshot = Code(.inconsistentSnapshot)
        /// A resource could not be packed, unpacked or named.
        public static let invalidResource = Code(.invalidResource)
        /// A discovery request broke the protocol (no node, no type URL, mismatched mode).
        public static let invalidRequest = Code(.invalidRequest)
        /// A type URL that the operation does not handle.
        public static let unknownTypeURL = Code(.unknownTypeURL)
        /// The stream ended or was closed.
        public static let streamClosed = Code(.streamClosed)
        /// A consumer rejected an update (the client NACKs it).
        public static let rejected = Code(.rejected)

        public var description: String { "\(wrapped)" }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?
    /// Where the error was created.
    public var file: String
    /// Where the error was created.
    public var line: Int

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: A human-readable explanation.
    ///   - cause: The underlying error, if any.
    public init(code: Code, message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String {
        if let cause { return "\(code): \(message) (\(cause))" }
        return "\(code): \(message)"
    }

    public static func == (lhs: XDSError, rhs: XDSError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

extension XDSError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch code {
        case .invalidRequest, .unknownTypeURL, .invalidResource: .invalidArgument
        case .streamClosed: .unavailable
        case .rejected, .inconsistentSnapshot: .failedPrecondition
        default: .internalError
        }
    }

    public var rpcErrorMessage: String { message }
}
