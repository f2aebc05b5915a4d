#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore

/// Binds a throwaway TCP socket (with `SO_REUSEADDR`, as listeners bind) to learn whether an
/// address can be listened on.
enum BindProbe {
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
