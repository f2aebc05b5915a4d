/// Istio YAML documents the end-to-end suites share, so each suite spells out only what its
/// scenario is about. Every function returns one document without the `---` separator.
enum MeshYAML {
    /// A client Sidecar (`workloadSelector` app=`app`) with one `captureMode: NONE` egress listener
    /// of `protocol` (HTTP_PROXY by default) on `bind`:`port`, seeing `hosts`.
    static func egressSidecar(
        namespace: String, bind: String, port: Int, protocol: String = "HTTP_PROXY", portName: String = "egress-http",
        hosts: String = "\"./*\"", app: String = "client", outboundTrafficPolicy: String? = nil
    ) -> String {
        var yaml = """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: \(app), namespace: \(namespace)}
            spec:
              workloadSelector: {labels: {app: \(app)}}
              egress:
              - port: {number: \(port), protocol: \(`protocol`), name: \(portName)}
                bind: \(bind)
                captureMode: NONE
                hosts: [\(hosts)]
            """
        if let outboundTrafficPolicy { yaml += "\n  outboundTrafficPolicy: {mode: \(outboundTrafficPolicy)}" }
        return yaml
    }

    /// A server Sidecar (app=`app`) with one `captureMode: NONE` ingress listener of `protocol` on
    /// `bind`:`port` forwarding to the workload on `0.0.0.0:workloadPort`.
    static func ingressSidecar(
        namespace: String, app: String, bind: String, port: Int, protocol: String = "HTTP", portName: String = "http", workloadPort: Int
    ) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: \(app), namespace: \(namespace)}
        spec:
          workloadSelector: {labels: {app: \(app)}}
          ingress:
          - port: {number: \(port), protocol: \(`protocol`), name: \(portName)}
            bind: \(bind)
            captureMode: NONE
            defaultEndpoint: 0.0.0.0:\(workloadPort)
        """
    }

    /// A MESH_INTERNAL ServiceEntry for `host` whose endpoints are the WorkloadEntries labelled app=`app`.
    static func serviceEntry(name: String, namespace: String, host: String, port: Int, protocol: String = "HTTP", portName: String = "http", app: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          hosts: [\(host)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: \(port), name: \(portName), protocol: \(`protocol`)}]
          workloadSelector: {labels: {app: \(app)}}
        """
    }

    /// A WorkloadEntry for a workload with an Istio sidecar (`security.istio.io/tlsMode: istio`), so
    /// clients originate Istio mutual TLS to it.
    static func meshWorkloadEntry(name: String, namespace: String, address: String, serviceAccount: String, portName: String, port: Int, app: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          address: \(address)
          serviceAccount: \(serviceAccount)
          ports: {\(portName): \(port)}
          labels:
            app: \(app)
            security.istio.io/tlsMode: istio
        """
    }
}
