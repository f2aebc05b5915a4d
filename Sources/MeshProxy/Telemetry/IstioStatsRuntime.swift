import MeshTelemetry
import MeshXDS
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// The proxy itself as its peers see it: its node id and workload, and the exchange header value
/// it sends (computed once).
struct LocalWorkload: Sendable {
    let nodeID: String
    let workload: PeerWorkload
    let exchangeHeaderValue: String

    init(node: Envoy_Config_Core_V3_Node) {
        nodeID = node.id
        workload = PeerWorkload(nodeMetadata: node.metadata)
        exchangeHeaderValue = workload.exchangeHeaderValue
    }
}

/// What a finished request or TCP connection reports, gathered by the stream or the TCP proxy.
struct IstioReport {
    var request: HTTPRequestHead?
    /// The client, from the exchange headers (inbound).
    var downstreamPeer: PeerWorkload?
    /// The server, from the response's exchange headers or the endpoint metadata (outbound).
    var upstreamPeer: PeerWorkload?
    /// The downstream TLS session (inbound principals and security policy).
    var downstreamTLS: DownstreamTLSInfo?
    /// The upstream certificate's identity and ours on that connection (outbound principals).
    var upstreamPeerPrincipal: String?
    var upstreamLocalPrincipal: String?
    /// The upstream cluster's filter metadata (`istio.services`).
    var clusterMetadata: [String: Google_Protobuf_Struct]?
    var responseCode = 0
    var grpcStatus: String?
    var flags: ResponseFlags = []
}

/// One HTTP connection manager's or TCP proxy's stats filter: how it labels and records
/// Istio's standard metrics.
final class IstioStatsRuntime: Sendable {
    /// The standard labels, in Istio's order.
    enum Label: Int, CaseIterable, Sendable {
        case reporter, sourceWorkload, sourceCanonicalService, sourceCanonicalRevision, sourceWorkloadNamespace
        case sourcePrincipal, sourceApp, sourceVersion, sourceCluster
        case destinationWorkload, destinationWorkloadNamespace, destinationPrincipal, destinationApp, destinationVersion
        case destinationService, destinationCanonicalService, destinationCanonicalRevision, destinationServiceName
        case destinationServiceNamespace, destinationCluster, requestProtocol, responseFlags, connectionSecurityPolicy
        case responseCode, grpcResponseStatus

        var name: String {
            let all = StandardMetric.commonLabels + StandardMetric.httpLabels
            return all[rawValue]
        }
    }

    enum LabelSource: Sendable {
        case standard(Label)
        case dimension(TagExpression)
    }

    /// Metrics that share their labels, recorded as one series.
    struct Group: Sendable {
        var metrics: UInt8
        var names: [String]
        var sources: [LabelSource]
    }

    let configuration: IstioStatsConfiguration
    /// True on inbound listeners (`reporter="destination"`).
    let inbound: Bool
    let local: LocalWorkload
    let store: IstioMetricsStore
    let httpGroups: [Group]
    let tcpGroups: [Group]

    init(configuration: IstioStatsConfiguration, inbound: Bool, local: LocalWorkload, store: IstioMetricsStore) {
        self.configuration = configuration
        self.inbound = inbound
        self.local = local
        self.store = store
        httpGroups = Self.groups([.requestsTotal, .requestDuration, .requestBytes, .responseBytes], http: true, configuration)
        tcpGroups = Self.groups([.tcpConnectionsOpened, .tcpConnectionsClosed, .tcpSentBytes, .tcpReceivedBytes], http: false, configuration)
    }

    private static func groups(_ metrics: [IstioMetric], http: Bool, _ configuration: IstioStatsConfiguration) -> [Group] {
        var groups: [(plan: IstioStatsConfiguration.MetricPlan, group: Group)] = []
        for metric in metrics {
            let plan = configuration.plans[metric.shortName] ?? .init()
            if plan.dropped { continue }
            if let index = groups.firstIndex(where: { $0.plan == plan }) {
                groups[index].group.metrics |= metric.bit
                continue
            }
            let standard = Label.allCases.filter { (http || $0.rawValue < Label.responseCode.rawValue) && !plan.removed.contains($0.name) }
                .filter { label in !plan.dimensions.contains { $0.name == label.name } }
            var names = standard.map(\.name)
            var sources = standard.map { LabelSource.standard($0) }
            for dimension in plan.dimensions {
                names.append(dimension.name)
                sources.append(.dimension(dimension.expression))
            }
            groups.append((plan, Group(metrics: metric.bit, names: names, sources: sources)))
        }
        return groups.map(\.group)
    }

    // MARK: Recording

    /// Records a finished request.
    func recordRequest(_ report: IstioReport, durationNanoseconds: Int64, requestBytes: Int, responseBytes: Int) {
        let values = LabelValues(report: report, runtime: self, tcp: false)
        for group in httpGroups {
            store.recordRequest(
                .init(names: group.names, values: values.resolve(group.sources, request: report.request)), metrics: group.metrics,
                durationMilliseconds: Double(durationNanoseconds) / 1_000_000, requestBytes: requestBytes, responseBytes: responseBytes)
        }
    }

    /// Records TCP connection events and bytes.
    func recordTCP(_ report: IstioReport, opened: Int, closed: Int, sent: Int, received: Int) {
        let values = LabelValues(report: report, runtime: self, tcp: true)
        for group in tcpGroups {
            store.recordTCP(
                .init(names: group.names, values: values.resolve(group.sources, request: nil)), metrics: group.metrics,
                opened: opened, closed: closed, sent: sent, received: received)
        }
    }

    /// The standard label values of one report.
    struct LabelValues {
        var standard: [String]

        init(report: IstioReport, runtime: IstioStatsRuntime, tcp: Bool) {
            let unknown = PeerWorkload.unknown
            let source = runtime.inbound ? report.downstreamPeer : runtime.local.workload
            let destination = runtime.inbound ? runtime.local.workload : report.upstreamPeer
            let sourcePrincipal: String
            let destinationPrincipal: String
            let securityPolicy: String
            if runtime.inbound {
                let tls = report.downstreamTLS
                sourcePrincipal = tls?.peerURISANs.first ?? unknown
                destinationPrincipal = tls?.localURISANs.first ?? unknown
                securityPolicy = tls?.peerCertificatePresented == true ? "mutual_tls" : "none"
            } else {
                sourcePrincipal = report.upstreamLocalPrincipal ?? unknown
                destinationPrincipal = report.upstreamPeerPrincipal ?? unknown
                securityPolicy = unknown
            }
            // destination_service from the cluster's `istio.services`, else (when allowed) the Host header.
            var service: (host: String, name: String, namespace: String)?
            if case .listValue(let list)? = report.clusterMetadata?["istio"]?.fields["services"]?.kind,
               case .structValue(let first)? = list.values.first?.kind {
                func field(_ key: String) -> String? {
                    if case .stringValue(let value)? = first.fields[key]?.kind, !value.isEmpty { return value }
                    return nil
                }
                if let host = field("host") {
                    service = (host, field("name") ?? host, field("namespace") ?? destination?.namespace ?? unknown)
                }
            }
            if service == nil, !runtime.configuration.disableHostHeaderFallback, let host = report.request?.headers.first(name: "host") {
                service = (host, host, destination?.namespace ?? unknown)
            }
            let isGRPC = !tcp && (report.request?.headers.first(name: "content-type")?.hasPrefix("application/grpc") ?? false)
            standard = Label.allCases.map { label in
                switch label {
                case .reporter: runtime.inbound ? "destination" : "source"
                case .sourceWorkload: source?.workloadName ?? unknown
                case .sourceCanonicalService: source?.canonicalService ?? unknown
                case .sourceCanonicalRevision: source?.canonicalRevision ?? "latest"
                case .sourceWorkloadNamespace: source?.namespace ?? unknown
                case .sourcePrincipal: sourcePrincipal
                case .sourceApp: source?.app ?? unknown
                case .sourceVersion: source?.version ?? unknown
                case .sourceCluster: source?.clusterID ?? unknown
                case .destinationWorkload: destination?.workloadName ?? unknown
                case .destinationWorkloadNamespace: destination?.namespace ?? unknown
                case .destinationPrincipal: destinationPrincipal
                case .destinationApp: destination?.app ?? unknown
                case .destinationVersion: destination?.version ?? unknown
                case .destinationService: service?.host ?? unknown
                case .destinationCanonicalService: destination?.canonicalService ?? unknown
                case .destinationCanonicalRevision: destination?.canonicalRevision ?? "latest"
                case .destinationServiceName: service?.name ?? unknown
                case .destinationServiceNamespace: service?.namespace ?? unknown
                case .destinationCluster: destination?.clusterID ?? unknown
                case .requestProtocol: tcp ? "tcp" : isGRPC ? "grpc" : "http"
                case .responseFlags: report.flags.description
                case .connectionSecurityPolicy: securityPolicy
                case .responseCode: String(report.responseCode)
                case .grpcResponseStatus: isGRPC ? (report.grpcStatus ?? "") : ""
                }
            }
        }

        func resolve(_ sources: [LabelSource], request: HTTPRequestHead?) -> [String] {
            sources.map { source in
                switch source {
                case .standard(let label): standard[label.rawValue]
                case .dimension(let expression): expression.value(request: request)
                }
            }
        }
    }
}

extension PeerWorkload {
    /// The upstream peer an endpoint's `istio.workload` metadata names, if any.
    init?(endpointMetadata metadata: [String: Google_Protobuf_Struct]) {
        guard case .stringValue(let value)? = metadata["istio"]?.fields["workload"]?.kind else { return nil }
        self.init(endpointWorkload: value)
    }
}

/// One proxied TCP connection's Istio metrics: `opened` once the upstream connects, bytes every
/// `tcp_reporting_duration` and at the end, `closed` at the end (as Istio's network stats filter).
final class TCPIstioReporting {
    let runtime: IstioStatsRuntime
    var report = IstioReport()
    var sent = 0
    var received = 0
    private var reportedSent = 0
    private var reportedReceived = 0
    private var opened = false
    private var timer: RepeatedTask?

    init(runtime: IstioStatsRuntime, tls: DownstreamTLSInfo?) {
        self.runtime = runtime
        report.downstreamTLS = tls
    }

    /// The load balancer picked `host`: the upstream peer is the endpoint's workload.
    func upstreamHostChosen(_ host: UpstreamHost, tls: TLSContextSource?) {
        report.upstreamPeer = PeerWorkload(endpointMetadata: host.metadata)
        report.upstreamLocalPrincipal = tls?.localPrincipal
    }

    /// The upstream connection is up (and verified, with TLS).
    func connected(peerPrincipal: String?, context: ChannelHandlerContext) {
        report.upstreamPeerPrincipal = peerPrincipal
        opened = true
        runtime.recordTCP(report, opened: 1, closed: 0, sent: 0, received: 0)
        let interval = runtime.configuration.tcpReportingInterval.timeAmount
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.flushBytes(closed: false)
        }
    }

    /// The downstream connection ended.
    func closed() {
        timer?.cancel()
        timer = nil
        flushBytes(closed: true)
    }

    private func flushBytes(closed: Bool) {
        let newSent = sent - reportedSent
        let newReceived = received - reportedReceived
        guard closed || newSent > 0 || newReceived > 0 else { return }
        reportedSent = sent
        reportedReceived = received
        runtime.recordTCP(report, opened: closed && !opened ? 1 : 0, closed: closed ? 1 : 0, sent: newSent, received: newReceived)
    }
}
