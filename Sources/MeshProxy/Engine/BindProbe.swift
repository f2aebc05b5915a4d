#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Binds a throwaway TCP socket (with the options listeners bind with) to learn whether an
/// address can be listened on.
enum BindProbe {
    /// `SO_REUSEPORT`, which Envoy sets on listeners by default on Linux (`enable_reuse_port`):
    /// a listener on `0.0.0.0:P` and one on `10.0.0.1:P` can then both be bound, as with Envoy.
    static let reusePort = ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_REUSEPORT))
    #if os(Linux)
    static let reusePortValue: SocketOptionValue = 1
    #else
    /// Off elsewhere: macOS's `SO_REUSEPORT` does not share a port's connections as Linux's does.
    static let reusePortValue: SocketOptionValue = 0
    #endif

    /// The error text (`Address already in use` ...), or nil when the address can be bound.
    static func failure(host: String, port: Int, ipv4Compat: Bool = false) -> String? {
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: host, port: port) } catch { return "\(error)" }
        #if canImport(Glibc) || canImport(Musl)
        let family: CInt = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        var one: CInt = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var reusePort = reusePortValue
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reusePort, socklen_t(MemoryLayout<CInt>.size))
        if family == AF_INET6 {
            // As the listener will bind (``ListenerRuntime/start(group:)``).
            var v6Only: CInt = ipv4Compat ? 0 : 1
            _ = setsockopt(fd, CInt(IPPROTO_IPV6), IPV6_V6ONLY, &v6Only, socklen_t(MemoryLayout<CInt>.size))
        }
        let result = address.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
        return result == 0 ? nil : String(cString: strerror(errno))
        #else
        return nil
        #endif
    }
}
