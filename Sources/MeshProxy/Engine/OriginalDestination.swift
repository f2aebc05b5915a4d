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
    private struct Key: Hashable {
        var ip: [UInt8]
        var port: Int
    }

    private let byAddress = NIOLockedValueBox<[Key: ListenerRuntime]>([:])

    init() {}

    /// Makes `listeners` the ones connections are handed to.
    func replace(with listeners: some Sequence<ListenerRuntime>) {
        var table: [Key: ListenerRuntime] = [:]
        for listener in listeners {
            guard let ip = IPAddressBytes.parse(listener.address.host) else { continue }
            table[Key(ip: ip, port: listener.address.port)] = listener
        }
        byAddress.withLockedValue { $0 = table }
    }

    /// Envoy's lookup for a restored destination: the listener on exactly that address, else the
    /// one on the wildcard address (`0.0.0.0` or `::`) of the same family and port.
    func listener(for address: SocketAddress) -> ListenerRuntime? {
        guard let text = address.ipAddress, let ip = IPAddressBytes.parse(text), let port = address.port else { return nil }
        return byAddress.withLockedValue { table in
            table[Key(ip: ip, port: port)] ?? table[Key(ip: [UInt8](repeating: 0, count: ip.count), port: port)]
        }
    }
}
