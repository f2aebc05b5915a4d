public import MeshXDS
public import SwiftProtobuf

/// One filter chain of a listener: when it applies and what it does with the connection.
public struct FilterChainConfiguration: Sendable {
    /// The chain's name (may be empty).
    public var name: String
    /// When the chain applies.
    public var match: FilterChainMatch
    /// The network filters before the terminal one, in order (their names and raw configs).
    public var networkFilters: [NetworkFilterConfiguration]
    /// What terminates the chain.
    public var terminal: Terminal
    /// Istio's network stats filter (`istio.stats` before a TCP proxy), if configured.
    public var istioStats: IstioStatsConfiguration?
    /// The downstream TLS context, when the chain terminates TLS.
    public var transportSocket: Google_Protobuf_Any?
    /// The chain's TLS termination (its `DownstreamTlsContext`), nil for plaintext chains.
    public var tls: DownstreamTLSConfiguration?

    /// The filter that ends a chain.
    public enum Terminal: Sendable {
        /// `envoy.filters.network.http_connection_manager`.
        case http(HTTPConnectionManagerConfiguration)
        /// `envoy.filters.network.tcp_proxy`.
        case tcp(TCPProxyConfiguration)
    }

    init(_ chain: Envoy_Config_Listener_V3_FilterChain, field: String, context: ConfigurationContext, registry: HTTPFilterRegistry,
         networkRegistry: NetworkFilterRegistry = .standard) throws(ProxyConfigurationError) {
        name = chain.name
        match = try FilterChainMatch(chain.filterChainMatch, field: "\(field).filter_chain_match", context: context)
        if chain.hasTransportSocket {
            let socket = chain.transportSocket
            let type = socket.typedConfig.typeURL
            if type.hasSuffix("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer") || (socket.configType == nil && socket.name.hasSuffix("raw_buffer")) {
                transportSocket = nil
            } else {
                tls = try DownstreamTLSConfiguration(socket, field: "\(field).transport_socket", context: context)
                transportSocket = socket.typedConfig
            }
        } else {
            transportSocket = nil
        }
        guard let last = chain.filters.last else {
            throw context.error(.invalid, "\(field).filters", "a filter chain needs a terminal network filter")
        }
        var before: [NetworkFilterConfiguration] = []
        for (index, filter) in chain.filters.dropLast().enumerated() {
            let filterField = "\(field).filters[\(index)]"
            if case .typedConfig(let typed)? = filter.configType, IstioStatsConfiguration.isType(typed, IstioStatsConfiguration.typeURL) {
                do { istioStats = try IstioStatsConfiguration(config: typed) } catch {
                    throw context.error(.invalid, "\(filterField).typed_config", "\(error)")
                }
                continue
            }
            before.append(try NetworkFilterConfiguration(filter, field: filterField, context: context, registry: networkRegistry))
        }
        networkFilters = before
        let lastField = "\(field).filters[\(chain.filters.count - 1)]"
        let typeURL = last.typedConfig.typeURL
        if typeURL.hasSuffix("/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager") {
            let manager: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
            do { manager = try .init(unpackingAny: last.typedConfig) } catch {
                throw context.error(.invalid, "\(lastField).typed_config", "cannot decode HttpConnectionManager: \(error)")
            }
            terminal = .http(try HTTPConnectionManagerConfiguration(manager, field: "\(lastField).typed_config", context: context, registry: registry))
        } else if typeURL.hasSuffix("/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy") {
            let proxy: Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy
            do { proxy = try .init(unpackingAny: last.typedConfig) } catch {
                throw context.error(.invalid, "\(lastField).typed_config", "cannot decode TcpProxy: \(error)")
            }
            terminal = .tcp(try TCPProxyConfiguration(proxy, field: "\(lastField).typed_config", context: context))
        } else {
            throw context.error(.unsupported, "\(lastField).typed_config", "terminal network filter \"\(last.name)\" (\(typeURL)) is not supported")
        }
    }
}

/// A network filter that runs before the terminal one.
public struct NetworkFilterConfiguration: Sendable {
    /// The filter's name.
    public var name: String
    /// Its typed configuration.
    public var typedConfig: Google_Protobuf_Any
    /// The factory that validated the configuration and makes the filter for each connection.
    public var factory: any NetworkFilterFactory

    init(_ filter: Envoy_Config_Listener_V3_Filter, field: String, context: ConfigurationContext, registry: NetworkFilterRegistry) throws(ProxyConfigurationError) {
        name = filter.name
        typedConfig = filter.typedConfig
        guard case .typedConfig? = filter.configType else {
            throw context.error(.unsupported, "\(field).config_discovery", "network filter \"\(filter.name)\" needs ECDS, which is not supported")
        }
        guard let type = registry.factory(for: filter.typedConfig) else {
            throw context.error(.unsupported, "\(field).typed_config", "network filter \"\(filter.name)\" (\(filter.typedConfig.typeURL)) is not supported by the Swift proxy before the terminal filter")
        }
        do {
            factory = try type.init(config: filter.typedConfig)
        } catch {
            throw context.error((error as? FilterConfigurationError)?.isUnsupported == true ? .unsupported : .invalid, "\(field).typed_config", "\(error)")
        }
    }
}

/// Envoy's `FilterChainMatch`: the connection properties a chain requires.
public struct FilterChainMatch: Sendable, Hashable {
    /// The destination port, or nil for any.
    public var destinationPort: Int?
    /// Destination address ranges (`prefix_ranges`); empty for any.
    public var destinationRanges: [CIDRRange]
    /// SNI names, exact or `*.suffix`; empty for any.
    public var serverNames: [String]
    /// `raw_buffer` or `tls`; empty for any.
    public var transportProtocol: String
    /// ALPN protocols (`h2`, `http/1.1`, `istio-peer-exchange`, ...); empty for any.
    public var applicationProtocols: [String]
    /// Source address ranges; empty for any.
    public var sourceRanges: [CIDRRange]
    /// Direct source address ranges; empty for any.
    public var directSourceRanges: [CIDRRange]
    /// Source ports; empty for any.
    public var sourcePorts: [Int]
    /// ANY, SAME_IP_OR_LOOPBACK or EXTERNAL.
    public var sourceType: Envoy_Config_Listener_V3_FilterChainMatch.ConnectionSourceType

    /// A match that matches every connection.
    public init() {
        destinationPort = nil
        destinationRanges = []
        serverNames = []
        transportProtocol = ""
        applicationProtocols = []
        sourceRanges = []
        directSourceRanges = []
        sourcePorts = []
        sourceType = .any
    }

    init(_ match: Envoy_Config_Listener_V3_FilterChainMatch, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        self.init()
        destinationPort = match.hasDestinationPort ? Int(match.destinationPort.value) : nil
        destinationRanges = try match.prefixRanges.enumerated().map { (i, r) throws(ProxyConfigurationError) in try CIDRRange(r, field: "\(field).prefix_ranges[\(i)]", context: context) }
        sourceRanges = try match.sourcePrefixRanges.enumerated().map { (i, r) throws(ProxyConfigurationError) in try CIDRRange(r, field: "\(field).source_prefix_ranges[\(i)]", context: context) }
        directSourceRanges = try match.directSourcePrefixRanges.enumerated().map { (i, r) throws(ProxyConfigurationError) in try CIDRRange(r, field: "\(field).direct_source_prefix_ranges[\(i)]", context: context) }
        serverNames = match.serverNames.map { $0.lowercased() }
        for (i, name) in serverNames.enumerated() where name.dropFirst().contains("*") || (name.hasPrefix("*") && !name.hasPrefix("*.")) {
            throw context.error(.invalid, "\(field).server_names[\(i)]", "\"\(name)\" is neither an exact name nor a *.suffix wildcard")
        }
        transportProtocol = match.transportProtocol
        applicationProtocols = match.applicationProtocols
        sourcePorts = match.sourcePorts.map(Int.init)
        sourceType = match.sourceType
    }
}

/// An IP prefix (`10.0.0.0/8`, `::1/128`).
public struct CIDRRange: Sendable, Hashable {
    /// The address bytes (4 or 16).
    public var bytes: [UInt8]
    /// The prefix length in bits.
    public var prefixLength: Int

    init(_ range: Envoy_Config_Core_V3_CidrRange, field: String, context: ConfigurationContext) throws(ProxyConfigurationError) {
        guard let bytes = IPAddressBytes.parse(range.addressPrefix) else {
            throw context.error(.invalid, "\(field).address_prefix", "\"\(range.addressPrefix)\" is not an IP address")
        }
        let length = range.hasPrefixLen ? Int(range.prefixLen.value) : bytes.count * 8
        guard length <= bytes.count * 8 else {
            throw context.error(.invalid, "\(field).prefix_len", "prefix length \(length) is longer than the address")
        }
        self.bytes = bytes
        self.prefixLength = length
    }

    /// Whether `address` (4 or 16 bytes) lies in the range.
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        var remaining = prefixLength
        var index = 0
        while remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if address[index] & mask != bytes[index] & mask { return false }
            remaining -= 8
            index += 1
        }
        return true
    }
}

/// What filter-chain matching knows about a connection.
public struct FilterChainMatchInput: Sendable {
    /// The local (or original destination) port.
    public var destinationPort: Int
    /// The local (or original destination) address bytes.
    public var destinationAddress: [UInt8]
    /// The peer's address bytes.
    public var sourceAddress: [UInt8]
    /// The peer's port.
    public var sourcePort: Int
    /// SNI from the TLS inspector.
    public var serverName: String?
    /// `tls` when the TLS inspector saw a ClientHello, otherwise `raw_buffer`.
    public var transportProtocol: String
    /// ALPN from the TLS inspector, or the HTTP inspector's `http/1.1` / `h2c`.
    public var applicationProtocols: [String]

    /// - Parameters: see the properties.
    public init(destinationPort: Int, destinationAddress: [UInt8] = [], sourceAddress: [UInt8] = [], sourcePort: Int = 0, serverName: String? = nil, transportProtocol: String = "raw_buffer", applicationProtocols: [String] = []) {
        self.destinationPort = destinationPort
        self.destinationAddress = destinationAddress
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.serverName = serverName
        self.transportProtocol = transportProtocol
        self.applicationProtocols = applicationProtocols
    }
}

/// Envoy's filter-chain selection: criteria are applied in a fixed order (destination port,
/// destination IP, server name, transport protocol, application protocols, direct source IP,
/// source type, source IP, source port); at each step the chains with the most specific match
/// survive, and chains that leave the criterion empty survive only when none matches specifically.
enum FilterChainSelector {
    static func select(_ matches: [FilterChainMatch], _ input: FilterChainMatchInput) -> Int? {
        var candidates = Array(matches.indices)
        func narrow(_ score: (FilterChainMatch) -> Int?) {
            // score: nil = excluded, 0 = criterion empty (matches anything), higher = more specific.
            var best = -1
            var kept: [Int] = []
            for index in candidates {
                guard let s = score(matches[index]) else { continue }
                if s > best { best = s; kept = [index] } else if s == best { kept.append(index) }
            }
            candidates = kept
        }
        narrow { m in m.destinationPort == nil ? 0 : (m.destinationPort == input.destinationPort ? 1 : nil) }
        narrow { m in prefixScore(m.destinationRanges, input.destinationAddress) }
        narrow { m in
            if m.serverNames.isEmpty { return 0 }
            guard let sni = input.serverName?.lowercased() else { return nil }
            var best: Int?
            for name in m.serverNames {
                if name == sni { return Int.max }
                if name.hasPrefix("*."), sni.hasSuffix(name.dropFirst()), sni.count > name.count - 1 { best = max(best ?? 0, name.count) }
            }
            return best
        }
        narrow { m in m.transportProtocol.isEmpty ? 0 : (m.transportProtocol == input.transportProtocol ? 1 : nil) }
        narrow { m in
            if m.applicationProtocols.isEmpty { return 0 }
            return m.applicationProtocols.contains(where: input.applicationProtocols.contains) ? 1 : nil
        }
        narrow { m in prefixScore(m.directSourceRanges, input.sourceAddress) }
        narrow { m in
            switch m.sourceType {
            case .any: return 0
            case .sameIpOrLoopback: return isLocal(input) ? 1 : nil
            case .external: return isLocal(input) ? nil : 1
            case .UNRECOGNIZED: return nil
            }
        }
        narrow { m in prefixScore(m.sourceRanges, input.sourceAddress) }
        narrow { m in m.sourcePorts.isEmpty ? 0 : (m.sourcePorts.contains(input.sourcePort) ? 1 : nil) }
        return candidates.first
    }

    private static func prefixScore(_ ranges: [CIDRRange], _ address: [UInt8]) -> Int? {
        if ranges.isEmpty { return 0 }
        var best: Int?
        for range in ranges where range.contains(address) { best = max(best ?? 0, range.prefixLength + 1) }
        return best
    }

    private static func isLocal(_ input: FilterChainMatchInput) -> Bool {
        if input.sourceAddress == input.destinationAddress { return true }
        if input.sourceAddress.count == 4 { return input.sourceAddress[0] == 127 }
        return input.sourceAddress == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// Envoy rejects two chains with the same match.
    static func checkUnique(_ matches: [FilterChainMatch], context: ConfigurationContext) throws(ProxyConfigurationError) {
        var seen: [FilterChainMatch: Int] = [:]
        for (index, match) in matches.enumerated() {
            if let first = seen[match] {
                throw context.error(.invalid, "filter_chains[\(index)].filter_chain_match", "same match as filter_chains[\(first)]; Envoy rejects duplicate filter chain matches")
            }
            seen[match] = index
        }
    }
}

/// Parses textual IPv4 and IPv6 addresses into bytes.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private static func parseIPv6(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var result: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, part.contains("."), let v4 = parse(String(part)) {
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    guard let value = UInt16(part, radix: 16), part.count <= 4 else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
