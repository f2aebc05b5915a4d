#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers

/// One access log destination (a file, standard output or standard error), shared by every
/// logger writing there, as Envoy's access log manager shares files. Lines are appended to a
/// buffer under a lock, never written on the caller's thread: a background thread writes the
/// buffer every second, or sooner once 64 KiB are waiting. The buffer is bounded (16 MiB):
/// lines beyond it are dropped and counted rather than block an event loop. The file is opened
/// for appending and created if missing; ``reopen()`` (Envoy's `/reopen_logs`) reopens it at the
/// next write, after a log rotation.
public final class AccessLogFile: Sendable {
    /// Where lines go.
    public enum Destination: Sendable, Hashable, CustomStringConvertible {
        /// A file, opened `O_APPEND | O_CREAT`.
        case path(String)
        /// Standard output (`envoy.access_loggers.stdout`).
        case standardOutput
        /// Standard error (`envoy.access_loggers.stderr`).
        case standardError

        public var description: String {
            switch self {
            case .path(let path): path
            case .standardOutput: "stdout"
            case .standardError: "stderr"
            }
        }
    }

    /// Bytes waiting before the flusher is woken early (Envoy's minimum flush size).
    static let flushSize = 64 * 1024
    /// Bytes kept at most; further lines are dropped until the flusher catches up.
    static let bufferLimit = 16 * 1024 * 1024

    private struct State {
        var buffer: [UInt8] = []
        var dropped = 0
    }

    private struct FileState {
        var descriptor: Int32 = -1
        var reopenRequested = false
    }

    /// The destination.
    public let destination: Destination
    private let state = NIOLockedValueBox(State())
    /// Held while writing to the descriptor (by the flusher, or by ``flush()``).
    private let file = NIOLockedValueBox(FileState())

    private init(destination: Destination) {
        self.destination = destination
    }

    /// The shared file for `destination`, opened on first use.
    /// - Throws: ``AccessLogFileError`` when the file cannot be opened for appending.
    public static func shared(_ destination: Destination) throws(AccessLogFileError) -> AccessLogFile {
        try AccessLogFlusher.shared.file(for: destination)
    }

    /// Opens the destination (files only); the descriptor is kept for later writes.
    fileprivate func openDestination() throws(AccessLogFileError) {
        let descriptor = try Self.openDescriptor(destination)
        file.withLockedValue { $0.descriptor = descriptor }
    }

    private static func openDescriptor(_ destination: Destination) throws(AccessLogFileError) -> Int32 {
        switch destination {
        case .standardOutput: return STDOUT_FILENO
        case .standardError: return STDERR_FILENO
        case .path(let path):
            let fd = posixOpen(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw AccessLogFileError(path: path, errno: errno) }
            return fd
        }
    }

    /// Queues `line` (which carries its newline); never blocks on I/O.
    public func write(_ line: String) {
        let wake = state.withLockedValue { state -> Bool in
            let count = line.utf8.count
            guard state.buffer.count + count <= Self.bufferLimit else {
                state.dropped += 1
                return false
            }
            let before = state.buffer.count
            state.buffer.append(contentsOf: line.utf8)
            return before < Self.flushSize && state.buffer.count >= Self.flushSize
        }
        if wake { AccessLogFlusher.shared.wake() }
    }

    /// Lines dropped because the buffer was full.
    public var droppedLines: Int { state.withLockedValue { $0.dropped } }

    /// Asks for the file to be reopened before the next write (after the file was rotated).
    public func reopen() {
        file.withLockedValue { $0.reopenRequested = true }
    }

    /// Writes what is buffered now, on the calling thread (the flusher, or a test).
    public func flush() {
        file.withLockedValue { fileState in
            let pending = state.withLockedValue { state -> [UInt8] in
                var taken: [UInt8] = []
                swap(&taken, &state.buffer)
                return taken
            }
            if fileState.reopenRequested, case .path = destination {
                fileState.reopenRequested = false
                if fileState.descriptor >= 0 { close(fileState.descriptor) }
                fileState.descriptor = (try? Self.openDescriptor(destination)) ?? -1
            }
            guard !pending.isEmpty else { return }
            if fileState.descriptor < 0 { fileState.descriptor = (try? Self.openDescriptor(destination)) ?? -1 }
            guard fileState.descriptor >= 0 else { return }
            pending.withUnsafeBytes { raw in
                var offset = 0
                // Bounded: each round writes at least one byte or stops.
                while offset < raw.count {
                    let written = posixWrite(fileState.descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written > 0 { offset += written; continue }
                    if written < 0 && errno == EINTR { continue }
                    break
                }
            }
        }
    }
}

/// An access log file that cannot be opened.
public struct AccessLogFileError: Error, Sendable, CustomStringConvertible {
    /// The path.
    public var path: String
    /// The `errno` of `open`.
    public var errno: Int32

    public var description: String { "cannot open access log file \(path): \(String(cString: strerror(errno)))" }
}

/// The process's access log files and the one thread that writes them.
final class AccessLogFlusher: Sendable {
    static let shared = AccessLogFlusher()

    private let files = NIOLockedValueBox([AccessLogFile.Destination: AccessLogFile]())
    /// 1 when the thread should flush before its next tick.
    private let signal = ConditionLock(value: 0)

    private init() {
        let thread = Thread { [self] in self.run() }
        thread.name = "access-log-flush"
        thread.start()
    }

    func file(for destination: AccessLogFile.Destination) throws(AccessLogFileError) -> AccessLogFile {
        if let existing = files.withLockedValue({ $0[destination] }) { return existing }
        let file = AccessLogFile.makeForFlusher(destination)
        try file.openForFlusher()
        return files.withLockedValue { files in
            if let existing = files[destination] { return existing }
            files[destination] = file
            return file
        }
    }

    /// Every file, for `/reopen_logs`.
    var allFiles: [AccessLogFile] { files.withLockedValue { Array($0.values) } }

    func wake() {
        signal.lock()
        signal.unlock(withValue: 1)
    }

    private func run() {
        // Runs for the life of the process, like Envoy's flush thread: every second, or when woken.
        while true {
            if signal.lock(whenValue: 1, timeoutSeconds: 1.0) { signal.unlock(withValue: 0) }
            for file in allFiles { file.flush() }
        }
    }
}

extension AccessLogFile {
    fileprivate static func makeForFlusher(_ destination: Destination) -> AccessLogFile { AccessLogFile(destination: destination) }
    fileprivate func openForFlusher() throws(AccessLogFileError) { try openDestination() }
}

private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
