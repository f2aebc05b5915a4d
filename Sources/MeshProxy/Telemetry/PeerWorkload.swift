import Foundation
public import SwiftProtobuf

/// A workload as Istio's metric labels describe it: the proxy's own (from its node metadata) or
/// a peer's (from Istio's exchange headers or an endpoint's `istio.workload` metadata).
public struct PeerWorkload: Sendable, Hashable {
    /// The instance (pod) name.
    public var instanceName: String
    public var namespace: String
    /// The workload (deployment) name: `source_workload` / `destination_workload`.
    public var workloadName: String
    /// `service.istio.io/canonical-name`, else the app label, else the workload name.
    public var canonicalService: String
    /// `service.istio.io/canonical-revision`, else the version label, else `latest`.
    public var canonicalRevision: String
    /// The `app` label (`unknown` when absent).
    public var app: String
    /// The `version` label (`unknown` when absent).
    public var version: String
    /// Istio's `CLUSTER_ID`.
    public var clusterID: String
    /// The labels the workload carries (from node metadata; empty for endpoint metadata).
    public var labels: [String: String]

    /// Istio's request header carrying the sender's metadata (a base64 `google.protobuf.Struct`).
    public static let metadataHeader = "x-envoy-peer-metadata"
    /// Istio's request header carrying the sender's node id.
    public static let metadataIDHeader = "x-envoy-peer-metadata-id"
    static let unknown = "unknown"

    /// A workload from node metadata (Istio's `NAME`, `NAMESPACE`, `WORKLOAD_NAME`, `LABELS`,
    /// `CLUSTER_ID`); missing keys read as `unknown`.
    public init(nodeMetadata metadata: Google_Protobuf_Struct) {
        func string(_ key: String) -> String? {
            guard case .stringValue(let value)? = metadata.fields[key]?.kind, !value.isEmpty else { return nil }
            return value
        }
        var labels: [String: String] = [:]
        if case .structValue(let values)? = metadata.fields["LABELS"]?.kind {
            for (key, value) in values.fields {
                if case .stringValue(let text)? = value.kind { labels[key] = text }
            }
        }
        let workload = string("WORKLOAD_NAME") ?? Self.unknown
        self.init(
            instanceName: string("NAME") ?? Self.unknown, namespace: string("NAMESPACE") ?? Self.unknown,
            workloadName: workload,
            canonicalService: labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? workload,
            canonicalRevision: labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest",
            app: labels["app"] ?? labels["app.kubernetes.io/name"] ?? Self.unknown,
            version: labels["version"] ?? labels["app.kubernetes.io/version"] ?? Self.unknown,
            clusterID: string("CLUSTER_ID") ?? Self.unknown, labels: labels)
    }

    /// A workload from an endpoint's `istio.workload` metadata,
    /// `name;namespace;canonical service;canonical revision;cluster`; nil when malformed. The
    /// metadata carries no `app` or `version` label, so they read `unknown`, as in Istio.
    public init?(endpointWorkload value: String) {
        let parts = value.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, !parts[0].isEmpty else { return nil }
        func orUnknown(_ text: String) -> String { text.isEmpty ? Self.unknown : text }
        self.init(
            instanceName: Self.unknown, namespace: orUnknown(parts[1]), workloadName: parts[0],
            canonicalService: orUnknown(parts[2]), canonicalRevision: parts[3].isEmpty ? "latest" : parts[3],
            app: Self.unknown, version: Self.unknown, clusterID: orUnknown(parts[4]), labels: [:])
    }

    /// - Parameters: see the properties.
    public init(
        instanceName: String, namespace: String, workloadName: String, canonicalService: String, canonicalRevision: String,
        app: String, version: String, clusterID: String, labels: [String: String] = [:]
    ) {
        self.instanceName = instanceName
        self.namespace = namespace
        self.workloadName = workloadName
        self.canonicalService = canonicalService
        self.canonicalRevision = canonicalRevision
        self.app = app
        self.version = version
        self.clusterID = clusterID
        self.labels = labels
    }

    /// The metadata this workload sends in `x-envoy-peer-metadata`: the keys Istio's proxies read,
    /// serialized deterministically and base64-encoded.
    public var exchangeHeaderValue: String {
        var labelFields: [String: Google_Protobuf_Value] = [
            "service.istio.io/canonical-name": .init(stringValue: canonicalService),
            "service.istio.io/canonical-revision": .init(stringValue: canonicalRevision),
        ]
        if app != Self.unknown { labelFields["app"] = .init(stringValue: app) }
        if version != Self.unknown { labelFields["version"] = .init(stringValue: version) }
        let metadata = Google_Protobuf_Struct(fields: [
            "NAME": .init(stringValue: instanceName),
            "NAMESPACE": .init(stringValue: namespace),
            "WORKLOAD_NAME": .init(stringValue: workloadName),
            "CLUSTER_ID": .init(stringValue: clusterID),
            "LABELS": .init(structValue: Google_Protobuf_Struct(fields: labelFields)),
        ])
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = (try? metadata.serializedBytes(options: options)) ?? []
        return Data(bytes).base64EncodedString()
    }

    /// Decodes `x-envoy-peer-metadata` (padded or not); nil when it is not base64 of a `Struct`.
    public init?(exchangeHeaderValue value: some StringProtocol) {
        var text = String(value).trimmingCharacters(in: .whitespaces)
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text),
              let metadata = try? Google_Protobuf_Struct(serializedBytes: [UInt8](data)),
              !metadata.fields.isEmpty
        else { return nil }
        self.init(nodeMetadata: metadata)
    }
}
