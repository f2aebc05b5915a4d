/// Generates realistic Istio configuration for large meshes, for tests and benchmarks.
///
/// Each service gets a ServiceEntry, two WorkloadEntries (v1 and v2), a DestinationRule with
/// subsets, a VirtualService splitting traffic and matching a header, and an AuthorizationPolicy,
/// five resources per service in all; namespaces hold `servicesPerNamespace` services each.
public struct SyntheticMesh: Sendable {
    public var services: Int
    public var servicesPerNamespace: Int

    public init(services: Int, servicesPerNamespace: Int = 50) {
        self.services = services
        self.servicesPerNamespace = servicesPerNamespace
    }

    /// Number of Istio resources ``yaml()`` produces (one mesh-wide PeerAuthentication included).
    public var resourceCount: Int { services * 6 + 1 }

    /// The namespace of service `i`.
    public func namespace(of i: Int) -> String { "ns-\(i / servicesPerNamespace)" }

    /// All documents as one multi-document YAML text.
    public func yaml() -> String {
        var out = """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: default
          namespace: istio-system
        spec:
          mtls:
            mode: STRICT

        """
        out.reserveCapacity(services * 2600)
        for i in 0..<services { out += documents(for: i) }
        return out
    }

    /// The six documents for service `i`.
    public func documents(for i: Int) -> String {
        let ns = namespace(of: i)
        let name = "svc-\(i)"
        let host = "\(name).\(ns).svc.cluster.local"
        let caller = "svc-\(i == 0 ? services - 1 : i - 1)"
        let octet2 = (i / 250) % 250, octet3 = i % 250 + 1
        return """
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: \(name)
          namespace: \(ns)
        spec:
          hosts: [\(host)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 8080, name: http, protocol: HTTP}
          - {number: 9090, name: grpc-api, protocol: GRPC}
          workloadSelector:
            labels: {app: \(name)}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: \(name)-v1
          namespace: \(ns)
        spec:
          address: 127.\(octet2).\(octet3).1
          labels: {app: \(name), version: v1}
          serviceAccount: \(name)
          locality: region-a/zone-1
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: \(name)-v2
          namespace: \(ns)
        spec:
          address: 127.\(octet2).\(octet3).2
          labels: {app: \(name), version: v2}
          serviceAccount: \(name)
          locality: region-a/zone-2
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: \(name)
          namespace: \(ns)
        spec:
          host: \(host)
          trafficPolicy:
            loadBalancer: {simple: LEAST_REQUEST}
            connectionPool:
              tcp: {maxConnections: 100, connectTimeout: 250ms}
              http: {http1MaxPendingRequests: 64, maxRequestsPerConnection: 10}
            outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
          subsets:
          - name: v1
            labels: {version: v1}
          - name: v2
            labels: {version: v2}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: \(name)
          namespace: \(ns)
        spec:
          hosts: [\(host)]
          http:
          - name: canary
            match:
            - headers:
                x-canary: {exact: "true"}
              uri: {prefix: /api/}
            route:
            - destination: {host: \(host), subset: v2, port: {number: 8080}}
            timeout: 2s
          - name: default
            route:
            - destination: {host: \(host), subset: v1, port: {number: 8080}}
              weight: 90
            - destination: {host: \(host), subset: v2, port: {number: 8080}}
              weight: 10
            retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,connect-failure"}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: \(name)
          namespace: \(ns)
        spec:
          selector:
            matchLabels: {app: \(name)}
          action: ALLOW
          rules:
          - from:
            - source:
                principals: [cluster.local/ns/\(namespace(of: i == 0 ? services - 1 : i - 1))/sa/\(caller)]
            to:
            - operation:
                methods: [GET, POST]
                paths: [/api/*]

        """
    }
}
