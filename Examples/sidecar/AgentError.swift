/// Why the agent could not start or run its proxy.
struct AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; new kinds can be added without breaking callers.
    struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable { case invalidOption, envoyNotFound, bootstrapWrite, envoyStart }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }
        /// A flag has a value the agent cannot use.
        static let invalidOption = Code(.invalidOption)
        /// No Envoy binary was found in any of the places searched.
        static let envoyNotFound = Code(.envoyNotFound)
        /// The bootstrap file could not be written.
        static let bootstrapWrite = Code(.bootstrapWrite)
        /// Envoy could not be started.
        static let envoyStart = Code(.envoyStart)
        var description: String { String(describing: wrapped) }
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
