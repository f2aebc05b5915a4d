import ArgumentParser
import Logging
import MeshProxy
import MeshXDS
import ServiceLifecycle

/// `stamp-proxy`: the Swift proxy with two extra HTTP filters (``RequestStampFilterFactory`` on
/// requests, ``ResponseRedactFilterFactory`` on responses) and a network filter
/// (``ConnectionQuotaFilterFactory``), driven by any xDS control plane. It shows how an embedder
/// builds their own proxy: take the standard filter registries, register their factories, run
/// ``ProxyServer``.
@main
struct StampProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp-proxy",
        abstract: "The Swift proxy with example request-stamp and response-redact HTTP filters and a connection-quota network filter.")

    @Option(help: "The node id (Istio form: sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local).")
    var nodeID: String

    @Option(help: "The xDS (ADS) server, HOST:PORT.")
    var xds: String

    @Option(help: "Admin endpoint, HOST:PORT.")
    var admin: String = "127.0.0.1:15000"

    func run() async throws {
        var logger = Logger(label: "stamp-proxy")
        logger.logLevel = .info
        guard let (xdsHost, xdsPort) = Self.split(xds), let (adminHost, adminPort) = Self.split(admin) else {
            throw ValidationError("--xds and --admin must be HOST:PORT")
        }
        var filters = HTTPFilterRegistry.standard
        filters.register(RequestStampFilterFactory.self)
        filters.register(ResponseRedactFilterFactory.self)
        var node = Envoy_Config_Core_V3_Node()
        node.id = nodeID
        var configuration = ProxyServer.Configuration(node: node, xdsHost: xdsHost, xdsPort: xdsPort, adminHost: adminHost, adminPort: adminPort, httpFilters: filters)
        configuration.networkFilters.register(ConnectionQuotaFilterFactory.self)
        let proxy = ProxyServer(configuration: configuration, logger: logger)
        try await ServiceGroup(services: [proxy], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }

    static func split(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), port)
    }
}
