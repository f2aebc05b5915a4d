/// Istio's `WorkloadGroup` spec: a template for WorkloadEntries created when VMs join the mesh.
public struct WorkloadGroup: ResourceSpec {
    public static var kind: ResourceKind { .workloadGroup }

    /// Labels and annotations copied to generated WorkloadEntries.
    public struct ObjectMeta: Sendable, Hashable, Codable {
        public var labels: [String: String]?
        public var annotations: [String: String]?

        public init(labels: [String: String]? = nil, annotations: [String: String]? = nil) {
            self.labels = labels
            self.annotations = annotations
        }
    }

    /// Istio's `ReadinessProbe`: timing plus exactly one of `httpGet`, `tcpSocket`, `exec` or `grpc`.
    public struct ReadinessProbe: Sendable, Hashable, Codable {
        public var initialDelaySeconds: Int32?
        public var timeoutSeconds: Int32?
        public var periodSeconds: Int32?
        public var successThreshold: Int32?
        public var failureThreshold: Int32?
        // health_check_method oneof
        public var httpGet: HTTPHealthCheckConfig?
        public var tcpSocket: TCPHealthCheckConfig?
        public var exec: ExecHealthCheckConfig?
        public var grpc: GrpcHealthCheckConfig?

        public init(
            initialDelaySeconds: Int32? = nil, timeoutSeconds: Int32? = nil, periodSeconds: Int32? = nil,
            successThreshold: Int32? = nil, failureThreshold: Int32? = nil, httpGet: HTTPHealthCheckConfig? = nil,
            tcpSocket: TCPHealthCheckConfig? = nil, exec: ExecHealthCheckConfig? = nil, grpc: GrpcHealthCheckConfig? = nil
        ) {
            self.initialDelaySeconds = initialDelaySeconds
            self.timeoutSeconds = timeoutSeconds
            self.periodSeconds = periodSeconds
            self.successThreshold = successThreshold
            self.failureThreshold = failureThreshold
            self.httpGet = httpGet
            self.tcpSocket = tcpSocket
            self.exec = exec
            self.grpc = grpc
        }
    }

    /// An HTTP GET probe against the workload.
    public struct HTTPHealthCheckConfig: Sendable, Hashable, Codable {
        public var path: String?
        public var port: UInt32?
        public var host: String?
        /// `HTTP` or `HTTPS`.
        public var scheme: String?
        public var httpHeaders: [HTTPHeader]?

        public init(path: String? = nil, port: UInt32? = nil, host: String? = nil, scheme: String? = nil, httpHeaders: [HTTPHeader]? = nil) {
            self.path = path
            self.port = port
            self.host = host
            self.scheme = scheme
            self.httpHeaders = httpHeaders
        }
    }

    /// A gRPC health check (grpc.health.v1) probe.
    public struct GrpcHealthCheckConfig: Sendable, Hashable, Codable {
        public var port: UInt32?
        public var service: String?

        public init(port: UInt32? = nil, service: String? = nil) {
            self.port = port
            self.service = service
        }
    }

    /// A header sent with an HTTP probe.
    public struct HTTPHeader: Sendable, Hashable, Codable {
        public var name: String?
        public var value: String?

        public init(name: String? = nil, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// A TCP connect probe.
    public struct TCPHealthCheckConfig: Sendable, Hashable, Codable {
        public var host: String?
        public var port: UInt32?

        public init(host: String? = nil, port: UInt32? = nil) {
            self.host = host
            self.port = port
        }
    }

    /// A command run on the workload; exit status 0 is healthy.
    public struct ExecHealthCheckConfig: Sendable, Hashable, Codable {
        public var command: [String]?

        public init(command: [String]? = nil) { self.command = command }
    }

    /// Metadata for generated WorkloadEntries.
    public var metadata: ObjectMeta?
    /// The WorkloadEntry template (address may be left empty; it is filled in on registration).
    public var template: WorkloadEntry?
    /// Readiness check run by the VM's agent.
    public var probe: ReadinessProbe?

    public init(metadata: ObjectMeta? = nil, template: WorkloadEntry? = nil, probe: ReadinessProbe? = nil) {
        self.metadata = metadata
        self.template = template
        self.probe = probe
    }
}
