/// The `Secret`s of the config by namespace and name, answering Istio's gateway credential
/// lookups: `credentialName` → certificate and key, and `<name>-cacert` → the CA to verify peers.
public struct SecretIndex: Sendable {
    private let byKey: [String: Resource<KubernetesSecret>]

    /// The suffix of the SDS resource that carries a credential's CA (Istio's `-cacert`).
    public static let caSuffix = "-cacert"

    /// Indexes `secrets` (a later one with the same namespace and name replaces an earlier one).
    public init(_ secrets: [Resource<KubernetesSecret>]) {
        byKey = Dictionary(secrets.map { ("\($0.meta.namespace)/\($0.meta.name)", $0) }, uniquingKeysWith: { _, last in last })
    }

    /// Every secret, sorted by namespace and name.
    public var all: [Resource<KubernetesSecret>] { byKey.keys.sorted().map { byKey[$0]! } }

    /// The secret `namespace/name`, if any.
    public func secret(namespace: String, name: String) -> Resource<KubernetesSecret>? { byKey["\(namespace)/\(name)"] }

    /// The certificate and key of `namespace/name`, when that secret holds both.
    public func keyPair(namespace: String, name: String) -> (credential: TLSCredential, secret: Resource<KubernetesSecret>)? {
        guard let secret = secret(namespace: namespace, name: name) else { return nil }
        let credential = secret.spec.tlsCredential
        return credential.hasKeyPair ? (credential, secret) : nil
    }

    /// The CA certificates for `name` as Istio resolves `<name>-cacert`: a secret called
    /// `name` (when it ends in `-cacert`) holding `ca.crt` or `cacert`, else the CA of the secret
    /// without the suffix.
    /// - Parameters:
    ///   - namespace: the secrets' namespace.
    ///   - name: the resource name without `kubernetes://`, usually ending in `-cacert`.
    public func caCertificates(namespace: String, name: String) -> (pem: String, secret: Resource<KubernetesSecret>)? {
        if let own = secret(namespace: namespace, name: name), let ca = own.spec.tlsCredential.caCertificates {
            return (ca, own)
        }
        guard name.hasSuffix(Self.caSuffix) else { return nil }
        let base = String(name.dropLast(Self.caSuffix.count))
        guard let secret = secret(namespace: namespace, name: base), let ca = secret.spec.tlsCredential.caCertificates else { return nil }
        return (ca, secret)
    }
}
