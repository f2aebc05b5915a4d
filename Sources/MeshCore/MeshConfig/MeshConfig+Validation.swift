extension MeshConfig {
    /// Istio's `ValidateMeshConfig` rules. Paths start at the mesh file's root (`defaultConfig.drainDuration`).
    ///
    /// Validate the effective configuration (``defaults`` with the file applied, as ``load(_:file:)``
    /// does): like Istio, a configuration without `defaultConfig`, `connectTimeout` or `trustDomain`
    /// is invalid. Problems Istio only logs (extension providers, discovery selectors) are warnings.
    public func validate() -> ValidationResult {
        var result = ValidationResult()
        let root = FieldPath()
        result.merge(Validators.port(proxyListenPort ?? 0, at: root / "proxyListenPort"))
        if let port = proxyInboundListenPort, port != 0 { result.merge(Validators.port(port, at: root / "proxyInboundListenPort")) }
        if let port = proxyHttpPort, port != 0 { result.merge(Validators.port(port, at: root / "proxyHttpPort")) }

        if let problem = Self.durationProblem(connectTimeout ?? ConfigDuration(nanoseconds: 0)) {
            result.error(root / "connectTimeout", "invalid connect timeout: \(problem)")
        } else if let timeout = connectTimeout, timeout > ConfigDuration(seconds: 3600) {
            result.error(root / "connectTimeout", "invalid connect timeout: \(timeout.humanDescription) must be between 1ms and 1h")
        }
        if let timeout = protocolDetectionTimeout, timeout.nanoseconds != 0 {
            if timeout.nanoseconds < 0 {
                result.error(root / "protocolDetectionTimeout", "invalid protocol detection timeout: must not be negative (0s disables detection)")
            } else if timeout.nanoseconds % 1_000_000 != 0 {
                result.error(root / "protocolDetectionTimeout", "invalid protocol detection timeout: only durations to ms precision are supported")
            }
        }
        for (name, duration) in [("dnsRefreshRate", dnsRefreshRate), ("hboneIdleTimeout", hboneIdleTimeout)] {
            if let duration, let problem = Self.durationProblem(duration) { result.error(root / name, problem) }
        }
        result.merge(Self.validateKeepalive(tcpKeepalive, at: root / "tcpKeepalive"))

        if let defaultConfig {
            result.merge(defaultConfig.validate(at: root / "defaultConfig"))
            if let probe = defaultConfig.readinessProbe {
                result.merge(probe.validate(at: root / "defaultConfig" / "readinessProbe"))
            }
        } else {
            result.error(root / "defaultConfig", "missing default config")
        }

        // Messages shared with DestinationRule and VirtualService use those kinds' rules.
        let hasOutlierDetection = defaultTrafficPolicy?.outlierDetection != nil
        if let locality = localityLbSetting {
            result.merge(locality.validate(at: root / "localityLbSetting", hasOutlierDetection: hasOutlierDetection))
        }
        if let zoneAware = zoneAwareLbSetting {
            result.merge(zoneAware.validate(at: root / "zoneAwareLbSetting", hasOutlierDetection: hasOutlierDetection))
        }
        if let pool = defaultTrafficPolicy?.connectionPool {
            result.merge(pool.validate(at: root / "defaultTrafficPolicy" / "connectionPool"))
        }
        if let outlier = defaultTrafficPolicy?.outlierDetection {
            result.merge(outlier.validate(at: root / "defaultTrafficPolicy" / "outlierDetection"))
        }
        result.merge(Validators.httpRetry(defaultHttpRetryPolicy, at: root / "defaultHttpRetryPolicy"))

        for (i, settings) in (serviceSettings ?? []).enumerated() {
            for (j, host) in (settings.hosts ?? []).enumerated() {
                if let problem = Validators.istioWildcardDomainProblem(host) {
                    result.error(((root / "serviceSettings")[i] / "hosts")[j], problem)
                }
            }
        }

        if let problem = Validators.trustDomainProblem(trustDomain ?? "") {
            result.error(root / "trustDomain", problem)
        }
        result.merge(Self.trustDomainAliasIssues(trustDomainAliases))
        for (i, data) in (caCertificates ?? []).enumerated() where data.pem != nil && data.spiffeBundleUrl != nil {
            result.error((root / "caCertificates")[i], "only one of pem or spiffeBundleUrl may be set")
        }
        if let timeout = ca?.requestTimeout, timeout.nanoseconds < 0 {
            result.error(root / "ca" / "requestTimeout", "duration must not be negative")
        }

        result.merge(validateExtensionProviders())
        result.merge(Self.extensionProviderNameIssues(extensionProviders))
        result.merge(validateDefaultProviders())

        if meshMTLS?.ecdhCurves != nil {
            result.error(root / "meshMTLS" / "ecdhCurves", "mesh TLS does not support ECDH curves configuration")
        }
        if let curves = tlsDefaults?.ecdhCurves {
            let valid: Set<String> = ["P-224", "P-256", "P-521", "P-384", "X25519", "X25519Kyber768Draft00", "X25519MLKEM768"]
            let unknown = Set(curves.filter { !$0.isEmpty && !valid.contains($0) })
            var seen: Set<String> = []
            let duplicates = Set(curves.filter { valid.contains($0) && !seen.insert($0).inserted })
            if !unknown.isEmpty {
                result.warning(root / "tlsDefaults" / "ecdhCurves", "detected unrecognized ECDH curves: \(unknown.sorted())")
            }
            if !duplicates.isEmpty {
                result.warning(root / "tlsDefaults" / "ecdhCurves", "detected duplicate ECDH curves: \(duplicates.sorted())")
            }
        }

        for (i, selector) in (discoverySelectors ?? []).enumerated() {
            result.merge(Self.validateLabelSelector(selector, at: (root / "discoverySelectors")[i]))
        }
        return result
    }

    /// Istio's `ValidateDuration`: at least 1ms, whole milliseconds.
    static func durationProblem(_ duration: ConfigDuration) -> String? {
        if duration < ConfigDuration(milliseconds: 1) { return "duration must be greater than or equal to 1ms" }
        if duration.nanoseconds % 1_000_000 != 0 { return "only durations to ms precision are supported" }
        return nil
    }

    static func validateKeepalive(_ keepalive: TCPKeepalive?, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        guard let keepalive else { return result }
        for (name, duration) in [("time", keepalive.time), ("interval", keepalive.interval)] {
            if let duration, let problem = durationProblem(duration) { result.error(path / name, problem) }
        }
        return result
    }

    static func trustDomainAliasIssues(_ aliases: [String]?) -> ValidationResult {
        var result = ValidationResult()
        for (i, alias) in (aliases ?? []).enumerated() {
            if let problem = Validators.trustDomainProblem(alias) { result.error(FieldPath("trustDomainAliases")[i], problem) }
        }
        return result
    }

    /// Warns about providers without a name and about names used twice.
    static func extensionProviderNameIssues(_ providers: [ExtensionProvider]?) -> ValidationResult {
        var result = ValidationResult()
        var seen: Set<String> = []
        for (i, provider) in (providers ?? []).enumerated() {
            let path = (FieldPath("extensionProviders"))[i] / "name"
            guard let name = provider.name, !name.isEmpty else {
                result.warning(path, "empty extension provider name")
                continue
            }
            if !seen.insert(name).inserted {
                result.warning(path, "duplicate extension provider name \"\(name)\"; the later definition replaces the earlier one")
            }
        }
        return result
    }

    private func validateDefaultProviders() -> ValidationResult {
        var result = ValidationResult()
        guard let defaultProviders else { return result }
        let defined = Set((extensionProviders ?? []).compactMap(\.name))
        for (field, names) in [("tracing", defaultProviders.tracing), ("metrics", defaultProviders.metrics), ("accessLogging", defaultProviders.accessLogging)] {
            for (i, name) in (names ?? []).enumerated() where !defined.contains(name) {
                result.warning((FieldPath("defaultProviders") / field)[i], "default provider \"\(name)\" is not defined in extensionProviders; it will be ignored")
            }
        }
        return result
    }

    static func validateLabelSelector(_ selector: LabelSelector, at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        for (key, value) in (selector.matchLabels ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !Validators.isQualifiedName(key) || !Validators.isLabelValue(value) {
                result.warning((path / "matchLabels").key(key), "invalid label \(key)=\(value); this selector will be ignored")
            }
        }
        for (i, requirement) in (selector.matchExpressions ?? []).enumerated() {
            let reqPath = (path / "matchExpressions")[i]
            if !Validators.isQualifiedName(requirement.key ?? "") {
                result.warning(reqPath / "key", "invalid label key \"\(requirement.key ?? "")\"; this selector will be ignored")
            }
            let values = requirement.values ?? []
            switch requirement.operator ?? "" {
            case "In", "NotIn":
                if values.isEmpty { result.warning(reqPath / "values", "values must be non-empty for operator \(requirement.operator!); this selector will be ignored") }
            case "Exists", "DoesNotExist":
                if !values.isEmpty { result.warning(reqPath / "values", "values must be empty for operator \(requirement.operator!); this selector will be ignored") }
            default:
                result.warning(reqPath / "operator", "unsupported operator \"\(requirement.operator ?? "")\"; expected In, NotIn, Exists or DoesNotExist; this selector will be ignored")
            }
        }
        return result
    }
}

extension MeshConfig.ProxyConfig {
    /// Istio's `ValidateMeshConfigProxyConfig`.
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        if (configPath ?? "").isEmpty { result.error(path / "configPath", "config path must be set") }
        if (binaryPath ?? "").isEmpty { result.error(path / "binaryPath", "binary path must be set") }
        if serviceCluster != nil, tracingServiceName != nil {
            result.error(path, "only one of serviceCluster or tracingServiceName may be set")
        } else if let serviceCluster {
            if serviceCluster.isEmpty { result.error(path / "serviceCluster", "service cluster must be specified") }
        } else if tracingServiceName == nil {
            result.error(path, "oneof service cluster or tracing service name must be specified")
        }

        if let problem = MeshConfig.durationProblem(drainDuration ?? ConfigDuration(nanoseconds: 0)) {
            result.error(path / "drainDuration", "invalid drain duration: \(problem)")
        } else if let drain = drainDuration, drain.nanoseconds % 1_000_000_000 != 0 {
            result.error(path / "drainDuration", "drain time only supports durations to seconds precision")
        }
        for (name, duration) in [("terminationDrainDuration", terminationDrainDuration), ("fileFlushInterval", fileFlushInterval)] {
            if let duration, duration.nanoseconds < 0 { result.error(path / name, "duration must not be negative") }
        }

        if let address = discoveryAddress, !address.isEmpty {
            if let problem = Validators.proxyAddressProblem(address) {
                result.error(path / "discoveryAddress", "invalid discovery address: \(problem)")
            }
        } else {
            result.error(path / "discoveryAddress", "discovery address must be set to the proxy discovery service")
        }

        if let tracing { result.merge(tracing.validate(at: path / "tracing")) }

        if let address = statsdUdpAddress, !address.isEmpty, let problem = Validators.proxyAddressProblem(address) {
            result.error(path / "statsdUdpAddress", "invalid statsd udp address \"\(address)\": \(problem)")
        }
        if let address = envoyMetricsServiceAddress, !address.isEmpty {
            if let problem = Validators.proxyAddressProblem(address) {
                result.error(path / "envoyMetricsServiceAddress", "invalid envoy metrics service address \"\(address)\": \(problem)")
            } else {
                result.warning(path / "envoyMetricsServiceAddress", "envoyMetricsServiceAddress is deprecated; use envoyMetricsService instead")
            }
        }
        if proxyMetadata?["ISTIO_META_DNS_AUTO_ALLOCATE"] != nil {
            result.warning((path / "proxyMetadata").key("ISTIO_META_DNS_AUTO_ALLOCATE"), "'ISTIO_META_DNS_AUTO_ALLOCATE' is deprecated; use DNS auto-allocation v2 instead")
        }
        for (name, service) in [("envoyMetricsService", envoyMetricsService), ("envoyAccessLogService", envoyAccessLogService)] {
            guard let service else { continue }
            if let address = service.address, !address.isEmpty, let problem = Validators.proxyAddressProblem(address) {
                result.error(path / name / "address", "invalid address \"\(address)\": \(problem)")
            }
            result.merge(MeshConfig.validateKeepalive(service.tcpKeepalive, at: path / name / "tcpKeepalive"))
        }

        if let problem = Validators.port(proxyAdminPort ?? 0, at: path / "proxyAdminPort").errors.first {
            result.error(problem.path, "invalid proxy admin port: \(problem.message)")
        }
        if let policy = controlPlaneAuthPolicy, policy == .INHERIT {
            result.error(path / "controlPlaneAuthPolicy", "unrecognized control plane auth policy \"INHERIT\"; expected NONE or MUTUAL_TLS")
        }
        if let problem = Validators.port(statusPort ?? 0, at: path / "statusPort").errors.first {
            result.error(problem.path, "invalid status port: \(problem.message)")
        }
        if let concurrency, concurrency < 0 {
            result.error(path / "concurrency", "concurrency must be greater than or equal to 0")
        }
        for (i, regex) in (proxyStatsMatcher?.inclusionRegexps ?? []).enumerated() {
            if let problem = Validators.regexProblem(regex) { result.error((path / "proxyStatsMatcher" / "inclusionRegexps")[i], problem) }
        }
        if let provider = privateKeyProvider { result.merge(provider.validate(at: path / "privateKeyProvider")) }
        if let settings = connectionSettings { result.merge(settings.validate(at: path / "connectionSettings")) }
        return result
    }
}

extension MeshConfig.Tracing {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        let tracers = [zipkin != nil, lightstep != nil, datadog != nil, stackdriver != nil, openCensusAgent != nil].filter { $0 }.count
        if tracers > 1 {
            result.error(path, "only one of zipkin, lightstep, datadog, stackdriver or openCensusAgent may be set")
        }
        if let lightstep {
            let address = lightstep.address ?? ""
            if address.isEmpty {
                result.error(path / "lightstep" / "address", "invalid lightstep config: address is required")
            } else if let problem = Validators.proxyAddressProblem(address) {
                result.error(path / "lightstep" / "address", "invalid lightstep config: invalid lightstep address: \(problem)")
            }
            if (lightstep.accessToken ?? "").isEmpty {
                result.error(path / "lightstep" / "accessToken", "invalid lightstep config: access token is required")
            }
        }
        for (name, address) in [("zipkin", zipkin?.address), ("datadog", datadog?.address)] {
            guard let address else {
                if (name == "zipkin" && zipkin != nil) || (name == "datadog" && datadog != nil) {
                    result.error(path / name / "address", "invalid \(name) config: address is required")
                }
                continue
            }
            let resolved = address.replacingOccurrences(of: "$(HOST_IP)", with: "127.0.0.1")
            if let problem = Validators.proxyAddressProblem(resolved) {
                result.error(path / name / "address", "invalid \(name) config: \(problem)")
            }
        }
        for (name, tag) in (customTags ?? [:]).sorted(by: { $0.key < $1.key }) {
            let set = [tag.literal != nil, tag.environment != nil, tag.header != nil].filter { $0 }.count
            if set > 1 { result.error((path / "customTags").key(name), "only one of literal, environment or header may be set") }
        }
        if let sampling, !(0...100).contains(sampling) {
            result.error(path / "sampling", "sampling must be in range [0.0, 100.0], got \(sampling)")
        }
        return result
    }
}

extension MeshConfig.PrivateKeyProvider {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        switch (cryptomb, qat) {
        case (nil, nil):
            result.error(path, "invalid private key provider configuration: one of cryptomb or qat is required")
        case (.some, .some):
            result.error(path, "invalid private key provider configuration: only one of cryptomb or qat may be set")
        default:
            let (name, delay) = cryptomb != nil ? ("cryptomb", cryptomb?.pollDelay) : ("qat", qat?.pollDelay)
            if let delay {
                if delay.nanoseconds == 0 {
                    result.error(path / name / "pollDelay", "invalid private key provider configuration: pollDelay must be non zero")
                }
            } else {
                result.error(path / name / "pollDelay", "invalid private key provider configuration: pollDelay is required")
            }
        }
        return result
    }
}

extension MeshConfig.ProxyConfig.ConnectionSettings {
    func validate(at path: FieldPath) -> ValidationResult {
        var result = ValidationResult()
        func nonNegative(_ value: Int32?, _ name: String) {
            if let value, value < 0 { result.error(path / name, "invalid connection settings: \(name) must be non-negative") }
        }
        func positive(_ value: Int32?, _ name: String) {
            if let value, value <= 0 { result.error(path / name, "invalid connection settings: \(name) must be positive") }
        }
        func window(_ value: Int32?, _ name: String) {
            if let value, value < 65535 { result.error(path / name, "invalid connection settings: \(name) must be at least 65535") }
        }
        nonNegative(listenerPerConnectionBufferLimitBytes, "listenerPerConnectionBufferLimitBytes")
        nonNegative(clusterPerConnectionBufferLimitBytes, "clusterPerConnectionBufferLimitBytes")
        let durations: [(String, ConfigDuration?)] = [
            ("httpIdleTimeout", httpIdleTimeout), ("httpMaxConnectionDuration", httpMaxConnectionDuration),
            ("httpDrainTimeout", httpDrainTimeout), ("httpRequestTimeout", httpRequestTimeout),
            ("httpRequestHeadersTimeout", httpRequestHeadersTimeout), ("httpStreamIdleTimeout", httpStreamIdleTimeout),
            ("httpMaxStreamDuration", httpMaxStreamDuration),
        ]
        for (name, duration) in durations {
            if let duration, duration.nanoseconds < 0 { result.error(path / name, "invalid connection settings: \(name) must be non-negative") }
        }
        positive(httpMaxConcurrentStreams, "httpMaxConcurrentStreams")
        window(http2InitialStreamWindowSize, "http2InitialStreamWindowSize")
        window(http2InitialConnectionWindowSize, "http2InitialConnectionWindowSize")
        positive(listenerConnectionLimit, "listenerConnectionLimit")
        positive(globalDownstreamConnectionLimit, "globalDownstreamConnectionLimit")
        return result
    }
}

extension MeshConfig {
    /// Envoy's `StatusCode` values, which ext_authz `statusOnError` must name.
    private static let envoyStatusCodes: Set<Int> = [
        0, 100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422,
        423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
    ]

    /// Istio's `validateExtensionProvider`. Istio only logs these problems (a provider that is never
    /// used does no harm), so they are warnings; setting two provider kinds at once is an error,
    /// as the proto oneof makes it one.
    func validateExtensionProviders() -> ValidationResult {
        var result = ValidationResult()
        for (i, provider) in (extensionProviders ?? []).enumerated() {
            let path = (FieldPath("extensionProviders"))[i]
            let name = provider.name ?? ""
            let kinds = provider.providerKinds
            if kinds.count > 1 {
                result.error(path, "only one provider may be set, found \(kinds.joined(separator: ", "))")
                continue
            }
            guard let kind = kinds.first else {
                result.warning(path, "invalid extension provider \(name): no provider is set")
                continue
            }
            var problems: [(FieldPath, String)] = []
            func service(_ service: String?, _ port: UInt32?, requireService: Bool = true) {
                if requireService, let problem = Validators.extensionProviderServiceProblem(service) {
                    problems.append((path / kind / "service", problem))
                }
                if !(1...65535).contains(Int(port ?? 0)) {
                    problems.append((path / kind / "port", "port number \(port ?? 0) must be in the range 1..65535"))
                }
            }
            func statusOnError(_ status: String?) {
                guard let status, !status.isEmpty else { return }
                guard let code = Int(status), Self.envoyStatusCodes.contains(code) else {
                    problems.append((path / kind / "statusOnError", "unsupported statusOnError value \(status); expected an HTTP status code Envoy knows"))
                    return
                }
            }
            func headers(_ headers: [ExtensionProvider.HttpHeader]?, at headersPath: FieldPath) {
                for (j, header) in (headers ?? []).enumerated() where header.value != nil && header.envName != nil {
                    result.error(headersPath[j], "only one of value or envName may be set")
                }
            }
            switch kind {
            case "envoyExtAuthzHttp":
                let p = provider.envoyExtAuthzHttp!
                service(p.service, p.port)
                statusOnError(p.statusOnError)
                if let prefix = p.pathPrefix, !prefix.isEmpty, !prefix.hasPrefix("/") {
                    problems.append((path / kind / "pathPrefix", "pathPrefix should begin with `/` but found \"\(prefix)\""))
                }
            case "envoyExtAuthzGrpc":
                let p = provider.envoyExtAuthzGrpc!
                service(p.service, p.port)
                statusOnError(p.statusOnError)
            case "zipkin":
                service(provider.zipkin!.service, provider.zipkin!.port)
                headers(provider.zipkin!.headers, at: path / kind / "headers")
            case "lightstep":
                service(provider.lightstep!.service, provider.lightstep!.port)
                if (provider.lightstep!.accessToken ?? "").isEmpty { problems.append((path / kind / "accessToken", "access token is required")) }
            case "datadog": service(provider.datadog!.service, provider.datadog!.port)
            case "opencensus": service(provider.opencensus!.service, provider.opencensus!.port)
            case "skywalking": service(provider.skywalking!.service, provider.skywalking!.port)
            case "envoyHttpAls": service(provider.envoyHttpAls!.service, provider.envoyHttpAls!.port)
            case "envoyTcpAls": service(provider.envoyTcpAls!.service, provider.envoyTcpAls!.port)
            case "envoyOtelAls": service(provider.envoyOtelAls!.service, provider.envoyOtelAls!.port)
            case "opentelemetry":
                let p = provider.opentelemetry!
                service(p.service, p.port)
                if p.http != nil, p.grpc != nil {
                    problems.append((path / kind, "OpenTelemetryTracingProvider cannot specify both grpc and http"))
                }
                headers(p.http?.headers, at: path / kind / "http" / "headers")
                headers(p.grpc?.initialMetadata, at: path / kind / "grpc" / "initialMetadata")
            case "envoyFileAccessLog":
                if let format = provider.envoyFileAccessLog!.logFormat, format.text != nil, format.labels != nil {
                    result.error(path / kind / "logFormat", "only one of text or labels may be set")
                }
            case "sds":
                service(provider.sds!.service, provider.sds!.port)
            default:
                break
            }
            for (problemPath, message) in problems {
                result.warning(problemPath, "invalid extension provider \(name): \(message)")
            }
        }
        return result
    }
}
