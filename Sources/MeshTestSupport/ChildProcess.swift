public import Foundation

/// A process started by a test: its output is collected, it can be signalled and awaited with a
/// bound, and it is killed when the value is released if it is still running.
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""
    private var finished = false
    /// The exit status, once seen (from Foundation or the kernel).
    private var seenExitStatus: Int32?
    /// Counts the outputs that reached their end; the reader threads hold it strongly, so the
    /// count goes on while the process is being released.
    private let pipeEnds = PipeEnds()
    private let outputPipes: (out: Pipe, err: Pipe)

    /// Starts `executable` with `arguments` (and `environment` added to the test's own).
    ///
    /// The child starts with no blocked signals, whatever thread the test runs on, so that
    /// SIGTERM and SIGINT reach it.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        outputPipes = (out, err)
        process.standardOutput = out
        process.standardError = err
        Self.startReading(out.fileHandleForReading, into: self, ends: pipeEnds, standardError: false)
        Self.startReading(err.fileHandleForReading, into: self, ends: pipeEnds, standardError: true)
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { self.finished = true }
        }
        var empty = sigset_t(), previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Reads one output pipe to its end on a thread of its own, with blocking reads.
    ///
    /// Not `readabilityHandler`: its dispatch source delivered only the first 16 KiB of a large
    /// output when the process exited on a loaded machine, and closing a descriptor a source still
    /// watches crashes libdispatch. The thread holds the handle until the end of the output (when
    /// every writer, grandchildren included, has closed it), so the descriptor is never closed
    /// under it.
    private static func startReading(_ handle: FileHandle, into process: ChildProcess, ends: PipeEnds, standardError: Bool) {
        let thread = Thread { [weak process] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                process?.append(data, toStandardError: standardError)
            }
            ends.reached()
        }
        thread.name = "ChildProcess output"
        thread.start()
    }

    /// A process still running when released gets SIGTERM, so that it can stop what it started
    /// (an agent stops its proxy), and SIGKILL if it is still running 5 seconds later. The
    /// release waits (at most 2 seconds) for the end of both outputs.
    deinit {
        // A process that never started (run() threw) has pid 0, and kill(0, ...) would signal the whole group.
        guard process.processIdentifier > 0 else { return }
        if !hasExited {
            kill(process.processIdentifier, SIGTERM)
            for _ in 0..<250 where !hasExited { usleep(20_000) }
            if !hasExited { kill(process.processIdentifier, SIGKILL) }
        }
        for _ in 0..<100 where pipeEnds.count < 2 { usleep(20_000) }
    }


    private func append(_ data: Data, toStandardError: Bool) {
        let text = String(decoding: data, as: UTF8.self)
        lock.withLock {
            if toStandardError { stderrText += text } else { stdoutText += text }
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Everything the process wrote to standard output so far.
    public var standardOutput: String { lock.withLock { stdoutText } }

    /// Everything the process wrote to standard error so far.
    public var standardError: String { lock.withLock { stderrText } }

    /// Both outputs, for failure messages.
    public var output: String { lock.withLock { "stdout:\n\(stdoutText)\nstderr:\n\(stderrText)" } }

    /// Whether the process has exited.
    public var hasExited: Bool { exitStatus != nil }

    /// The exit status (128+N if killed by signal N) once the process has exited.
    ///
    /// Foundation learns of the exit only when a socket it gives the child reaches its end. A
    /// process that another test spawns at the same moment can inherit that socket (Foundation
    /// picks the descriptors to close before it spawns, and a concurrent `run()` opens new ones
    /// in between), and then the exit goes unnoticed until that other process ends too. So the
    /// exit is also read from the kernel, without reaping the child, which stays Foundation's to
    /// reap.
    private var exitStatus: Int32? {
        if let status = lock.withLock({ seenExitStatus }) { return status }
        let status: Int32?
        if lock.withLock({ finished }) {
            status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        } else {
            status = kernelExitStatus()
        }
        // Kept: once Foundation reaps the child (and before its handler runs) the kernel no
        // longer knows it, and the pid may be reused.
        if let status { lock.withLock { seenExitStatus = status } }
        return status
    }

    /// The child's exit status if it has exited and is not reaped yet; the child stays unreaped.
    private func kernelExitStatus() -> Int32? {
        #if canImport(Glibc)
        let pid = process.processIdentifier
        guard pid > 0 else { return nil }
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid else {
            return nil
        }
        let status = info._sifields._sigchld.si_status
        return info.si_code == CLD_EXITED ? status : 128 + status
        #else
        return nil
        #endif
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        if !hasExited, process.processIdentifier > 0 { kill(process.processIdentifier, signal) }
    }

    /// Waits up to `timeout` for the process to exit; returns its status (128+N if killed by
    /// signal N), or nil if it is still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var status = exitStatus
        while status == nil {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
            status = exitStatus
        }
        // Output still in the pipes arrives shortly after the exit (bounded: a grandchild may hold them).
        let drained = ContinuousClock.now + .seconds(2)
        while pipeEnds.count < 2, ContinuousClock.now < drained {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return status
    }

    /// Waits up to `timeout` until standard output or error contains `text`.
    public func waitForOutput(containing text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if standardOutput.contains(text) || standardError.contains(text) { return true }
            if hasExited { return standardOutput.contains(text) || standardError.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Sends SIGTERM to each of `processes` (in order), waits up to `grace` for all of them to exit,
    /// then SIGKILLs the rest. Blocks the calling thread. Waiting matters for agents: one that is
    /// still stopping its proxy when the test process exits loses its output pipes, dies of
    /// SIGPIPE on its next log line and leaves the proxy running.
    public static func terminate(_ processes: [ChildProcess], grace: Duration = .seconds(10)) {
        for process in processes { process.send(SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while processes.contains(where: { !$0.hasExited }), ContinuousClock.now < deadline { usleep(20_000) }
        for process in processes { process.send(SIGKILL) }
    }

    /// Sends SIGTERM, waits up to `timeout`, then SIGKILL; returns the exit status if it stopped in time.
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) async -> Int32? {
        send(SIGTERM)
        if let status = await waitForExit(timeout: timeout) { return status }
        await forceKill()
        return nil
    }

    /// Kills the process (SIGKILL) if it is running and waits briefly for it.
    public func forceKill() async {
        send(SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
    }

    /// Runs a command to completion (killing it after `timeout`) and returns its status and output.
    public static func run(_ executable: URL, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(executable, arguments)
        guard let status = await child.waitForExit(timeout: timeout) else {
            await child.forceKill()
            return (-1, child.standardOutput, child.standardError + "\n(killed after \(timeout))")
        }
        return (status, child.standardOutput, child.standardError)
    }
}

/// The number of a child's outputs that reached their end.
private final class PipeEnds: @unchecked Sendable {
    private let lock = NSLock()
    private var ended = 0

    func reached() { lock.withLock { ended += 1 } }
    var count: Int { lock.withLock { ended } }
}
