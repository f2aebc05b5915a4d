import Foundation
public import MeshCore

/// Gateway credentials over SDS, as Istio serves them: `credentialName: NAME` becomes the SDS
/// resource `kubernetes://NAME` (certificate and key) and `kubernetes://NAME-cacert` (the CA that
/// verifies peers), fetched from istiod over the proxy's ADS stream (the workload's own `default`
/// and `ROOTCA` keep coming from the node agent). istiod builds them from the `Secret`s of the
/// namespace the proxy's connection was verified for, never another.
public struct GatewaySecrets: Sendable {
    /// The prefix of SDS names istiod serves from Kubernetes secrets.
    public static let prefix = "kubernetes://"

    /// The secrets of the mesh.
    public var secrets: SecretIndex
    /// The proxy's verified identity; nil means no secret is readable.
    public var identity: VerifiedProxyIdentity?

    /// What `proxy` may read of `snapshot`'s secrets.
    public init(snapshot: MeshSnapshot, proxy: ProxyView) {
        self.secrets = snapshot.secrets
        self.identity = proxy.verifiedIdentity
    }

    /// `kubernetes://NAME` for a credential name (a name that already has the prefix is kept).
    public static func resourceName(_ credentialName: String) -> String {
        credentialName.hasPrefix(prefix) ? credentialName : prefix + credentialName
    }

    /// `kubernetes://NAME-cacert`: the CA of a credential.
    public static func caResourceName(_ credentialName: String) -> String {
        resourceName(credentialName) + SecretIndex.caSuffix
    }

    /// A resource name's secret: `kubernetes://NAME` or `kubernetes://NAMESPACE/NAME`, with the
    /// namespace defaulting to `namespace`; nil for names istiod does not serve.
    public static func parse(_ resourceName: String, namespace: String) -> (namespace: String, name: String)? {
        guard resourceName.hasPrefix(prefix) else { return nil }
        let rest = resourceName.dropFirst(prefix.count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !rest.isEmpty: return (namespace, String(rest))
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty: return (String(parts[0]), String(parts[1]))
        default: return nil
        }
    }

    /// SDS over the proxy's ADS stream (Istio's `SDSAdsConfig`); no initial fetch timeout, so a
    /// listener or cluster waits for its secret rather than starting without it.
    static var adsConfigSource: Envoy_Config_Core_V3_ConfigSource {
        .with {
            $0.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
            $0.initialFetchTimeout = Proto.zeroDuration
            $0.resourceApiVersion = .v3
        }
    }

    /// An SDS reference to `resourceName` over ADS.
    static func sdsSecret(_ resourceName: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        .with { $0.name = resourceName; $0.sdsConfig = adsConfigSource }
    }

    /// Why the certificate and key of `credentialName` cannot reach the proxy, or nil when they can.
    public func keyPairProblem(_ credentialName: String) -> String? {
        guard let identity else { return Self.unverified }
        guard let (namespace, name) = Self.parse(Self.resourceName(credentialName), namespace: identity.namespace) else {
            return "\"\(credentialName)\" is not a secret name"
        }
        guard namespace == identity.namespace else {
            return "Secret \(namespace)/\(name) is in another namespace than the gateway's (\(identity.namespace)); a gateway reads secrets of its own namespace only"
        }
        guard let secret = secrets.secret(namespace: namespace, name: name) else {
            return "Secret \(namespace)/\(name) not found\(elsewhere(name, not: namespace))"
        }
        guard secret.spec.tlsCredential.hasKeyPair else {
            return "Secret \(namespace)/\(name) holds no certificate and key (tls.crt and tls.key, or cert and key)"
        }
        return nil
    }

    /// Why the CA of `credentialName` (`NAME-cacert`) cannot reach the proxy, or nil when it can.
    public func caProblem(_ credentialName: String) -> String? {
        guard let identity else { return Self.unverified }
        let resource = Self.caResourceName(credentialName)
        guard let (namespace, name) = Self.parse(resource, namespace: identity.namespace) else {
            return "\"\(credentialName)\" is not a secret name"
        }
        guard namespace == identity.namespace else {
            return "Secret \(namespace)/\(name) is in another namespace than the gateway's (\(identity.namespace)); a gateway reads secrets of its own namespace only"
        }
        guard secrets.caCertificates(namespace: namespace, name: name) != nil else {
            let base = String(name.dropLast(SecretIndex.caSuffix.count))
            return "no CA for \(credentialName): neither Secret \(namespace)/\(name) nor Secret \(namespace)/\(base) holds ca.crt or cacert\(elsewhere(base, not: namespace))"
        }
        return nil
    }

    /// A hint when secrets of that name exist only in other namespaces.
    private func elsewhere(_ name: String, not namespace: String) -> String {
        let others = secrets.all.filter { $0.meta.name == name && $0.meta.namespace != namespace }.map(\.meta.namespace)
        guard !others.isEmpty else { return "" }
        return " (namespace \(others.joined(separator: ", ")) has one; a gateway reads secrets of its own namespace only)"
    }

    private static let unverified = "secrets are served only to a gateway whose xDS connection proves its identity: run the agent with --ca and connect to istiod's secure port"

    /// The SDS `Secret` for `resourceName` as `identity` may read it: a TLS certificate for
    /// `kubernetes://NAME`, a validation context for `kubernetes://NAME-cacert` (when no secret
    /// `NAME-cacert` holds a key pair); nil when it does not exist or is another namespace's.
    public func secret(named resourceName: String) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret? {
        guard let identity, let (namespace, name) = Self.parse(resourceName, namespace: identity.namespace),
              namespace == identity.namespace else { return nil }
        typealias DataSource = Envoy_Config_Core_V3_DataSource
        func inline(_ text: String) -> DataSource { .with { $0.inlineBytes = Data(text.utf8) } }
        if name.hasSuffix(SecretIndex.caSuffix), secrets.keyPair(namespace: namespace, name: name) == nil {
            guard let (ca, _) = secrets.caCertificates(namespace: namespace, name: name) else { return nil }
            return .with {
                $0.name = resourceName
                $0.validationContext = .with { $0.trustedCa = inline(ca) }
            }
        }
        guard let (credential, _) = secrets.keyPair(namespace: namespace, name: name),
              let chain = credential.certificateChain, let key = credential.privateKey else { return nil }
        return .with {
            $0.name = resourceName
            $0.tlsCertificate = .with {
                $0.certificateChain = inline(chain)
                $0.privateKey = inline(key)
            }
        }
    }
}
