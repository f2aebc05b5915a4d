#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import NIOCore

/// The `original_dst` listener filter: where a connection was headed before an iptables
/// `REDIRECT` (or `DNAT`) sent it to the proxy, read from the connection's conntrack entry with
/// `SO_ORIGINAL_DST` (`IP6T_SO_ORIGINAL_DST` for IPv6).
enum OriginalDestination {
    /// `SO_ORIGINAL_DST` (linux/netfilter_ipv4.h) and `IP6T_SO_ORIGINAL_DST`
    /// (linux/netfilter_ipv6/ip6_tables.h) share the value 80.
    private static let option: CInt = 80

    /// The connection's original destination, or nil when the kernel has none for it (no
    /// conntrack entry: the connection was not redirected and netfilter does not track it), when
    /// the channel is not a socket, or on a platform without netfilter.
    static func read(from channel: any Channel) -> EventLoopFuture<SocketAddress?> {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        switch channel.localAddress {
        case .v4?:
            let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(option))
            return future.map { address in
                address.sin_family == sa_family_t(AF_INET) ? SocketAddress(address, host: "") : nil
            }.recover { _ in nil }
        case .v6?:
            let future: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(option))
            return future.map { address in
                address.sin6_family == sa_family_t(AF_INET6) ? SocketAddress(address, host: "") : nil
            }.recover { _ in nil }
        default:
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        #else
        return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}

/// The listeners by address, for the connections a `use_original_dst` listener hands over: the
/// bound listeners and the `bind_to_port: false` ones that exist only to receive them.
final class ListenerDirectory: Sendable {
    private let table = NIOLockedValueBox(ListenerAddressTable<ListenerRuntime>([]))

    init() {}

    /// Makes `listeners` the ones connections are handed to.
    func replace(with listeners: some Sequence<ListenerRuntime>) {
        let table = ListenerAddressTable(listeners.map { ($0.address, $0) })
        self.table.withLockedValue { $0 = table }
    }

    /// The listener a restored destination is handed to (``ListenerAddressTable/lookup(_:)``).
    func listener(for address: SocketAddress) -> ListenerRuntime? {
        table.withLockedValue { $0.lookup(address) }
    }
}

/// Listeners by address, looked up as Envoy finds the listener for a restored destination.
struct ListenerAddressTable<Value: Sendable>: Sendable {
    private struct Key: Hashable {
        var ip: [UInt8]
        var port: Int
    }

    private var byAddress: [Key: Value] = [:]

    init(_ entries: [(ListenerAddress, Value)]) {
        var compatible: [(Key, Value)] = []
        for (address, value) in entries {
            guard let ip = IPAddressBytes.parse(address.host) else { continue }
            byAddress[Key(ip: ip, port: address.port)] = value
            // An `ipv4_compat` IPv6 listener also serves its IPv4 form: `::` as `0.0.0.0`,
            // `::ffff:a.b.c.d` as `a.b.c.d`, unless an IPv4 listener has that address itself.
            if address.ipv4Compat, ip.count == 16 {
                if ip.allSatisfy({ $0 == 0 }) {
                    compatible.append((Key(ip: [0, 0, 0, 0], port: address.port), value))
                } else if ip[0..<10].allSatisfy({ $0 == 0 }), ip[10] == 0xff, ip[11] == 0xff {
                    compatible.append((Key(ip: Array(ip[12..<16]), port: address.port), value))
                }
            }
        }
        for (key, value) in compatible where byAddress[key] == nil { byAddress[key] = value }
    }

    /// The listener on exactly `address`, else the one on the wildcard address (`0.0.0.0` or
    /// `::`) of the same family and port; an IPv4 destination also finds an `ipv4_compat` IPv6
    /// listener.
    func lookup(_ address: SocketAddress) -> Value? {
        guard let text = address.ipAddress, let ip = IPAddressBytes.parse(text), let port = address.port else { return nil }
        return byAddress[Key(ip: ip, port: port)] ?? byAddress[Key(ip: [UInt8](repeating: 0, count: ip.count), port: port)]
    }
}
