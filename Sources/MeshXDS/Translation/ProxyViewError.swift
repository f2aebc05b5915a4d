/// Why a connecting proxy's `Node` could not be understood.
///
/// The code says which part was wrong; the message names the offending value.
public struct ProxyViewError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case invalidNodeID, invalidIPAddress, invalidMetadata, namespaceMismatch
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The node id is not `TYPE~IP~NAME.NAMESPACE~DOMAIN`.
        public static let invalidNodeID = Code(.invalidNodeID)
        /// An address in the node id or `INSTANCE_IPS` is not an IP address.
        public static let invalidIPAddress = Code(.invalidIPAddress)
        /// A metadata field has the wrong type or an unknown value.
        public static let invalidMetadata = Code(.invalidMetadata)
        /// `NAMESPACE` metadata disagrees with the node id.
        public static let namespaceMismatch = Code(.namespaceMismatch)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String
    /// The node id of the proxy.
    public var nodeID: String

    public init(code: Code, message: String, nodeID: String) {
        self.code = code
        self.message = message
        self.nodeID = nodeID
    }

    public var description: String { "proxy \"\(nodeID)\": \(message)" }
}
