/// Istio's `PeerAuthentication` spec (`security.istio.io`): the mutual TLS mode a workload accepts.
///
/// Without a selector the policy is namespace-wide, or mesh-wide in the root namespace.
/// `portLevelMtls` overrides the mode per port and needs a selector.
public struct PeerAuthentication: ResourceSpec {
    public static var kind: ResourceKind { .peerAuthentication }

    /// Workloads the policy applies to; all workloads in scope when absent.
    public var selector: WorkloadSelector?
    /// The mutual TLS mode for the selected workloads.
    public var mtls: MutualTLS?
    /// Per-port overrides, keyed by port number written as text (`"8080"`).
    public var portLevelMtls: [String: MutualTLS]?

    public init(selector: WorkloadSelector? = nil, mtls: MutualTLS? = nil, portLevelMtls: [String: MutualTLS]? = nil) {
        self.selector = selector
        self.mtls = mtls
        self.portLevelMtls = portLevelMtls
    }

    /// Istio's `PeerAuthentication.MutualTLS`: the mutual TLS setting.
    public struct MutualTLS: Sendable, Hashable, Codable {
        /// How the server side treats mutual TLS; `UNSET` inherits from the parent policy.
        public var mode: Mode?

        public init(mode: Mode? = nil) {
            self.mode = mode
        }

        /// Istio's `PeerAuthentication.MutualTLS.Mode`.
        public enum Mode: String, ConfigEnum {
            /// Inherit from the parent policy; `PERMISSIVE` when there is none.
            case UNSET
            /// Plain text only.
            case DISABLE
            /// Both mutual TLS and plain text.
            case PERMISSIVE
            /// Mutual TLS only.
            case STRICT
        }
    }
}
