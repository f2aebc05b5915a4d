import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system resolver (`getaddrinfo`), run on NIO's blocking-I/O thread pool so that neither an
/// event loop nor a cooperative thread blocks on a lookup.
enum SystemHostResolver {
    /// The addresses of `hostname` allowed by `family`, in the resolver's order, without
    /// duplicates; empty when the name does not resolve. An IP literal resolves to itself.
    /// - Parameters:
    ///   - hostname: The name to resolve.
    ///   - family: The cluster's `dns_lookup_family`.
    static func resolve(_ hostname: String, family: ClusterConfiguration.DNSLookupFamily) async -> [String] {
        if IPAddressLiteral.isValid(hostname) { return select([hostname], family: family) }
        let all = (try? await NIOThreadPool.singleton.runIfActive { lookup(hostname) }) ?? []
        return select(all, family: family)
    }

    /// Envoy's `dns_lookup_family` rules over a mixed IPv4/IPv6 answer: `V4_ONLY`, `V6_ONLY`,
    /// `AUTO` (IPv6, else IPv4), `V4_PREFERRED` (IPv4, else IPv6) and `ALL` (IPv4 then IPv6).
    /// - Parameters:
    ///   - addresses: IP literals.
    ///   - family: The lookup family.
    static func select(_ addresses: [String], family: ClusterConfiguration.DNSLookupFamily) -> [String] {
        let v4 = addresses.filter { !$0.contains(":") }
        let v6 = addresses.filter { $0.contains(":") }
        switch family {
        case .v4Only: return v4
        case .v6Only: return v6
        case .auto: return v6.isEmpty ? v4 : v6
        case .v4Preferred: return v4.isEmpty ? v6 : v4
        case .all: return v4 + v6
        }
    }

    private static func lookup(_ hostname: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(hostname, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        // getaddrinfo's list is finite; the bound only guards against a corrupt list.
        var remaining = 1024
        while let info = cursor, remaining > 0 {
            remaining -= 1
            if let address = info.pointee.ai_addr, let text = numericHost(address, length: info.pointee.ai_addrlen),
               !addresses.contains(text) {
                addresses.append(text)
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }

    private static func numericHost(_ address: UnsafeMutablePointer<sockaddr>, length: socklen_t) -> String? {
        var buffer = [CChar](repeating: 0, count: 1025)
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// The hosts of a `STRICT_DNS` or `LOGICAL_DNS` cluster from its `load_assignment` and the
/// latest answers, with Envoy's semantics.
enum DNSClusterHosts {
    /// The hostnames of `set` that need resolving (IP literals are used as they are).
    static func hostnames(of set: EndpointSet) -> [String] {
        var names: [String] = []
        for locality in set.localities {
            for endpoint in locality.endpoints {
                if case .socket(let host, _) = endpoint.address, !names.contains(host) { names.append(host) }
            }
        }
        return names
    }

    /// The resolved set: in a `STRICT_DNS` cluster every address of every endpoint's hostname is a
    /// host; in a `LOGICAL_DNS` cluster only the first address is (its single logical host). Each
    /// host keeps the endpoint's weight, health and metadata, and as its hostname the endpoint's
    /// `hostname`, or the DNS name when that is empty (used by `auto_host_rewrite` and
    /// `use_hostname_for_hashing`). A hostname without addresses contributes no host.
    /// - Parameters:
    ///   - set: The inline `load_assignment`.
    ///   - logical: `LOGICAL_DNS`.
    ///   - addresses: The addresses per hostname.
    static func resolved(_ set: EndpointSet, logical: Bool, addresses: [String: [String]]) -> EndpointSet {
        var result = set
        for index in result.localities.indices {
            var endpoints: [UpstreamEndpoint] = []
            for endpoint in set.localities[index].endpoints {
                guard case .socket(let name, let port) = endpoint.address else { continue }
                var found = addresses[name] ?? []
                if logical { found = Array(found.prefix(1)) }
                for address in found {
                    var host = endpoint
                    host.address = .socket(host: address, port: port)
                    if host.hostname.isEmpty, !IPAddressLiteral.isValid(name) { host.hostname = name }
                    endpoints.append(host)
                }
            }
            result.localities[index].endpoints = endpoints
        }
        return result
    }
}

/// The re-resolution state of a DNS cluster.
struct DNSResolutionState {
    /// The refresh loop; nil for other cluster types.
    var task: Task<Void, Never>?
    /// The latest non-empty answer per hostname: a failed lookup keeps these, as Envoy keeps the
    /// last hosts.
    var lastAddresses: [String: [String]] = [:]
    /// With `dns_failure_refresh_rate`: the backoff interval bound for the next failed
    /// resolution in a row (milliseconds); nil after a success.
    var nextFailureInterval: UInt64?
}

extension ClusterConfiguration.Discovery {
    /// The inline endpoints and resolution settings of a DNS cluster, and whether it is `LOGICAL_DNS`.
    var dnsResolution: (EndpointSet, ClusterConfiguration.DNSResolution, logical: Bool)? {
        switch self {
        case .strictDNS(let set, let resolution): return (set, resolution, logical: false)
        case .logicalDNS(let set, let resolution): return (set, resolution, logical: true)
        default: return nil
        }
    }
}

extension ClusterRuntime {
    /// Starts (or restarts, after a configuration change) re-resolving a DNS cluster's hostnames
    /// every `dns_refresh_rate`; stops it for other cluster types. `respect_dns_ttl` cannot take
    /// effect: the system resolver reports no TTL, so the refresh rate applies.
    func restartDNSResolution() {
        guard configuration.discovery.dnsResolution != nil else {
            stopDNSResolution()
            return
        }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                guard let interval = await self?.refreshDNS() else { return }
                try? await Task.sleep(for: interval)
            }
        }
        dnsResolution.withLockedValue { state in
            state.task?.cancel()
            state.task = task
        }
    }

    /// Ends the refresh loop.
    func stopDNSResolution() {
        dnsResolution.withLockedValue { state in
            state.task?.cancel()
            state.task = nil
        }
    }

    /// Resolves every hostname once and applies the hosts; returns the time until the next
    /// refresh, or nil when the cluster is not a DNS cluster.
    @discardableResult
    func refreshDNS(resolver: (String, ClusterConfiguration.DNSLookupFamily) async -> [String] = SystemHostResolver.resolve) async -> Duration? {
        let discovery = configuration.discovery
        guard let dns = discovery.dnsResolution else { return nil }
        let (set, resolution, logical) = dns
        var addresses = dnsResolution.withLockedValue { $0.lastAddresses }
        var failed = false
        for name in DNSClusterHosts.hostnames(of: set) {
            let found = await resolver(name, resolution.lookupFamily)
            if found.isEmpty { failed = true } else { addresses[name] = found }
        }
        let hosts = DNSClusterHosts.resolved(set, logical: logical, addresses: addresses)
        let next: Duration = dnsResolution.withLockedValue { state in
            state.lastAddresses = addresses
            return Self.nextRefresh(resolution, failed: failed, &state.nextFailureInterval)
        }
        // A configuration change while resolving restarts the loop, which resolves the new names.
        guard configuration.discovery == discovery else { return next }
        if hosts != upstream.endpoints { upstream.update(endpoints: hosts) }
        return next
    }

    /// The wait before the next resolution, as Envoy's DNS clusters choose it: `dns_refresh_rate`
    /// after a success; after a failure, with `dns_failure_refresh_rate`, Envoy's jittered
    /// exponential backoff (`random % interval`, the interval doubling from `base_interval` up to
    /// `max_interval`, reset by a success), else `dns_refresh_rate` too.
    static func nextRefresh(_ resolution: ClusterConfiguration.DNSResolution, failed: Bool, _ nextFailureInterval: inout UInt64?,
                            random: () -> UInt64 = { FastRandom.next() }) -> Duration {
        guard failed, let failure = resolution.failureRefresh else {
            nextFailureInterval = nil
            return resolution.refreshRate
        }
        let maximum = failure.max.millisecondCount
        let interval = min(nextFailureInterval ?? failure.base.millisecondCount, maximum)
        nextFailureInterval = interval < maximum / 2 ? interval * 2 : maximum
        return .milliseconds(Int64(random() % interval))
    }
}

/// What an `ORIGINAL_DST` cluster takes its destination from: the downstream connection's local
/// address and, with `use_http_header`, the request headers.
///
/// Under iptables capture the local address is the one the `original_dst` listener filter restored
/// (`SO_ORIGINAL_DST`); a connection that reached a listener directly has its own.
struct DownstreamDestination {
    /// The downstream connection's local address (restored by `original_dst` when captured).
    var localAddress: SocketAddress?
    /// The request headers (HTTP only).
    var headers: HTTPHeaders?

    /// The upstream address for `options`: the `http_header_name` header's `IP:port` when
    /// `use_http_header` is set and the header is present, else the local address. `.invalid`
    /// for a present header that is not a single `IP:port` (Envoy answers no host then).
    func address(options: ClusterConfiguration.OriginalDestinationOptions) -> Resolution {
        if options.useHTTPHeader, let headers {
            let values = headers[options.httpHeaderName]
            if !values.isEmpty {
                guard values.count == 1, let address = Self.parseIPAndPort(values[0]) else { return .invalid }
                return .address(address)
            }
        }
        guard let local = localAddress, let ip = local.ipAddress, let port = local.port else { return .none }
        return .address(.socket(host: ip, port: port))
    }

    /// The outcome of ``address(options:)``.
    enum Resolution: Equatable {
        case address(EndpointAddress)
        case invalid
        case none
    }

    /// `1.2.3.4:80` or `[::1]:80` (a port is required, as Envoy's parser requires).
    static func parseIPAndPort(_ value: String) -> EndpointAddress? {
        let text = value.trimmingASCIIWhitespace()
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard IPAddressLiteral.isValid(String(host)), let port = Int(portText), (1...65535).contains(port) else { return nil }
        return .socket(host: String(host), port: port)
    }
}

private extension String {
    func trimmingASCIIWhitespace() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
