public import MeshCore
public import SwiftProtobuf

/// What translation knows about a connecting proxy: its identity from Istio's node id and the
/// workload facts from its node metadata.
///
/// Built from the `Node` of the first discovery request:
///
/// ```swift
/// let proxy = try ProxyView(node: request.node)
/// let clusters = registry.generate(EnvoyTypeURL.cluster, snapshot: snapshot, proxy: proxy, options: options)
/// ```
public struct ProxyView: Sendable, Hashable {
    /// How traffic reaches the proxy (Istio's `INTERCEPTION_MODE`).
    public enum InterceptionMode: String, Sendable, Hashable, CaseIterable {
        /// iptables `REDIRECT` to 15001/15006 (Istio's default).
        case redirect = "REDIRECT"
        /// iptables `TPROXY`, preserving the source address.
        case tproxy = "TPROXY"
        /// No capture: applications call the proxy's listeners explicitly.
        case none = "NONE"
    }

    /// The parsed node id.
    public var identity: ProxyIdentity
    /// The proxy's IP addresses: `INSTANCE_IPS` metadata, else the node id's address. Never empty.
    public var ipAddresses: [String]
    /// The workload's namespace.
    public var namespace: String
    /// The workload's labels (`LABELS` metadata).
    public var labels: [String: String]
    /// The workload's service account name (`SERVICE_ACCOUNT` metadata), `default` when unset.
    public var serviceAccount: String
    /// The workload's name (`WORKLOAD_NAME` metadata), else the node id's name.
    public var workloadName: String
    public var interceptionMode: InterceptionMode
    /// `CLUSTER_ID` metadata, if any.
    public var clusterID: String?
    /// `ISTIO_VERSION` metadata, if any.
    public var istioVersion: String?
    /// `region/zone/subzone` from the node's locality.
    public var locality: String
    /// The node metadata's string-valued entries (EnvoyFilter `match.proxy.metadata` compares them).
    public var metadata: [String: String] = [:]
    /// The configuration types of the extensions the node says it has (`node.extensions[].type_urls`
    /// of enabled ones, as full proto names: Envoy lists `stats.PluginConfig`, without the
    /// `type.googleapis.com/` prefix). Envoy lists every extension it was built with; translation
    /// emits a filter that not every proxy has (Istio's stats and peer metadata filters) only when
    /// the node lists it.
    public var extensionTypes: Set<String> = []
    /// The identity the proxy proved on its xDS connection (the SPIFFE ID of its client
    /// certificate), nil over plaintext or without a certificate. Unlike everything above, which
    /// the node claims, this is what authorizes secrets: gateway credentials are served only to
    /// a proxy verified in the secret's namespace.
    public var verifiedIdentity: VerifiedProxyIdentity?

    /// The proxy's role.
    public var type: ProxyType { identity.type }
    /// The first IP address, used as the pod IP.
    public var ipAddress: String { ipAddresses[0] }
    /// The DNS domain from the node id, e.g. `bookinfo.svc.cluster.local`.
    public var dnsDomain: String { identity.dnsDomain }
    /// The workload as MeshCore's indices see it.
    public var workload: WorkloadContext {
        WorkloadContext(namespace: namespace, labels: labels, serviceAccount: serviceAccount)
    }

    /// Creates a view from already-known facts (tests, embedders).
    public init(
        identity: ProxyIdentity, ipAddresses: [String]? = nil, labels: [String: String] = [:],
        serviceAccount: String = "default", workloadName: String? = nil, interceptionMode: InterceptionMode = .redirect,
        clusterID: String? = nil, istioVersion: String? = nil, locality: String = ""
    ) {
        self.identity = identity
        self.ipAddresses = (ipAddresses?.isEmpty == false ? ipAddresses : nil) ?? [identity.ipAddress]
        self.namespace = identity.namespace
        self.labels = labels
        self.serviceAccount = serviceAccount
        self.workloadName = workloadName ?? identity.workloadName
        self.interceptionMode = interceptionMode
        self.clusterID = clusterID
        self.istioVersion = istioVersion
        self.locality = locality
    }

    /// Parses Istio's node id and metadata.
    ///
    /// - Parameters:
    ///   - node: the `Node` a proxy sends; `id` must be `TYPE~IP~NAME.NAMESPACE~DOMAIN`.
    /// - Throws: ``ProxyViewError`` naming the bad id, address or metadata field.
    public init(node: Envoy_Config_Core_V3_Node) throws(ProxyViewError) {
        let nodeID = node.id
        func fail(_ code: ProxyViewError.Code, _ message: String) -> ProxyViewError {
            ProxyViewError(code: code, message: message, nodeID: nodeID)
        }
        let identity: ProxyIdentity
        do {
            identity = try ProxyIdentity(nodeID: nodeID)
        } catch {
            throw fail(.invalidNodeID, error.reason)
        }
        let fields = node.metadata.fields

        func string(_ key: String) throws(ProxyViewError) -> String? {
            guard let value = fields[key] else { return nil }
            guard case .stringValue(let text)? = value.kind else {
                throw fail(.invalidMetadata, "metadata \(key) must be a string, found \(Self.describe(value))")
            }
            return text.isEmpty ? nil : text
        }

        var ips = [identity.ipAddress]
        if let list = try string("INSTANCE_IPS") {
            ips = list.split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
        }
        for ip in ips + [identity.ipAddress] where IPAddress(ip) == nil {
            throw fail(.invalidIPAddress, "\"\(ip)\" is not an IP address")
        }

        var labels: [String: String] = [:]
        if let value = fields["LABELS"] {
            guard case .structValue(let labelStruct)? = value.kind else {
                throw fail(.invalidMetadata, "metadata LABELS must be a map of strings, found \(Self.describe(value))")
            }
            for (key, labelValue) in labelStruct.fields {
                guard case .stringValue(let text)? = labelValue.kind else {
                    throw fail(.invalidMetadata, "metadata LABELS[\"\(key)\"] must be a string, found \(Self.describe(labelValue))")
                }
                labels[key] = text
            }
        }

        if let namespace = try string("NAMESPACE"), namespace != identity.namespace {
            throw fail(.namespaceMismatch, "metadata NAMESPACE \"\(namespace)\" differs from the node id's namespace \"\(identity.namespace)\"")
        }

        var mode = InterceptionMode.redirect
        if let text = try string("INTERCEPTION_MODE") {
            guard let parsed = InterceptionMode(rawValue: text) else {
                let known = InterceptionMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail(.invalidMetadata, "metadata INTERCEPTION_MODE \"\(text)\" is not one of \(known)")
            }
            mode = parsed
        }

        var serviceAccount = try string("SERVICE_ACCOUNT") ?? "default"
        if serviceAccount.hasPrefix("spiffe://"), let range = serviceAccount.range(of: "/sa/") {
            serviceAccount = String(serviceAccount[range.upperBound...])
        }

        let locality = node.hasLocality
            ? [node.locality.region, node.locality.zone, node.locality.subZone].joined(separator: "/")
            : ""
        self.init(
            identity: identity, ipAddresses: ips, labels: labels, serviceAccount: serviceAccount,
            workloadName: try string("WORKLOAD_NAME"), interceptionMode: mode,
            clusterID: try string("CLUSTER_ID"), istioVersion: try string("ISTIO_VERSION"),
            locality: locality == "//" ? "" : locality)
        for (key, value) in fields {
            if case .stringValue(let text)? = value.kind { metadata[key] = text }
        }
        extensionTypes = Set(node.extensions.filter { !$0.disabled }.flatMap(\.typeUrls).map(Self.protoName))
    }

    /// True when the node lists an extension configured by `typeURL` (with or without the
    /// `type.googleapis.com/` prefix).
    public func supportsExtension(_ typeURL: String) -> Bool { extensionTypes.contains(Self.protoName(typeURL)) }

    /// A type URL's proto name: what follows the last `/`.
    static func protoName(_ typeURL: String) -> String {
        typeURL.lastIndex(of: "/").map { String(typeURL[typeURL.index(after: $0)...]) } ?? typeURL
    }

    private static func describe(_ value: Google_Protobuf_Value) -> String {
        switch value.kind {
        case .nullValue?, nil: "null"
        case .numberValue(let n)?: "number \(n)"
        case .stringValue(let s)?: "string \"\(s)\""
        case .boolValue(let b)?: "bool \(b)"
        case .structValue?: "a map"
        case .listValue?: "a list"
        }
    }
}
