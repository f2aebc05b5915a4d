import MeshTelemetry
import MeshXDS
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf

/// The proxy itself as its peers see it: its node id and workload, and the exchange header value
/// it sends (computed once).
struct LocalWorkload: Sendable {
    let nodeID: String
    let identity: PeerIdentity
    let exchangeHeaderValue: String

    var workload: PeerWorkload { identity.workload }

    /// Adds this proxy's exchange headers (`x-envoy-peer-metadata-id` and `x-envoy-peer-metadata`).
    func addExchangeHeaders(to headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: PeerWorkload.metadataIDHeader, value: nodeID)
        headers.replaceOrAdd(name: PeerWorkload.metadataHeader, value: exchangeHeaderValue)
    }

    /// The proxy's own IP (`INSTANCE_IPS`' first, else the address in an Istio node id
    /// `type~ip~pod.namespace~domain`), which Envoy's internal requests append to `x-forwarded-for`.
    let address: String?

    init(node: Envoy_Config_Core_V3_Node) {
        nodeID = node.id
        identity = PeerIdentity(PeerWorkload(nodeMetadata: node.metadata))
        exchangeHeaderValue = identity.workload.exchangeHeaderValue
        var instanceIP: String?
        if case .stringValue(let ips)? = node.metadata.fields["INSTANCE_IPS"]?.kind {
            instanceIP = ips.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        }
        address = instanceIP ?? (try? ProxyIdentity(nodeID: node.id))?.ipAddress
    }
}

/// A workload shared by reference: finished requests are keyed by which peer they saw (its
/// identity), so the steady state compares pointers, not label strings.
final class PeerIdentity: Sendable {
    let workload: PeerWorkload
    init(_ workload: PeerWorkload) { self.workload = workload }
}

/// What a finished request or TCP connection reports, gathered by the stream or the TCP proxy.
struct IstioReport {
    var request: HTTPRequestHead?
    /// The client, from the exchange headers (inbound).
    var downstreamPeer: PeerIdentity?
    /// The server, from the response's exchange headers or the endpoint metadata (outbound).
    var upstreamPeer: PeerIdentity?
    /// The downstream TLS session (inbound principals and security policy).
    var downstreamTLS: DownstreamTLSInfo?
    /// The upstream certificate's identity and ours on that connection (outbound principals).
    var upstreamPeerPrincipal: String?
    var upstreamLocalPrincipal: String?
    /// The upstream cluster (its `istio.services` metadata names the destination service).
    var cluster: ClusterRuntime?
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
        var metrics: UInt16
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
    /// The custom tags of the HTTP metrics, in group order (evaluated per request; usually none).
    let dimensionExpressions: [TagExpression]

    init(configuration: IstioStatsConfiguration, inbound: Bool, local: LocalWorkload, store: IstioMetricsStore) {
        self.configuration = configuration
        self.inbound = inbound
        self.local = local
        self.store = store
        httpGroups = Self.groups([.requestsTotal, .requestDuration, .requestBytes, .responseBytes, .requestMessages, .responseMessages], http: true, configuration)
        tcpGroups = Self.groups([.tcpConnectionsOpened, .tcpConnectionsClosed, .tcpSentBytes, .tcpReceivedBytes], http: false, configuration)
        dimensionExpressions = httpGroups.flatMap(\.sources).compactMap { source in
            if case .dimension(let expression) = source { return expression } else { return nil }
        }
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

    /// What decides a finished request's labels, compared by identity where it can be: the same
    /// key always means the same series, so a per-thread cache maps keys to series.
    struct RequestKey: Hashable {
        var runtime: ObjectIdentifier
        var peer: ObjectIdentifier?
        var cluster: ObjectIdentifier?
        var peerPrincipal: String?
        var localPrincipal: String?
        var host: String?
        var responseCode: Int
        var grpcStatus: String?
        var flags: UInt32
        var isGRPC: Bool
        var mutualTLS: Bool
        var dimensions: [String]?
    }

    /// A key's series, with weak references to the objects the key names: a hit counts only while
    /// they are the same live objects (an identity can be reused once its object is gone), and the
    /// cache pins no configuration that LDS or CDS replaced.
    struct CachedSeries {
        var series: [IstioSeries?]
        weak var runtime: IstioStatsRuntime?
        weak var peer: PeerIdentity?
        weak var cluster: ClusterRuntime?

        func names(runtime: IstioStatsRuntime, peer: PeerIdentity?, cluster: ClusterRuntime?) -> Bool {
            self.runtime === runtime && self.peer === peer && self.cluster === cluster
        }
    }

    /// True when the request is gRPC (`application/grpc` or `application/grpc+...`, as Envoy decides).
    static func isGRPC(_ request: HTTPRequestHead?) -> Bool {
        guard let type = request?.headers.first(name: "content-type") else { return false }
        return type == "application/grpc" || type.hasPrefix("application/grpc+") || type.hasPrefix("application/grpc;")
    }

    /// Envoy's gRPC status for a response without `grpc-status`, from its HTTP status.
    static func grpcStatus(httpStatus: Int) -> String {
        switch httpStatus {
        case 400: "13"
        case 401: "16"
        case 403: "7"
        case 404: "12"
        case 429, 502, 503, 504: "14"
        default: "2"
        }
    }

    /// Records a finished request: the labels are built once per distinct key and thread, then
    /// the request only bumps its series.
    func recordRequest(_ report: IstioReport, durationNanoseconds: Int64, requestBytes: Int, responseBytes: Int,
                       messages: (request: Int, response: Int)? = nil) {
        var report = report
        let isGRPC = Self.isGRPC(report.request)
        if isGRPC, report.grpcStatus == nil, report.responseCode > 0 { report.grpcStatus = Self.grpcStatus(httpStatus: report.responseCode) }
        let peer = inbound ? report.downstreamPeer : report.upstreamPeer
        let dimensions = dimensionExpressions.isEmpty ? nil : dimensionExpressions.map { $0.value(request: report.request) }
        let key = RequestKey(
            runtime: ObjectIdentifier(self), peer: peer.map(ObjectIdentifier.init), cluster: report.cluster.map(ObjectIdentifier.init),
            peerPrincipal: inbound ? report.downstreamTLS?.peerURISANs.first : report.upstreamPeerPrincipal,
            localPrincipal: inbound ? report.downstreamTLS?.localURISANs.first : report.upstreamLocalPrincipal,
            host: configuration.disableHostHeaderFallback ? nil : report.request?.headers.first(name: "host"),
            responseCode: report.responseCode, grpcStatus: isGRPC ? report.grpcStatus : nil, flags: report.flags.rawValue,
            isGRPC: isGRPC, mutualTLS: report.downstreamTLS?.peerCertificatePresented ?? false, dimensions: dimensions)
        let cache = IstioSeriesCache.forCurrentThread
        let series: [IstioSeries?]
        if let hit = cache.entries[key], hit.names(runtime: self, peer: peer, cluster: report.cluster) {
            series = hit.series
        } else {
            let values = LabelValues(report: report, runtime: self, tcp: false, isGRPC: isGRPC)
            series = httpGroups.map { group in
                store.series(.init(names: group.names, values: values.resolve(group.sources, request: report.request)), metrics: group.metrics)
            }
            cache.insert(key, CachedSeries(series: series, runtime: self, peer: peer, cluster: report.cluster))
        }
        let milliseconds = Double(durationNanoseconds) / 1_000_000
        for entry in series {
            entry?.recordRequest(durationMilliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes,
                                 messages: isGRPC ? (messages ?? (0, 0)) : nil)
        }
    }

    /// Records TCP connection events and bytes (once per connection and reporting interval, so
    /// the labels are built each time).
    func recordTCP(_ report: IstioReport, opened: Int, closed: Int, sent: Int, received: Int) {
        let values = LabelValues(report: report, runtime: self, tcp: true, isGRPC: false)
        for group in tcpGroups {
            store.series(.init(names: group.names, values: values.resolve(group.sources, request: nil)), metrics: group.metrics)?
                .recordTCP(opened: opened, closed: closed, sent: sent, received: received)
        }
    }

    /// The standard label values of one report.
    struct LabelValues {
        var standard: [String]

        init(report: IstioReport, runtime: IstioStatsRuntime, tcp: Bool, isGRPC: Bool) {
            let unknown = PeerWorkload.unknown
            let source = runtime.inbound ? report.downstreamPeer?.workload : runtime.local.workload
            let destination = runtime.inbound ? runtime.local.workload : report.upstreamPeer?.workload
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
            if case .listValue(let list)? = report.cluster?.configuration.metadata["istio"]?.fields["services"]?.kind,
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
    /// An endpoint's `istio.workload` metadata value, if any.
    static func endpointWorkloadValue(_ metadata: [String: Google_Protobuf_Struct]) -> String? {
        guard case .stringValue(let value)? = metadata["istio"]?.fields["workload"]?.kind else { return nil }
        return value
    }

    /// The upstream peer an endpoint's `istio.workload` metadata names, if any.
    init?(endpointMetadata metadata: [String: Google_Protobuf_Struct]) {
        guard let value = Self.endpointWorkloadValue(metadata) else { return nil }
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
    func upstreamHostChosen(_ host: UpstreamHost) {
        report.upstreamPeer = PeerWorkload(endpointMetadata: host.metadata).map(PeerIdentity.init)
    }

    /// The upstream connection is up (and verified, with TLS).
    func connected(identities: UpstreamTLSIdentities?, context: ChannelHandlerContext) {
        report.upstreamPeerPrincipal = identities?.peer
        report.upstreamLocalPrincipal = identities?.local
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

/// Per event-loop thread: finished requests' keys and the series they record into. Only the
/// thread that owns it touches it.
final class IstioSeriesCache: @unchecked Sendable {
    private(set) var entries: [IstioStatsRuntime.RequestKey: IstioStatsRuntime.CachedSeries] = [:]
    /// Beyond this many keys the cache starts over (keys can carry client-chosen values).
    static let capacity = 4096
    private static let current = ThreadSpecificVariable<IstioSeriesCache>()

    static var forCurrentThread: IstioSeriesCache {
        if let cache = current.currentValue { return cache }
        let cache = IstioSeriesCache()
        current.currentValue = cache
        return cache
    }

    func insert(_ key: IstioStatsRuntime.RequestKey, _ value: IstioStatsRuntime.CachedSeries) {
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }
}
