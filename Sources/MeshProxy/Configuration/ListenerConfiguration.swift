public import MeshXDS
import SwiftProtobuf

/// A listener as the proxy serves it: compiled from an Envoy `Listener` once per LDS update.
///
/// Compilation checks everything the engine relies on, so a listener the proxy cannot honour is
/// NACKed (with a ``ProxyConfigurationError`` naming the field) instead of failing at traffic time.
public struct ListenerConfiguration: Sendable {
    /// The listener's name.
    public var name: String
    /// The address it binds (or, with `bind_to_port: false`, the address it is found by).
    public var address: ListenerAddress
    /// False for listeners that only receive connections handed over by another listener
    /// (transparent capture's virtual listeners).
    public var bindsToPort: Bool
    /// True when connections are handed to the listener of their original destination.
    public var usesOriginalDestination: Bool
    /// The listener filters that run before filter-chain matching.
    public var listenerFilters: Set<ListenerFilterKind>
    /// The filter chains in configuration order.
    public var filterChains: [FilterChainConfiguration] {
        didSet { filterChainMatches = filterChains.map(\.match) }
    }
    /// Each chain's match, in the same order (kept so per-connection selection does not rebuild it).
    private(set) var filterChainMatches: [FilterChainMatch] = []
    /// The chain for connections no `filter_chain_match` selects.
    public var defaultFilterChain: FilterChainConfiguration?
    /// `INBOUND`, `OUTBOUND` or unspecified, as the control plane marked it.
    public var trafficDirection: Envoy_Config_Core_V3_TrafficDirection
    /// Envoy's soft limit on buffered bytes per connection (1 MiB by default).
    public var perConnectionBufferLimitBytes: Int
    /// The Envoy resource it was compiled from, for `/config_dump`.
    public var source: Envoy_Config_Listener_V3_Listener
    /// Listener-level access logs (`access_log`): connections no filter chain takes.
    public var accessLogs: [AccessLogConfiguration] = []

    /// A listener filter the engine implements.
    public enum ListenerFilterKind: String, Sendable, Hashable {
        /// Reads the TLS ClientHello for SNI and ALPN.
        case tlsInspector = "envoy.filters.listener.tls_inspector"
        /// Detects HTTP/1.x and h2c in plaintext connections.
        case httpInspector = "envoy.filters.listener.http_inspector"
        /// Restores the pre-redirect destination (iptables capture).
        case originalDestination = "envoy.filters.listener.original_dst"
    }

    /// Compiles a listener.
    /// - Parameters:
    ///   - listener: The Envoy resource.
    ///   - httpFilters: The HTTP filters its connection managers may use.
    ///   - networkFilters: The network filters its chains may use before the terminal filter.
    /// - Throws: ``ProxyConfigurationError`` naming the field the proxy cannot honour.
    public init(_ listener: Envoy_Config_Listener_V3_Listener, httpFilters: HTTPFilterRegistry = .standard,
                networkFilters: NetworkFilterRegistry = .standard) throws(ProxyConfigurationError) {
        let context = ConfigurationContext(resourceType: "Listener", resourceName: listener.name)
        guard !listener.name.isEmpty else { throw context.error(.invalid, "name", "a listener needs a name") }
        name = listener.name
        source = listener
        address = try ListenerAddress(listener.address, field: "address", context: context)
        bindsToPort = listener.hasBindToPort ? listener.bindToPort.value : true
        usesOriginalDestination = listener.hasUseOriginalDst && listener.useOriginalDst.value
        trafficDirection = listener.trafficDirection
        perConnectionBufferLimitBytes = listener.hasPerConnectionBufferLimitBytes ? Int(listener.perConnectionBufferLimitBytes.value) : 1 << 20
        if listener.listenerSpecifier != nil {
            throw context.error(.unsupported, "internal_listener", "internal listeners are not supported")
        }
        if !listener.additionalAddresses.isEmpty {
            throw context.error(.unsupported, "additional_addresses", "additional listener addresses are not supported")
        }
        var filters: Set<ListenerFilterKind> = []
        for (index, filter) in listener.listenerFilters.enumerated() {
            let field = "listener_filters[\(index)]"
            if filter.hasFilterDisabled {
                throw context.error(.unsupported, "\(field).filter_disabled", "conditionally disabled listener filters are not supported")
            }
            let typeName = filter.typedConfig.typeURL.split(separator: "/").last.map(String.init) ?? ""
            let kind: ListenerFilterKind? = switch typeName {
            case "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector": .tlsInspector
            case "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector": .httpInspector
            case "envoy.extensions.filters.listener.original_dst.v3.OriginalDst": .originalDestination
            default: ListenerFilterKind(rawValue: filter.name)
            }
            guard let kind else {
                throw context.error(.unsupported, "\(field).typed_config", "listener filter \"\(filter.name)\" (\(filter.typedConfig.typeURL)) is not supported")
            }
            filters.insert(kind)
        }
        listenerFilters = filters
        var chains: [FilterChainConfiguration] = []
        for (index, chain) in listener.filterChains.enumerated() {
            chains.append(try FilterChainConfiguration(chain, field: "filter_chains[\(index)]", context: context, registry: httpFilters, networkRegistry: networkFilters))
        }
        filterChains = chains
        filterChainMatches = chains.map(\.match)
        defaultFilterChain = listener.hasDefaultFilterChain
            ? try FilterChainConfiguration(listener.defaultFilterChain, field: "default_filter_chain", context: context, registry: httpFilters, networkRegistry: networkFilters)
            : nil
        if chains.isEmpty && defaultFilterChain == nil {
            throw context.error(.invalid, "filter_chains", "a listener needs at least one filter chain")
        }
        try FilterChainSelector.checkUnique(filterChainMatches, context: context)
        accessLogs = try AccessLogConfiguration.list(listener.accessLog, field: "access_log", context: context)
    }

    /// The filter chain for a connection, with Envoy's matching order and specificity rules, or
    /// nil when no chain matches (Envoy closes the connection).
    /// - Parameter connection: What is known about the connection after the listener filters.
    public func filterChain(for connection: FilterChainMatchInput) -> FilterChainConfiguration? {
        if let index = FilterChainSelector.select(filterChainMatches, connection) { return filterChains[index] }
        return defaultFilterChain
    }

    /// Whether any chain needs the TLS inspector's findings (server names, TLS transport, ALPN).
    public var needsTLSInspection: Bool { listenerFilters.contains(.tlsInspector) }
}

/// The socket address of a listener or an endpoint.
public struct ListenerAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IP address (or `0.0.0.0` / `::`).
    public var host: String
    /// The port; 0 asks the kernel for one.
    public var port: Int
    /// `ipv4_compat`: an IPv6 address also takes IPv4 connections (`IPV6_V6ONLY` off). Without it
    /// an IPv6 listener takes only IPv6, as in Envoy.
    public var ipv4Compat: Bool

    /// - Parameters:
    ///   - host: The IP address.
    ///   - port: The port.
    ///   - ipv4Compat: Whether an IPv6 address also takes IPv4 connections.
    public init(host: String, port: Int, ipv4Compat: Bool = false) {
        self.host = host
        self.port = port
        self.ipv4Compat = ipv4Compat
    }

    /// Whether the host is an IPv6 address.
    var isIPv6: Bool { host.contains(":") }

    /// The host's address bytes (its text when it does not parse), so that two spellings of one
    /// address compare equal.
    var hostBytes: [UInt8] { IPAddressBytes.parse(host) ?? Array(host.utf8) }

    init(_ address: Envoy_Config_Core_V3_Address, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        switch address.address {
        case .socketAddress(let socket):
            guard socket.protocol == .tcp else {
                throw context.error(.unsupported, "\(field).socket_address.protocol", "only TCP listeners are supported")
            }
            guard !socket.address.isEmpty else { throw context.error(.invalid, "\(field).socket_address.address", "the address is empty") }
            guard case .portValue(let port) = socket.portSpecifier else {
                throw context.error(.unsupported, "\(field).socket_address.named_port", "only numeric ports are supported")
            }
            guard port <= 65535 else { throw context.error(.invalid, "\(field).socket_address.port_value", "port \(port) is out of range") }
            host = socket.address
            self.port = Int(port)
            ipv4Compat = socket.ipv4Compat
        case .pipe:
            throw context.error(.unsupported, "\(field).pipe", "Unix domain socket listeners are not supported")
        default:
            throw context.error(.invalid, field, "the listener has no socket address")
        }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Where a resource compiles: names the resource in every error.
struct ConfigurationContext: Sendable {
    var resourceType: String
    var resourceName: String

    func error(_ code: ProxyConfigurationError.Code, _ field: String, _ message: String) -> ProxyConfigurationError {
        ProxyConfigurationError(code, resourceType: resourceType, resourceName: resourceName, field: field, message)
    }
}
