import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs Envoy as a child process for as long as the agent runs.
///
/// `run()` starts Envoy, forwards each line it prints with an `[envoy]` prefix (stdout to stdout,
/// stderr to stderr) and returns when Envoy exits, recording its status in ``exitStatus``. On
/// graceful shutdown (SIGTERM/SIGINT to the agent) Envoy gets SIGTERM, and SIGKILL if it is still
/// running `stopTimeout` later; on cancellation it gets SIGKILL at once.
struct EnvoyProcess: Service {
    var executable: String
    var arguments: [String]
    var stopTimeout: Duration
    var logger: Logger
    /// Envoy's exit status once it has exited (128+N when killed by signal N).
    let exitStatus = StatusBox()

    /// A thread-safe slot for the exit status.
    final class StatusBox: Sendable {
        private let value = Mutex<Int32?>(nil)
        var status: Int32? { value.withLock { $0 } }
        func set(_ status: Int32) { value.withLock { $0 = status } }
    }

    func run() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let (exits, continuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            let status = finished.terminationReason == .uncaughtSignal ? 128 + finished.terminationStatus : finished.terminationStatus
            continuation.yield(status)
            continuation.finish()
        }
        let forwarders = DispatchGroup()
        LineForwarder.start(stdout.fileHandleForReading, prefix: "[envoy] ", to: .standardOutput, group: forwarders)
        LineForwarder.start(stderr.fileHandleForReading, prefix: "[envoy] ", to: .standardError, group: forwarders)
        do {
            try Self.spawnWithDefaultSignalMask(process)
        } catch {
            throw AgentError(.envoyStart, "could not start \(executable): \(error)")
        }
        // The parent's copies of the write ends must close so the forwarders see end-of-file.
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        let pid = process.processIdentifier
        logger.info("started envoy", metadata: ["pid": "\(pid)", "binary": "\(executable)"])

        let exited = StatusBox()
        let stopTimeout = self.stopTimeout
        let logger = self.logger
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await status in exits {
                    exited.set(status)
                    exitStatus.set(status)
                }
            } onGracefulShutdown: {
                logger.info("stopping envoy", metadata: ["pid": "\(pid)"])
                kill(pid, SIGTERM)
                Task.detached {
                    try? await Task.sleep(for: stopTimeout)
                    if exited.status == nil {
                        logger.warning("envoy did not stop within \(stopTimeout); killing it", metadata: ["pid": "\(pid)"])
                        kill(pid, SIGKILL)
                    }
                }
            }
        } onCancel: {
            if exited.status == nil { kill(pid, SIGKILL) }
        }
        // Let the last lines through, but never hang on a pipe a grandchild still holds.
        _ = forwarders.wait(timeout: .now() + 2)
        logger.info("envoy exited", metadata: ["status": "\(exitStatus.status ?? -1)"])
    }
}

extension EnvoyProcess {
    /// Starts `process` with no blocked signals.
    ///
    /// Swift concurrency's threads run with most signals blocked, and a spawned process inherits
    /// the spawning thread's mask: Envoy would never see the SIGTERM that asks it to stop.
    static func spawnWithDefaultSignalMask(_ process: Process) throws {
        var empty = sigset_t()
        var previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }
}

/// Copies a pipe to one of the agent's outputs line by line, prefixing each line.
enum LineForwarder {
    /// Starts a thread that forwards `source` until end-of-file; it leaves `group` when done.
    static func start(_ source: FileHandle, prefix: String, to destination: FileHandle, group: DispatchGroup) {
        group.enter()
        let thread = Thread {
            var pending = Data()
            let prefixData = Data(prefix.utf8)
            while true {
                let chunk = source.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = prefixData
                    line.append(pending[pending.startIndex...newline])
                    destination.write(line)
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty {
                var line = prefixData
                line.append(pending)
                line.append(UInt8(ascii: "\n"))
                destination.write(line)
            }
            group.leave()
        }
        thread.start()
    }
}
