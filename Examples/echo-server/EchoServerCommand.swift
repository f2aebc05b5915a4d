import ArgumentParser
import Logging
import ServiceLifecycle

/// `echo-server --address HOST:PORT --name NAME`: the test workload every example, test and
/// benchmark uses. It answers every HTTP/1.1 and h2c request with JSON describing the request.
@main
struct EchoServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Answers every HTTP/1.1 and h2c request with JSON holding its name, the request it saw and its address.",
        discussion: """
        GET /status/CODE answers with that status code; /delay/MS waits MS milliseconds first;
        /flaky/N/KEY answers 503 to the first N requests for KEY, then 200; /reset/N/KEY closes
        the connection (resets the HTTP/2 stream) for the first N requests for KEY; ?delay=MS on any
        path waits MS milliseconds before answering. Every response carries
        x-echo-requests, the number of requests this process has answered.
        HTTP/2 is spoken with prior knowledge (h2c) on the same port as HTTP/1.1.
        SIGTERM or SIGINT stops accepting, lets in-flight requests finish and exits 0.
        """
    )

    @Option(help: "The address to listen on, HOST:PORT (port 0 picks a free one).")
    var address: String = "127.0.0.1:8080"

    @Option(help: "The name this server reports in every response.")
    var name: String = "echo"

    @Option(help: "Seconds to wait for open connections to finish on shutdown.")
    var drainTimeout: Int = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "Answer every request with this error status (400-599), e.g. 503 for an unhealthy endpoint.")
    var failStatus: Int?

    func validate() throws {
        guard ListenAddress(address) != nil else {
            throw ValidationError("--address must be HOST:PORT, got \"\(address)\"")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
        if let failStatus, !EchoFailure.isValid(failStatus) {
            throw ValidationError("--fail-status must be an HTTP status from 400 to 599, got \(failStatus)")
        }
    }

    func run() async throws {
        var logger = Logger(label: "echo-server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        guard let listen = ListenAddress(address) else { throw ValidationError("invalid --address") }
        EchoFailure.set(failStatus)
        let server = EchoServer(
            address: listen,
            name: name,
            drainTimeout: .seconds(Int64(drainTimeout)),
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: server,
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    )
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
