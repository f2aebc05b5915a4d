public import Foundation

/// A Kubernetes `Secret` (`v1`) read with the config: gateway credentials, as Istio's gateways
/// read them by `credentialName`.
///
/// The document keeps Kubernetes' shape (`type`, `data`, `stringData`, `immutable` at the top
/// level, next to `metadata`); `data` values are base64 as written. Values are never printed: the
/// description names the keys only.
public struct KubernetesSecret: ResourceSpec, CustomStringConvertible {
    public static var kind: ResourceKind { .secret }

    /// `kubernetes.io/tls`, `Opaque`, ...; nil means `Opaque`.
    public var type: String?
    /// Base64-encoded values by key (`tls.crt`, `tls.key`, `ca.crt`, or `cert`, `key`, `cacert`).
    public var data: [String: String]?
    /// Plain-text values by key; a key here replaces the same key of `data`, as in Kubernetes.
    public var stringData: [String: String]?
    /// Whether the secret may not change (recorded, not enforced).
    public var immutable: Bool?

    /// Creates a secret.
    /// - Parameters:
    ///   - type: the secret type.
    ///   - data: base64 values by key.
    ///   - stringData: plain values by key.
    ///   - immutable: the `immutable` flag.
    public init(type: String? = nil, data: [String: String]? = nil, stringData: [String: String]? = nil, immutable: Bool? = nil) {
        self.type = type
        self.data = data
        self.stringData = stringData
        self.immutable = immutable
    }

    /// Kubernetes' TLS secret type.
    public static let tlsType = "kubernetes.io/tls"

    /// The decoded value of `key` (`stringData` first), or nil when it is absent or not base64.
    public func value(_ key: String) -> Data? {
        if let text = stringData?[key] { return Data(text.utf8) }
        guard let encoded = data?[key] else { return nil }
        return Data(base64Encoded: encoded)
    }

    /// Every key of `data` and `stringData`, sorted.
    public var keys: [String] { Set((data ?? [:]).keys).union((stringData ?? [:]).keys).sorted() }

    /// The field a key's value is read from (`stringData[k]` or `data[k]`), for messages.
    public func field(of key: String) -> FieldPath {
        stringData?[key] != nil ? FieldPath("stringData").key(key) : FieldPath("data").key(key)
    }

    public var description: String { "Secret(type: \(type ?? "Opaque"), keys: \(keys))" }
}

extension ResourceKind {
    /// Kubernetes `Secret` (core group, `v1`): TLS credentials gateways read by `credentialName`.
    public static let secret = ResourceKind(group: "", kind: "Secret", versions: ["v1"], specType: KubernetesSecret.self)

    /// Whether documents of this kind keep their content at the top level, as Kubernetes core
    /// kinds do, rather than under `spec`.
    public var isCoreKind: Bool { group.isEmpty }
}
