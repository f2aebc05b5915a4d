/// Why the proxy cannot honour an xDS resource. The proxy NACKs the whole response with this
/// error's ``description`` as `error_detail` and keeps its last good configuration.
///
/// The message names the resource type, the resource and the field, so an operator reading
/// `/debug/syncz` on the control plane knows what to change.
public struct ProxyConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable { case invalid, unsupported, missingReference }
        private let value: Value

        /// The resource contradicts Envoy's rules (a value out of range, a malformed address, a bad regex).
        public static let invalid = Code(value: .invalid)
        /// The resource is valid for Envoy but asks for something this proxy does not implement.
        public static let unsupported = Code(value: .unsupported)
        /// The resource names another resource that the proxy has not received.
        public static let missingReference = Code(value: .missingReference)

        public var description: String {
            switch value {
            case .invalid: "invalid"
            case .unsupported: "unsupported"
            case .missingReference: "missing reference"
            }
        }
    }

    /// The kind of problem.
    public var code: Code
    /// The resource's kind, such as `Listener`, `RouteConfiguration` or `Cluster`.
    public var resourceType: String
    /// The resource's name.
    public var resourceName: String
    /// The field path inside the resource, in proto field names (`virtual_hosts[0].routes[2].match.safe_regex`).
    public var field: String
    /// What is wrong, in a sentence.
    public var message: String

    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - resourceType: The resource's kind (`Listener`, `Cluster`, ...).
    ///   - resourceName: The resource's name.
    ///   - field: The proto field path inside the resource.
    ///   - message: What is wrong.
    public init(_ code: Code, resourceType: String, resourceName: String, field: String, _ message: String) {
        self.code = code
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(resourceType) \"\(resourceName)\" field \(field): \(message) (\(code))"
    }
}
