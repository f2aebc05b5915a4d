/// Istio's `ProxyConfig` spec (networking.istio.io/v1beta1): per-workload proxy settings.
public struct ProxyConfig: ResourceSpec {
    public static var kind: ResourceKind { .proxyConfig }

    /// Workloads this applies to; the whole namespace (or mesh, in the root namespace) when unset.
    public var selector: WorkloadSelector?
    /// Number of worker threads; 0 means one per CPU core.
    public var concurrency: Int32?
    /// Extra environment variables for the proxy.
    public var environmentVariables: [String: String]?
    /// Which proxy image variant to use.
    public var image: ProxyImage?

    public init(
        selector: WorkloadSelector? = nil, concurrency: Int32? = nil,
        environmentVariables: [String: String]? = nil, image: ProxyImage? = nil
    ) {
        self.selector = selector
        self.concurrency = concurrency
        self.environmentVariables = environmentVariables
        self.image = image
    }

    /// Istio's `ProxyImage`.
    public struct ProxyImage: Sendable, Hashable, Codable {
        /// `default`, `debug`, `distroless`, or any variant published to the hub.
        public var imageType: String?

        public init(imageType: String? = nil) { self.imageType = imageType }
    }
}
