import Testing
import MeshCore

@Suite struct AnalysisAnnotationTests {
    // MARK: Catalogue

    @Test(arguments: [
        ("sidecar.istio.io/inject", true), ("networking.istio.io/anything", true), ("istio.io/rev", true),
        ("kubernetes.io/ingress.class", true), ("kubernetes.io/psp", false), ("helm.sh/hook", false),
        ("example.com/istio.io", false), ("plain", false),
    ])
    func istioKeys(_ key: String, _ isIstio: Bool) {
        #expect(IstioAnnotation.isIstioKey(key) == isIstio)
    }

    @Test func catalogueFacts() throws {
        let inject = try #require(IstioAnnotation.lookup("sidecar.istio.io/inject"))
        #expect(inject.deprecated && inject.featureStatus == .beta && inject.resources == [.pod])
        let dryRun = try #require(IstioAnnotation.lookup("istio.io/dry-run"))
        #expect(dryRun.applies(to: "AuthorizationPolicy") && !dryRun.applies(to: "Pod"))
        let suppress = try #require(IstioAnnotation.lookup("galley.istio.io/analyze-suppress"))
        #expect(suppress.applies(to: "VirtualService"))
        #expect(IstioAnnotation.lookup("traffic.istio.io/nodeSelector")?.featureStatus == .stable)
        #expect(IstioAnnotation.lookup("sidecar.istio.io/proxyImageTag") == nil)
        #expect(Set(IstioAnnotation.all.map(\.name)).count == IstioAnnotation.all.count)
        #expect(IstioAnnotation.all.map(\.name) == IstioAnnotation.all.map(\.name).sorted())
    }

    // MARK: Values

    @Test(arguments: [
        ("traffic.sidecar.istio.io/includeInboundPorts", "*"),
        ("traffic.sidecar.istio.io/includeInboundPorts", ""),
        ("traffic.sidecar.istio.io/excludeInboundPorts", " 80, 8080 "),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "0,65535"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "*"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.1/8,::/0"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", ""),
        ("traffic.sidecar.istio.io/excludeInterfaces", "eth0, net1.100"),
        ("sidecar.istio.io/interceptionMode", "NONE"),
        ("readiness.status.sidecar.istio.io/failureThreshold", "4294967295"),
        ("prometheus.istio.io/merge-metrics", "T"),
        ("sidecar.istio.io/proxyCPU", "0.5"),
        ("sidecar.istio.io/proxyMemory", "1e3"),
        ("sidecar.istio.io/proxyMemoryLimit", "512Mi"),
        ("proxy.istio.io/config", "{}"),
        ("proxy.istio.io/config", "tracing:\n  sampling: 10\n"),
        ("sidecar.istio.io/inject", "whatever"),
    ])
    func acceptedValues(_ name: String, _ value: String) {
        #expect(IstioAnnotation.valueProblem(name, value: value) == nil)
    }

    @Test(arguments: [
        ("traffic.sidecar.istio.io/includeInboundPorts", "80,", "includeInboundPorts invalid: failed parsing port '': failed parsing port '': strconv.ParseUint: parsing \"\": invalid syntax"),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "65536", "excludeOutboundPorts invalid: failed parsing port '65536': failed parsing port '65536': strconv.ParseUint: parsing \"65536\": value out of range"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.0", "excludeIPRanges invalid: failed parsing cidr '10.0.0.0': netip.ParsePrefix(\"10.0.0.0\"): no '/'"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.0/33", "excludeIPRanges invalid: failed parsing cidr '10.0.0.0/33': netip.ParsePrefix(\"10.0.0.0/33\"): bad bits after slash: \"33\""),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "", nil),
        ("traffic.sidecar.istio.io/excludeInterfaces", "eth0,,eth1", "empty interface name"),
        ("traffic.sidecar.istio.io/kubevirtInterfaces", "averyveryverylongname", "interface name \"averyveryverylongname\" too long (max 15 chars)"),
        ("readiness.status.sidecar.istio.io/periodSeconds", "-1", "strconv.ParseUint: parsing \"-1\": invalid syntax"),
        ("sidecar.istio.io/proxyCPU", "1Mm", "unable to parse quantity's suffix"),
        ("sidecar.istio.io/proxyCPU", "1x", "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
        ("sidecar.istio.io/proxyCPU", "1\n", "value contains control characters"),
        ("proxy.istio.io/config", "proxyAdminPort: 70000", "invalid proxy admin port: port number 70000 must be in the range 1..65535"),
    ] as [(String, String, String?)])
    func rejectedValues(_ name: String, _ value: String, _ problem: String?) {
        let actual = IstioAnnotation.valueProblem(name, value: value)
        if let problem {
            #expect(actual == problem)
        } else {
            #expect(actual == nil)
        }
    }

    @Test func proxyConfigWithUnknownFieldIsRejected() throws {
        let problem = try #require(IstioAnnotation.valueProblem("proxy.istio.io/config", value: "notAField: 1"))
        #expect(problem.hasPrefix("failed to convert to apply proxy config: "))
    }

    // MARK: Analyzers

    static let alphaYAML = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: cni
      namespace: default
      annotations:
        sidecar.istio.io/interceptionMode: REDIRECT
        traffic.sidecar.istio.io/excludeInboundPorts: "15020"
        sidecar.istio.io/status: "{}"
        sidecar.istio.io/rewriteAppHTTPProbers: "true"
        proxy.istio.io/config: "{}"
    spec:
      containers:
      - name: app
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: injected
      namespace: default
      annotations:
        sidecar.istio.io/interceptionMode: REDIRECT
    spec:
      initContainers:
      - name: istio-init
      containers:
      - name: app
    """

    @Test func alphaAnnotationsAreOptInAndSkipCNIDefaults() {
        #expect(!ConfigAnalysis.standardAnalyzers.contains { $0 is AlphaAnnotationAnalyzer })
        let output = ConfigDecoder().decode(Self.alphaYAML, file: "pods.yaml")
        let messages = ConfigAnalysis(analyzers: ConfigAnalysis.optionalAnnotationAnalyzers)
            .analyze(AnalysisContext(resources: output.resources, platform: output.platform))
        #expect(messages.map(\.description) == [
            "Info [IST0136] (Pod default/cni) Annotation \"sidecar.istio.io/rewriteAppHTTPProbers\" is part of an alpha-phase feature and may be incompletely supported.",
            "Info [IST0136] (Pod default/injected) Annotation \"sidecar.istio.io/interceptionMode\" is part of an alpha-phase feature and may be incompletely supported.",
        ])
        #expect(messages.first?.path.description == "metadata.annotations[sidecar.istio.io/rewriteAppHTTPProbers]")
    }

    @Test func kubernetesObjectsKeepAnnotations() throws {
        let yaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          annotations:
            a: b
        spec:
          template:
            metadata:
              labels:
                app: web
              annotations:
                sidecar.istio.io/proxyCPU: 100m
            spec:
              initContainers:
              - name: istio-init
        """
        let output = ConfigDecoder().decode(yaml, file: "web.yaml")
        let object = try #require(output.platform.objects.first)
        #expect(object.key == ResourceKey(kind: .kubernetes("Deployment"), namespace: "shop", name: "web"))
        #expect(object.key.kind.group == "apps")
        #expect(object.annotations == ["a": "b"])
        #expect(object.podTemplateLabels == ["app": "web"])
        #expect(object.podTemplateAnnotations == ["sidecar.istio.io/proxyCPU": "100m"])
        #expect(object.initContainerNames == ["istio-init"])
        #expect(!ResourceKind.all.contains(.kubernetes("Deployment")))
    }

    // MARK: Metadata validation

    @Test func metadataRulesApplyToEveryKind() {
        let dryRun = ObjectMeta(name: "p", namespace: "foo", annotations: ["istio.io/dry-run": "true"])
        #expect(ValidationContext.validateMetadata(dryRun, kind: .authorizationPolicy).isValid)
        #expect(ValidationContext.validateMetadata(dryRun).isValid)
        for kind in ResourceKind.all where kind != .authorizationPolicy {
            #expect(ValidationContext.validateMetadata(dryRun, kind: kind).errors.map(\.path.description) == ["metadata.annotations[istio.io/dry-run]"])
        }
        let internalKeys = ObjectMeta(name: "p", namespace: "foo", annotations: [
            "internal.istio.io/parents": "x", "internal.istio.io/parent-namespace": "y",
            "internal.istio.io/webhook-always-reject": "", "internal.istio.io/gateway-semantics": "gateway",
        ])
        #expect(ValidationContext.validateMetadata(internalKeys, kind: .virtualService).errors.map(\.message).sorted() == [
            "\"internal.istio.io/parent-namespace\" annotation found, this may not be set by users",
            "\"internal.istio.io/parents\" annotation found, this may not be set by users",
            "\"internal.istio.io/webhook-always-reject\" annotation found, rejecting",
        ])
    }
}
