public import MeshCore

/// Istio's `TranslateHeadersOperations`: a VirtualService `headers` block to Envoy header options.
public enum HeaderOperationsConverter {
    /// Envoy header operations, plus the authority a `set`/`add` of `:authority` or `host` asks for.
    public struct Operations: Sendable, Equatable {
        public var requestHeadersToAdd: [Envoy_Config_Core_V3_HeaderValueOption] = []
        public var requestHeadersToRemove: [String] = []
        public var responseHeadersToAdd: [Envoy_Config_Core_V3_HeaderValueOption] = []
        public var responseHeadersToRemove: [String] = []
        /// The new authority (becomes `host_rewrite_literal`), if the headers set one.
        public var authority: String?

        public init() {}
    }

    /// Converts header operations.
    ///
    /// `set` overwrites (`OVERWRITE_IF_EXISTS_OR_ADD`) and comes before `add` (`APPEND_IF_EXISTS_OR_ADD`),
    /// each sorted by name. Pseudo-headers (`:x`) and `host` cannot be changed by Envoy this way and are
    /// left out; `:authority`/`host` in `set` (else `add`) becomes ``Operations/authority``.
    public static func convert(_ headers: VirtualService.Headers?) -> Operations {
        var out = Operations()
        guard let headers else { return out }
        let (setRequest, setAuthority) = options(headers.request?.set, append: false)
        let (addRequest, addAuthority) = options(headers.request?.add, append: true)
        out.requestHeadersToAdd = setRequest + addRequest
        out.responseHeadersToAdd = options(headers.response?.set, append: false).0 + options(headers.response?.add, append: true).0
        out.requestHeadersToRemove = (headers.request?.remove ?? []).filter { !isInternal($0) }
        out.responseHeadersToRemove = (headers.response?.remove ?? []).filter { !isInternal($0) }
        out.authority = setAuthority ?? addAuthority
        return out
    }

    private static func options(_ values: [String: String]?, append: Bool) -> ([Envoy_Config_Core_V3_HeaderValueOption], String?) {
        var authority: String?
        var out: [Envoy_Config_Core_V3_HeaderValueOption] = []
        for (key, value) in (values ?? [:]).sorted(by: { $0.key < $1.key }) {
            if isAuthority(key) { authority = value }
            if isInternal(key) { continue }
            out.append(.with {
                $0.header = .with { $0.key = key; $0.value = value }
                $0.appendAction = append ? .appendIfExistsOrAdd : .overwriteIfExistsOrAdd
            })
        }
        return (out, authority)
    }

    /// Pseudo-headers and `host`.
    static func isInternal(_ name: String) -> Bool { name.hasPrefix(":") || name.lowercased() == "host" }

    static func isAuthority(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == ":authority" || lower == "host"
    }
}
