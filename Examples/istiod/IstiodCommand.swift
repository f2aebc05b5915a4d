import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MeshCA
import MeshCore
import MeshXDS
import ServiceLifecycle

/// `istiod`: serves ADS for a folder of Istio YAML and follows its edits.
@main
struct IstiodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "istiod",
        abstract: "The SwiftMesh control plane: Istio config from a folder, served to proxies over xDS (ADS)."
    )

    @Option(name: .customLong("config-dir"), help: "Folder of Istio YAML/JSON, followed for edits, additions and deletions.")
    var configDir: String

    @Option(name: .customLong("mesh-config"), help: "Istio MeshConfig file.")
    var meshConfig: String?

    @Option(name: .customLong("xds-address"), help: "Plaintext xDS (ADS) address.")
    var xdsAddress = "127.0.0.1:15010"

    @Option(name: .customLong("debug-address"), help: "Address of /ready and the /debug endpoints.")
    var debugAddress = "127.0.0.1:8080"

    @Option(name: .customLong("domain"), help: "Cluster DNS suffix short host names resolve under.")
    var domain = "cluster.local"

    @Option(name: .customLong("poll-interval"), help: "How often the config folder is rescanned, in milliseconds.")
    var pollIntervalMilliseconds = 500

    @Option(name: .customLong("log-level"), help: "trace, debug, info, warning or error.")
    var logLevel = "info"

    @Option(name: .customLong("ca-dir"), help: "CA folder in Istio's cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); a self-signed root is created there when it is empty. Enables --secure-address.")
    var caDir: String?

    @Option(name: .customLong("trust-domain"), help: "The SPIFFE trust domain of issued certificates.")
    var trustDomain = "cluster.local"

    @Option(name: .customLong("bootstrap-token-file"), help: "Bootstrap tokens for the CA, one per line: TOKEN spiffe://<td>/ns/<ns>/sa/<sa or *>.")
    var bootstrapTokenFile: String?

    @Option(name: .customLong("secure-address"), help: "xDS (ADS) and the CA over TLS (needs --ca-dir).")
    var secureAddress = "127.0.0.1:15012"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "istiod")
        let (xdsHost, xdsPort) = try Self.split(xdsAddress, option: "--xds-address")
        let (debugHost, debugPort) = try Self.split(debugAddress, option: "--debug-address")

        var mesh = MeshConfig.defaults
        if let meshConfig {
            guard let text = try? String(contentsOfFile: meshConfig, encoding: .utf8) else {
                throw ValidationError("cannot read mesh config \(meshConfig)")
            }
            do {
                mesh = try MeshConfig.load(text, file: meshConfig)
            } catch {
                throw ValidationError("mesh config rejected:\n\(error)")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configDir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--config-dir \(configDir) is not a folder")
        }

        // Secrets (gateway credentials) are checked with swift-certificates: a certificate that
        // does not parse or a key that does not match rejects the file, keeping its last good version.
        let store = DirectoryConfigStore(directory: configDir, mesh: mesh, logger: Logger(label: "istiod.config"), validators: [TLSSecretValidator()])
        let initial = await store.reload()
        logger.info("loaded \(configDir): \(initial.acceptedFiles.count) file(s) accepted, \(initial.rejectedFiles.count) rejected")

        var options = TranslationOptions()
        options.domainSuffix = domain
        if mesh.outboundTrafficPolicy?.mode == .REGISTRY_ONLY { options.outboundTrafficMode = .registryOnly }
        options.accessLog = MeshAccessLog(mesh: mesh)
        let cache = SnapshotCache()
        // Proxies on the secure port (client certificate verified) read their own cache, the only
        // one holding secrets.
        let verifiedCache: SnapshotCache? = caDir == nil ? nil : SnapshotCache()
        let producer = IstioSnapshotProducer(
            store: store, mesh: mesh, options: options, cache: cache, logger: Logger(label: "istiod.push"), verifiedCache: verifiedCache)
        let ads = AggregatedDiscoveryServer(watcher: cache, callbacks: producer.callbacks)
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: xdsHost, port: xdsPort), transportSecurity: .plaintext)
        let grpcServer = GRPCServer(transport: transport, services: [ads])

        var security: IstiodSecurity?
        if let caDir, let verifiedCache {
            let trustDomain = self.trustDomain
            security = try IstiodSecurity.make(
                caDirectory: caDir, trustDomain: trustDomain, tokenFile: bootstrapTokenFile,
                secureAddress: try Self.split(secureAddress, option: "--secure-address"),
                ads: { peers in
                    AggregatedDiscoveryServer(
                        watcher: verifiedCache,
                        callbacks: producer.verifiedCallbacks { connection in
                            IstiodSecurity.verifiedIdentity(peers.chain(forPeer: connection.peer), trustDomain: trustDomain)
                        },
                        registry: ads.registry)
                },
                logger: logger)
        }

        let state = IstiodState(store: store, producer: producer, ads: ads, mesh: mesh)
        let debug = DebugServer(host: debugHost, port: debugPort, logger: Logger(label: "istiod.debug")) { path, query in
            await state.respond(path: path, query: query)
        }
        var services: [any Service] = [
            FunctionService(name: "config-watch") { try await store.run(pollInterval: .milliseconds(pollIntervalMilliseconds)) },
            FunctionService(name: "push") { await producer.run() },
            XDSService(server: grpcServer, ads: ads, logger: logger),
            debug,
        ]
        if let security {
            services.append(IstiodSecurity.SecureServerService(server: security.server, ads: security.ads))
            logger.info("istiod serving ADS and the CA over TLS on \(security.host):\(security.port)")
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("istiod serving ADS on \(xdsHost):\(xdsPort), debug on \(debugHost):\(debugPort)")
        try await group.run()
        logger.info("istiod stopped")
    }

    static func split(_ address: String, option: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(option) must be HOST:PORT, got \"\(address)\"")
        }
        return (String(address[..<colon]), port)
    }
}

/// A `Service` around an async function; cancelled on graceful shutdown.
struct FunctionService: Service {
    var name: String
    var body: @Sendable () async throws -> Void

    init(name: String, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.body = body
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await body()
            }
        } catch is CancellationError {
            // Stopped by graceful shutdown: a clean end.
        }
    }
}

/// The gRPC server as a `Service`: on graceful shutdown it closes the ADS streams and drains.
struct XDSService: Service {
    var server: GRPCServer<HTTP2ServerTransport.Posix>
    var ads: AggregatedDiscoveryServer
    var logger: Logger

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            Task {
                await ads.closeAllStreams()
                server.beginGracefulShutdown()
            }
        }
    }
}
