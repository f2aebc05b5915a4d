/// Istio's `WasmPlugin` spec (`extensions.istio.io`): a WebAssembly filter added to the proxies it selects.
public struct WasmPlugin: ResourceSpec {
    public static var kind: ResourceKind { .wasmPlugin }

    /// Workloads this plugin applies to; mutually exclusive with `targetRef`/`targetRefs`.
    public var selector: WorkloadSelector?
    /// A single resource the plugin attaches to (hidden in Istio's docs; prefer `targetRefs`).
    public var targetRef: PolicyTargetReference?
    /// Resources (Gateway, GatewayClass, Service, ServiceEntry) the plugin attaches to; at most 16.
    public var targetRefs: [PolicyTargetReference]?
    /// Where the module comes from: `oci://`, `file://`, `http(s)://`, or a bare OCI image reference (required).
    public var url: String?
    /// Expected SHA-256 of the module, 64 lowercase hex digits.
    public var sha256: String?
    public var imagePullPolicy: PullPolicy?
    /// Name of a docker-registry Secret in the plugin's namespace.
    public var imagePullSecret: String?
    /// Reserved by Istio for signature verification; not used.
    public var verificationKey: String?
    /// Configuration passed to the plugin as-is.
    public var pluginConfig: JSONValue?
    /// The plugin's root id in the Envoy configuration.
    public var pluginName: String?
    /// Where in the filter chain the plugin is inserted.
    public var phase: PluginPhase?
    /// Ordering among plugins in the same phase, highest first.
    public var priority: Int32?
    public var failStrategy: FailStrategy?
    public var vmConfig: VmConfig?
    /// Traffic the plugin sees; any matching selector enables it.
    public var match: [TrafficSelector]?
    /// HTTP or network filter.
    public var type: PluginType?

    public init(
        selector: WorkloadSelector? = nil, targetRef: PolicyTargetReference? = nil, targetRefs: [PolicyTargetReference]? = nil,
        url: String? = nil, sha256: String? = nil, imagePullPolicy: PullPolicy? = nil, imagePullSecret: String? = nil,
        verificationKey: String? = nil, pluginConfig: JSONValue? = nil, pluginName: String? = nil, phase: PluginPhase? = nil,
        priority: Int32? = nil, failStrategy: FailStrategy? = nil, vmConfig: VmConfig? = nil, match: [TrafficSelector]? = nil,
        type: PluginType? = nil
    ) {
        self.selector = selector
        self.targetRef = targetRef
        self.targetRefs = targetRefs
        self.url = url
        self.sha256 = sha256
        self.imagePullPolicy = imagePullPolicy
        self.imagePullSecret = imagePullSecret
        self.verificationKey = verificationKey
        self.pluginConfig = pluginConfig
        self.pluginName = pluginName
        self.phase = phase
        self.priority = priority
        self.failStrategy = failStrategy
        self.vmConfig = vmConfig
        self.match = match
        self.type = type
    }

    /// Selects traffic by direction and destination port.
    public struct TrafficSelector: Sendable, Hashable, Codable {
        public var mode: WorkloadMode?
        /// Destination ports; any one matching selects the traffic.
        public var ports: [PortSelector]?

        public init(mode: WorkloadMode? = nil, ports: [PortSelector]? = nil) {
            self.mode = mode
            self.ports = ports
        }
    }

    /// Traffic direction (`istio.type.v1beta1.WorkloadMode`).
    public enum WorkloadMode: String, ConfigEnum {
        case UNDEFINED, CLIENT, SERVER, CLIENT_AND_SERVER
    }

    /// HTTP (default) or network filter.
    public enum PluginType: String, ConfigEnum {
        case UNSPECIFIED_PLUGIN_TYPE, HTTP, NETWORK
    }

    /// Filter-chain position.
    public enum PluginPhase: String, ConfigEnum {
        case UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS
    }

    /// When the module is fetched again.
    public enum PullPolicy: String, ConfigEnum {
        case UNSPECIFIED_POLICY, IfNotPresent, Always
    }

    /// What happens when the plugin fails fatally.
    public enum FailStrategy: String, ConfigEnum {
        case FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD
    }

    /// Where an environment variable's value comes from.
    public enum EnvValueSource: String, ConfigEnum {
        case INLINE, HOST
    }

    /// Settings of the Wasm VM.
    public struct VmConfig: Sendable, Hashable, Codable {
        /// Environment variables for the VM; names unique, at most 256.
        public var env: [EnvVar]?

        public init(env: [EnvVar]? = nil) { self.env = env }
    }

    /// One environment variable of the VM.
    public struct EnvVar: Sendable, Hashable, Codable {
        public var name: String?
        /// `INLINE` (default) uses `value`; `HOST` copies the proxy's variable and must not set `value`.
        public var valueFrom: EnvValueSource?
        public var value: String?

        public init(name: String? = nil, valueFrom: EnvValueSource? = nil, value: String? = nil) {
            self.name = name
            self.valueFrom = valueFrom
            self.value = value
        }
    }
}
