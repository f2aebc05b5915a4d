/// Istio's `AuthorizationPolicy` spec (`security.istio.io`): access control for workloads.
///
/// Rules match on the request's source, operation and extra conditions; the action says what
/// a match means. Within a rule the string fields support exact, prefix (`abc*`), suffix (`*abc`)
/// and presence (`*`) matching.
public struct AuthorizationPolicy: ResourceSpec {
    public static var kind: ResourceKind { .authorizationPolicy }

    /// Workloads the policy applies to; at most one of `selector`, `targetRef` and `targetRefs` may be set.
    public var selector: WorkloadSelector?
    /// A single resource the policy attaches to (hidden from Istio's docs; prefer `targetRefs`).
    public var targetRef: PolicyTargetReference?
    /// Resources (Gateway, GatewayClass, Service, ServiceEntry) the policy attaches to.
    public var targetRefs: [PolicyTargetReference]?
    /// Rules matched against requests; a request matches when any rule matches. No rules never match.
    public var rules: [Rule]?
    /// What a match means (default `ALLOW`).
    public var action: Action?
    /// The extension that decides for the `CUSTOM` action; only with `CUSTOM`.
    public var provider: ExtensionProvider?

    public init(
        selector: WorkloadSelector? = nil, targetRef: PolicyTargetReference? = nil,
        targetRefs: [PolicyTargetReference]? = nil, rules: [Rule]? = nil, action: Action? = nil,
        provider: ExtensionProvider? = nil
    ) {
        self.selector = selector
        self.targetRef = targetRef
        self.targetRefs = targetRefs
        self.rules = rules
        self.action = action
        self.provider = provider
    }

    /// Istio's `AuthorizationPolicy.Action`.
    public enum Action: String, ConfigEnum {
        /// Allow a request only if it matches a rule (the default).
        case ALLOW
        /// Deny a request that matches any rule.
        case DENY
        /// Audit a request that matches any rule.
        case AUDIT
        /// Delegate the decision to the extension named in `provider`.
        case CUSTOM
    }

    /// Istio's `AuthorizationPolicy.ExtensionProvider`: a provider declared in MeshConfig.
    public struct ExtensionProvider: Sendable, Hashable, Codable {
        /// The provider's name in `MeshConfig.extensionProviders`.
        public var name: String?

        public init(name: String? = nil) {
            self.name = name
        }
    }

    /// Istio's `Rule`: matches when one source, one operation and all conditions match. An empty rule always matches.
    public struct Rule: Sendable, Hashable, Codable {
        /// Sources; any source when absent.
        public var from: [From]?
        /// Operations; any operation when absent.
        public var to: [To]?
        /// Extra conditions, all of which must hold.
        public var when: [Condition]?

        public init(from: [From]? = nil, to: [To]? = nil, when: [Condition]? = nil) {
            self.from = from
            self.to = to
            self.when = when
        }

        /// Istio's `Rule.From`: wraps one source.
        public struct From: Sendable, Hashable, Codable {
            public var source: Source?

            public init(source: Source? = nil) {
                self.source = source
            }
        }

        /// Istio's `Rule.To`: wraps one operation.
        public struct To: Sendable, Hashable, Codable {
            public var operation: Operation?

            public init(operation: Operation? = nil) {
                self.operation = operation
            }
        }
    }

    /// Istio's `Source`: the identity of a request's sender. Set fields are ANDed; `not*` fields negate.
    public struct Source: Sendable, Hashable, Codable {
        /// Peer identities from the mTLS certificate (`<trust domain>/ns/<namespace>/sa/<account>`).
        public var principals: [String]?
        public var notPrincipals: [String]?
        /// Request identities from the JWT (`<iss>/<sub>`).
        public var requestPrincipals: [String]?
        public var notRequestPrincipals: [String]?
        /// Namespaces from the peer certificate.
        public var namespaces: [String]?
        public var notNamespaces: [String]?
        /// Kubernetes service accounts (`<namespace>/<account>` or `<account>`); not with principals or namespaces.
        public var serviceAccounts: [String]?
        public var notServiceAccounts: [String]?
        /// Source IP addresses or CIDR ranges of the IP packet.
        public var ipBlocks: [String]?
        public var notIpBlocks: [String]?
        /// Original client addresses from `X-Forwarded-For` or the PROXY protocol.
        public var remoteIpBlocks: [String]?
        public var notRemoteIpBlocks: [String]?
        /// Trust domains from the peer certificate.
        public var trustDomains: [String]?
        public var notTrustDomains: [String]?

        public init(
            principals: [String]? = nil, notPrincipals: [String]? = nil,
            requestPrincipals: [String]? = nil, notRequestPrincipals: [String]? = nil,
            namespaces: [String]? = nil, notNamespaces: [String]? = nil,
            serviceAccounts: [String]? = nil, notServiceAccounts: [String]? = nil,
            ipBlocks: [String]? = nil, notIpBlocks: [String]? = nil,
            remoteIpBlocks: [String]? = nil, notRemoteIpBlocks: [String]? = nil,
            trustDomains: [String]? = nil, notTrustDomains: [String]? = nil
        ) {
            self.principals = principals
            self.notPrincipals = notPrincipals
            self.requestPrincipals = requestPrincipals
            self.notRequestPrincipals = notRequestPrincipals
            self.namespaces = namespaces
            self.notNamespaces = notNamespaces
            self.serviceAccounts = serviceAccounts
            self.notServiceAccounts = notServiceAccounts
            self.ipBlocks = ipBlocks
            self.notIpBlocks = notIpBlocks
            self.remoteIpBlocks = remoteIpBlocks
            self.notRemoteIpBlocks = notRemoteIpBlocks
            self.trustDomains = trustDomains
            self.notTrustDomains = notTrustDomains
        }
    }

    /// Istio's `Operation`: what the request does. Set fields are ANDed; `not*` fields negate.
    public struct Operation: Sendable, Hashable, Codable {
        /// HTTP hosts (case-insensitive); HTTP only.
        public var hosts: [String]?
        public var notHosts: [String]?
        /// Destination ports, as decimal text.
        public var ports: [String]?
        public var notPorts: [String]?
        /// HTTP methods; HTTP only (`POST` for gRPC).
        public var methods: [String]?
        public var notMethods: [String]?
        /// HTTP paths, optionally URI templates with `{*}` and `{**}`; HTTP only.
        public var paths: [String]?
        public var notPaths: [String]?

        public init(
            hosts: [String]? = nil, notHosts: [String]? = nil, ports: [String]? = nil, notPorts: [String]? = nil,
            methods: [String]? = nil, notMethods: [String]? = nil, paths: [String]? = nil, notPaths: [String]? = nil
        ) {
            self.hosts = hosts
            self.notHosts = notHosts
            self.ports = ports
            self.notPorts = notPorts
            self.methods = methods
            self.notMethods = notMethods
            self.paths = paths
            self.notPaths = notPaths
        }
    }

    /// Istio's `Condition`: an attribute (`key`) that must, or must not, have one of the given values.
    public struct Condition: Sendable, Hashable, Codable {
        /// The attribute, e.g. `request.headers[x-token]`, `source.ip`, `request.auth.claims[iss]`.
        public var key: String?
        /// Allowed values; at least one of `values` and `notValues` is required.
        public var values: [String]?
        /// Disallowed values.
        public var notValues: [String]?

        public init(key: String? = nil, values: [String]? = nil, notValues: [String]? = nil) {
            self.key = key
            self.values = values
            self.notValues = notValues
        }
    }
}
