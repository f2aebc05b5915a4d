/// What a proxy asked for of one type: every resource (wildcard), some names, or both.
public struct XDSSubscription: Sendable, Hashable, Codable {
    /// Whether the proxy wants every resource of the type.
    public var isWildcard: Bool
    /// Resource names asked for explicitly (besides the wildcard).
    public var names: Set<String>

    /// - Parameters:
    ///   - isWildcard: Whether every resource is wanted.
    ///   - names: Explicit names.
    public init(isWildcard: Bool, names: Set<String> = []) {
        self.isWildcard = isWildcard
        self.names = names
    }

    /// Every resource of the type (CDS and LDS by default).
    public static let wildcard = XDSSubscription(isWildcard: true)

    /// Exactly these names (EDS and RDS).
    /// - Parameters:
    ///   - names: The resource names.
    public static func names(_ names: some Sequence<String>) -> XDSSubscription {
        XDSSubscription(isWildcard: false, names: Set(names))
    }

    /// Whether a resource of this name is wanted.
    public func contains(_ name: String) -> Bool { isWildcard || names.contains(name) }

    /// The names as sent in a request: `*` stands for the wildcard.
    public var requestNames: [String] {
        isWildcard ? (names.isEmpty ? [] : ["*"] + names.sorted()) : names.sorted()
    }
}

/// The order in which an ADS server sends types, and which types are wildcard by default.
///
/// Clusters go before endpoints and listeners before routes, as Envoy's ADS ordering expects, so
/// a proxy never holds a route to a cluster it lacks (Istio's `PushOrder`).
public enum XDSTypeOrder {
    /// CDS, EDS, LDS, RDS, SDS; other types follow in name order.
    public static let order: [String] = [
        EnvoyTypeURL.cluster, EnvoyTypeURL.clusterLoadAssignment,
        EnvoyTypeURL.listener, EnvoyTypeURL.routeConfiguration, EnvoyTypeURL.secret,
    ]

    /// Sorts type URLs into push order.
    /// - Parameters:
    ///   - typeURLs: Type URLs in any order.
    public static func sorted(_ typeURLs: some Sequence<String>) -> [String] {
        typeURLs.sorted { lhs, rhs in
            let left = order.firstIndex(of: lhs) ?? order.count
            let right = order.firstIndex(of: rhs) ?? order.count
            return left != right ? left < right : lhs < rhs
        }
    }

    /// Whether an empty request for this type means "everything" (CDS and LDS).
    public static func isWildcardByDefault(_ typeURL: String) -> Bool {
        typeURL == EnvoyTypeURL.cluster || typeURL == EnvoyTypeURL.listener
    }
}
