import Foundation

extension MeshConfig {
    /// Istio's built-in proxy defaults (`mesh.DefaultProxyConfig`).
    public static var defaultProxyConfig: ProxyConfig {
        var pc = ProxyConfig()
        pc.configPath = "./etc/istio/proxy"
        pc.serviceCluster = "istio-proxy"
        pc.drainDuration = ConfigDuration(milliseconds: 45_000)
        pc.terminationDrainDuration = ConfigDuration(milliseconds: 5_000)
        pc.proxyAdminPort = 15000
        pc.controlPlaneAuthPolicy = .MUTUAL_TLS
        pc.discoveryAddress = "istiod.istio-system.svc:15012"
        pc.binaryPath = "/usr/local/bin/envoy"
        pc.statNameLength = 189
        pc.statusPort = 15020
        return pc
    }

    /// Istio's built-in mesh defaults (`mesh.DefaultMeshConfig`), which a mesh file overrides.
    public static var defaults: MeshConfig {
        var m = MeshConfig()
        m.enableTracing = true
        var locality = LocalityLoadBalancerSetting()
        locality.enabled = true
        m.localityLbSetting = locality
        m.accessLogFile = ""
        m.accessLogEncoding = .TEXT
        m.accessLogFormat = ""
        m.enableEnvoyAccessLogService = false
        m.protocolDetectionTimeout = ConfigDuration(nanoseconds: 0)
        m.ingressService = "istio-ingressgateway"
        m.ingressControllerMode = .STRICT
        m.ingressClass = "istio"
        m.trustDomain = "cluster.local"
        m.trustDomainAliases = []
        m.enableAutoMtls = true
        m.outboundTrafficPolicy = OutboundTrafficPolicy(mode: .ALLOW_ANY)
        m.inboundTrafficPolicy = InboundTrafficPolicy(mode: .PASSTHROUGH)
        m.certificates = []
        m.defaultConfig = defaultProxyConfig
        m.rootNamespace = "istio-system"
        m.proxyListenPort = 15001
        m.proxyInboundListenPort = 15006
        m.connectTimeout = ConfigDuration(milliseconds: 10_000)
        m.defaultServiceExportTo = ["*"]
        m.defaultVirtualServiceExportTo = ["*"]
        m.defaultDestinationRuleExportTo = ["*"]
        m.dnsRefreshRate = ConfigDuration(milliseconds: 60_000)
        m.serviceSettings = []
        m.enablePrometheusMerge = true
        m.defaultProviders = DefaultProviders()
        var prometheus = ExtensionProvider(name: "prometheus")
        prometheus.prometheus = .init()
        var stackdriver = ExtensionProvider(name: "stackdriver")
        stackdriver.stackdriver = .init()
        var envoy = ExtensionProvider(name: "envoy")
        envoy.envoyFileAccessLog = .init(path: "/dev/stdout")
        m.extensionProviders = [prometheus, stackdriver, envoy]
        return m
    }

    /// This configuration with `overrides` applied the way istiod applies a mesh file to its defaults.
    ///
    /// Fields set in `overrides` replace these, except: `defaultConfig` and `defaultProviders` are
    /// merged field by field (`proxyMetadata` key by key), `extensionProviders` are merged by name,
    /// and `trustDomainAliases` are unioned and sorted.
    public func applying(_ overrides: MeshConfig) -> MeshConfig {
        var result = Self.overlay(self, overrides)
        result.defaultConfig = defaultConfig
        if let pc = overrides.defaultConfig {
            var merged = Self.overlay(defaultConfig ?? ProxyConfig(), pc)
            if pc.tracingServiceName != nil, pc.serviceCluster == nil { merged.serviceCluster = nil }
            if pc.serviceCluster != nil, pc.tracingServiceName == nil { merged.tracingServiceName = nil }
            if defaultConfig?.proxyMetadata != nil || pc.proxyMetadata != nil {
                merged.proxyMetadata = (defaultConfig?.proxyMetadata ?? [:]).merging(pc.proxyMetadata ?? [:]) { $1 }
            }
            result.defaultConfig = merged
        }
        result.defaultProviders = defaultProviders
        if let dp = overrides.defaultProviders {
            result.defaultProviders = Self.overlay(defaultProviders ?? DefaultProviders(), dp)
        }
        var providers = extensionProviders ?? []
        for provider in overrides.extensionProviders ?? [] {
            if let i = providers.firstIndex(where: { $0.name == provider.name }) {
                providers[i].replaceProvider(with: provider)
            } else {
                providers.append(provider)
            }
        }
        result.extensionProviders = extensionProviders == nil && overrides.extensionProviders == nil ? nil : providers
        if trustDomainAliases != nil || overrides.trustDomainAliases != nil {
            result.trustDomainAliases = Set((trustDomainAliases ?? []) + (overrides.trustDomainAliases ?? [])).sorted()
        }
        return result
    }

    /// Copies every field that is set in `top` over `base` (one level deep).
    static func overlay<T: Codable>(_ base: T, _ top: T) -> T {
        do {
            let encoder = JSONEncoder()
            guard var merged = try JSONSerialization.jsonObject(with: encoder.encode(base)) as? [String: Any],
                  let overrides = try JSONSerialization.jsonObject(with: encoder.encode(top)) as? [String: Any] else { return top }
            for (key, value) in overrides { merged[key] = value }
            let data = try JSONSerialization.data(withJSONObject: merged)
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            return top
        }
    }
}
